// A minimal protocol-buffers wire-format decoder: enough to walk the
// messages of Paddle's framework.proto (ProgramDesc, TensorDesc) without
// libprotobuf. It yields one field at a time; every length is checked
// against the bytes that remain.
//
//   tag = varint(field_number << 3 | wire_type); wire types 0 varint,
//   1 fixed64, 2 length-delimited, 5 fixed32 (3/4, groups, are refused).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tx2yolo {
namespace paddle {

struct WireField {
  std::uint32_t number = 0;
  int wire_type = 0;
  std::uint64_t value = 0;              // varint, fixed32 or fixed64 payload
  const std::uint8_t* data = nullptr;   // length-delimited payload
  std::size_t size = 0;

  std::int64_t as_int64() const { return static_cast<std::int64_t>(value); }
  // Truncates a (sign-extended) varint to 32 bits, as protobuf does for int32.
  std::int32_t as_int32() const { return static_cast<std::int32_t>(static_cast<std::uint32_t>(value)); }
  float as_float() const;
  double as_double() const;
  std::string as_string() const { return std::string(reinterpret_cast<const char*>(data), size); }
};

class WireReader {
 public:
  // `what` names the message in error messages (e.g. "model.pdmodel: ProgramDesc").
  WireReader(const std::uint8_t* data, std::size_t size, std::string what);
  WireReader(const WireField& f, std::string what) : WireReader(f.data, f.size, std::move(what)) {}

  // Reads the next field; false at the end of the message.
  bool next(WireField* f);
  const std::string& what() const { return what_; }

  // Helpers for repeated scalars, which may be packed (one length-delimited
  // field) or not (one field each).
  static void append_varints(const WireField& f, std::vector<std::int64_t>* out, const std::string& what);
  static void append_fixed32_floats(const WireField& f, std::vector<double>* out, const std::string& what);
  static void append_fixed64_doubles(const WireField& f, std::vector<double>* out, const std::string& what);

 private:
  std::uint64_t varint();
  const std::uint8_t* p_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::string what_;
};

}  // namespace paddle
}  // namespace tx2yolo
