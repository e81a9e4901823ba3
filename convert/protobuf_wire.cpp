#include "convert/protobuf_wire.h"

#include <cstring>

#include "core/error.h"

namespace tx2yolo {
namespace paddle {

float WireField::as_float() const {
  const auto bits = static_cast<std::uint32_t>(value);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

double WireField::as_double() const {
  double d;
  std::memcpy(&d, &value, 8);
  return d;
}

WireReader::WireReader(const std::uint8_t* data, std::size_t size, std::string what)
    : p_(data), size_(size), what_(std::move(what)) {}

std::uint64_t WireReader::varint() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    TX2_REQUIRE(pos_ < size_, what_, ": protobuf is truncated inside a varint at byte ", pos_);
    const std::uint8_t b = p_[pos_++];
    if (shift == 63) TX2_REQUIRE(b <= 1, what_, ": malformed protobuf varint (more than 64 bits) at byte ", pos_ - 1);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  throw Error(cat(what_, ": malformed protobuf varint (longer than 10 bytes) at byte ", pos_));
}

bool WireReader::next(WireField* f) {
  if (pos_ >= size_) return false;
  const std::size_t at = pos_;
  const std::uint64_t tag = varint();
  f->number = static_cast<std::uint32_t>(tag >> 3);
  f->wire_type = static_cast<int>(tag & 7);
  TX2_REQUIRE(f->number != 0 && (tag >> 3) <= 0x1FFFFFFF, what_, ": malformed protobuf tag (field number ", tag >> 3,
              ") at byte ", at);
  f->data = nullptr;
  f->size = 0;
  f->value = 0;
  switch (f->wire_type) {
    case 0:
      f->value = varint();
      return true;
    case 1:
    case 5: {
      const std::size_t n = f->wire_type == 1 ? 8 : 4;
      TX2_REQUIRE(n <= size_ - pos_, what_, ": protobuf is truncated inside field ", f->number, " at byte ", at);
      for (std::size_t i = 0; i < n; ++i) f->value |= static_cast<std::uint64_t>(p_[pos_ + i]) << (8 * i);
      pos_ += n;
      return true;
    }
    case 2: {
      const std::uint64_t n = varint();
      TX2_REQUIRE(n <= size_ - pos_, what_, ": protobuf field ", f->number, " at byte ", at, " claims ", n,
                  " bytes, but only ", size_ - pos_, " remain");
      f->data = p_ + pos_;
      f->size = static_cast<std::size_t>(n);
      pos_ += static_cast<std::size_t>(n);
      return true;
    }
    default:
      throw Error(cat(what_, ": unsupported protobuf wire type ", f->wire_type, " for field ", f->number, " at byte ",
                      at, " (not a Paddle program, or corrupt)"));
  }
}

void WireReader::append_varints(const WireField& f, std::vector<std::int64_t>* out, const std::string& what) {
  if (f.wire_type == 0) {
    out->push_back(f.as_int64());
    return;
  }
  TX2_REQUIRE(f.wire_type == 2, what, ": field ", f.number, " has wire type ", f.wire_type,
              ", expected varints");
  WireReader r(f.data, f.size, what);
  while (r.pos_ < r.size_) out->push_back(static_cast<std::int64_t>(r.varint()));
}

namespace {
template <int kBytes>
void append_fixed(const WireField& f, std::vector<double>* out, const std::string& what) {
  const int expected_type = kBytes == 4 ? 5 : 1;
  if (f.wire_type == expected_type) {
    out->push_back(kBytes == 4 ? static_cast<double>(f.as_float()) : f.as_double());
    return;
  }
  TX2_REQUIRE(f.wire_type == 2 && f.size % kBytes == 0, what, ": field ", f.number, " is not a list of ",
              kBytes == 4 ? "floats" : "doubles");
  for (std::size_t i = 0; i < f.size; i += kBytes) {
    WireField one;
    for (int b = 0; b < kBytes; ++b) one.value |= static_cast<std::uint64_t>(f.data[i + static_cast<std::size_t>(b)]) << (8 * b);
    out->push_back(kBytes == 4 ? static_cast<double>(one.as_float()) : one.as_double());
  }
}
}  // namespace

void WireReader::append_fixed32_floats(const WireField& f, std::vector<double>* out, const std::string& what) {
  append_fixed<4>(f, out, what);
}

void WireReader::append_fixed64_doubles(const WireField& f, std::vector<double>* out, const std::string& what) {
  append_fixed<8>(f, out, what);
}

}  // namespace paddle
}  // namespace tx2yolo
