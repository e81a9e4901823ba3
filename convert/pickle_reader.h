// A safe reader for the subset of Python's pickle format that Paddle's
// `.pdparams` files use (shared/research/paddle-formats.md §4): protocols
// 2, 3 and 4, dicts, lists, tuples, strings, numbers, and numpy arrays.
//
// Nothing in the file is ever executed. A GLOBAL / STACK_GLOBAL may only name
// one of a fixed whitelist of callables (numpy's array reconstruction,
// numpy.dtype, _codecs.encode, bytes, tuple, collections.OrderedDict, and
// the one `eval('data', {'data': x})` form old Paddle used for LoDTensors,
// which is recognised and answered with x, never evaluated); any other global
// is refused with its name before anything else happens. Opcodes that build
// arbitrary objects (NEWOBJ, INST, OBJ, persistent ids, extensions) are
// refused. Every length is checked against the bytes that remain, and the
// memo, stack and nesting are bounded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tx2yolo {
namespace paddle {

// A numpy array as pickled: dtype string ('<f4', '|u1', ...), C-order shape
// and the raw element bytes in C order, little-endian (Fortran-ordered and
// big-endian arrays are converted on read).
struct NdArray {
  char kind = 'f';        // numpy kind: f (float), i (int), u (unsigned), b (bool)
  int itemsize = 4;
  std::vector<long long> shape;
  std::vector<std::uint8_t> data;
  long long numel() const;
  std::string dtype_name() const;  // "float32", "float16", "int64", ...
};

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kDict, kGlobal, kDtype, kNdArray };
  Kind kind = Kind::kNone;
  bool boolean = false;
  long long integer = 0;
  double real = 0;
  std::string text;                                   // string, bytes, "module.name" of a global, dtype string
  std::vector<PickleRef> items;                       // tuple, list
  std::vector<std::pair<PickleRef, PickleRef>> dict;  // in insertion order (later duplicate keys replace)
  NdArray array;                                      // ndarray
  bool array_filled = false;                          // ndarray: BUILD has supplied its state
  char byte_order = '<';                              // dtype: '<', '>' or '|'

  PickleValue() = default;
  PickleValue(const PickleValue&) = delete;
  PickleValue& operator=(const PickleValue&) = delete;
  // Tears nested containers down iteratively, so a hostile file of deeply
  // nested tuples cannot overflow the stack on destruction.
  ~PickleValue();

  const char* kind_name() const;
  bool is_string() const { return kind == Kind::kString; }
  // Dict lookup by string key; nullptr if absent or not a dict.
  const PickleValue* find(const std::string& key) const;
};

// Parses one pickle (up to its STOP opcode; trailing bytes are an error).
// `source` names the input in error messages. Throws Error on anything
// malformed, unsupported or not whitelisted, naming the byte offset.
PickleRef parse_pickle(const std::uint8_t* data, std::size_t size, const std::string& source);

}  // namespace paddle
}  // namespace tx2yolo
