#include "convert/param_tensor.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "convert/protobuf_wire.h"
#include "weights/graph.h"

namespace tx2yolo {
namespace paddle {

namespace {

constexpr long long kMaxParamElements = 1ll << 31;

float half_to_float(std::uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  float v;
  if (exponent == 0) {
    v = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    v = mantissa ? std::nanf("") : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }
  return sign ? -v : v;
}

long long checked_numel(const std::vector<long long>& shape, const std::string& what) {
  long long n = 1;
  for (long long d : shape) {
    TX2_REQUIRE(d >= 0, what, ": negative dimension in shape ", shape_to_string(shape));
    TX2_REQUIRE(d == 0 || n <= kMaxParamElements / d, what, ": shape ", shape_to_string(shape),
                " has more than ", kMaxParamElements, " elements");
    n *= d;
  }
  return n;
}

std::uint32_t u32_le(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint64_t u64_le(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(u32_le(p)) | static_cast<std::uint64_t>(u32_le(p + 4)) << 32;
}

}  // namespace

long long ParamTensor::numel() const {
  long long n = 1;
  for (long long d : shape) n *= d;
  return n;
}

ParamTensor make_param_tensor(const std::string& name, const std::vector<long long>& shape, char kind, int itemsize,
                              const std::uint8_t* data, std::size_t bytes, const std::string& source) {
  ParamTensor t;
  t.name = name;
  t.shape = shape;
  const std::string what = cat(source, ": parameter ", name);
  const long long n = checked_numel(shape, what);
  TX2_REQUIRE(static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(itemsize) == bytes, what, ": shape ",
              shape_to_string(shape), " needs ", n * itemsize, " bytes, but ", bytes, " are stored");
  switch (kind) {
    case 'f': t.source_dtype = cat("float", itemsize * 8); break;
    case 'B': t.source_dtype = "bfloat16"; break;
    case 'i': t.source_dtype = cat("int", itemsize * 8); break;
    case 'u': t.source_dtype = cat("uint", itemsize * 8); break;
    default: t.source_dtype = "bool"; break;
  }
  const bool is_float = (kind == 'f' && (itemsize == 2 || itemsize == 4 || itemsize == 8)) ||
                        (kind == 'B' && itemsize == 2);
  t.is_float = is_float;
  if (!is_float) return t;
  t.values.resize(static_cast<std::size_t>(n));
  for (long long i = 0; i < n; ++i) {
    const std::uint8_t* p = data + static_cast<std::size_t>(i) * static_cast<std::size_t>(itemsize);
    float v;
    if (kind == 'B') {
      const std::uint32_t bits = (static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8) << 16;
      std::memcpy(&v, &bits, 4);
    } else if (itemsize == 2) {
      v = half_to_float(static_cast<std::uint16_t>(p[0] | p[1] << 8));
    } else if (itemsize == 4) {
      const std::uint32_t bits = u32_le(p);
      std::memcpy(&v, &bits, 4);
    } else {
      const std::uint64_t bits = u64_le(p);
      double d;
      std::memcpy(&d, &bits, 8);
      v = static_cast<float>(d);
    }
    t.values[static_cast<std::size_t>(i)] = v;
  }
  return t;
}

std::string paddle_dtype_name(int code) {
  switch (code) {
    case kPdBool: return "bool";
    case kPdInt16: return "int16";
    case kPdInt32: return "int32";
    case kPdInt64: return "int64";
    case kPdFp16: return "float16";
    case kPdFp32: return "float32";
    case kPdFp64: return "float64";
    case kPdUint8: return "uint8";
    case kPdInt8: return "int8";
    case kPdBf16: return "bfloat16";
    default: return cat("type ", code);
  }
}

TensorRecord read_tensor_record(const std::uint8_t* data, std::size_t size, std::size_t* offset,
                                const std::string& source) {
  TensorRecord r;
  r.offset = *offset;
  std::size_t pos = *offset;
  const std::string where = cat(source, ": tensor record at byte ", r.offset);
  auto need = [&](std::uint64_t n, const char* what) {
    TX2_REQUIRE(n <= size - pos, where, " is truncated: ", what, " needs ", n, " bytes, ", size - pos, " remain");
  };
  need(4, "the version");
  const std::uint32_t version = u32_le(data + pos);
  TX2_REQUIRE(version == 0, where, ": version ", version, ", expected 0 (not a Paddle tensor file?)");
  pos += 4;
  need(8, "the LoD level count");
  const std::uint64_t lod_levels = u64_le(data + pos);
  pos += 8;
  TX2_REQUIRE(lod_levels <= 16, where, ": LoD level count ", lod_levels, " is implausible (expected 0)");
  for (std::uint64_t l = 0; l < lod_levels; ++l) {
    need(8, "a LoD level size");
    const std::uint64_t n = u64_le(data + pos);
    pos += 8;
    need(n, "a LoD level");
    pos += static_cast<std::size_t>(n);
  }
  need(4, "the tensor version");
  const std::uint32_t tensor_version = u32_le(data + pos);
  TX2_REQUIRE(tensor_version == 0, where, ": tensor version ", tensor_version, ", expected 0");
  pos += 4;
  need(4, "the TensorDesc length");
  const auto desc_len = static_cast<std::int32_t>(u32_le(data + pos));
  pos += 4;
  TX2_REQUIRE(desc_len >= 0, where, ": negative TensorDesc length ", desc_len);
  need(static_cast<std::uint64_t>(desc_len), "the TensorDesc");
  WireReader desc(data + pos, static_cast<std::size_t>(desc_len), where + ": TensorDesc");
  pos += static_cast<std::size_t>(desc_len);
  WireField f;
  std::vector<std::int64_t> dims;
  while (desc.next(&f)) {
    if (f.number == 1 && f.wire_type == 0) r.dtype = f.as_int32();
    if (f.number == 2) WireReader::append_varints(f, &dims, desc.what());
  }
  TX2_REQUIRE(r.dtype >= 0, where, ": TensorDesc has no data type");
  for (std::int64_t d : dims) r.dims.push_back(d);
  int elem = 0;
  switch (r.dtype) {
    case kPdBool: case kPdUint8: case kPdInt8: elem = 1; break;
    case kPdInt16: case kPdFp16: case kPdBf16: elem = 2; break;
    case kPdInt32: case kPdFp32: elem = 4; break;
    case kPdInt64: case kPdFp64: elem = 8; break;
    default:
      throw Error(cat(where, ": unsupported data type ", paddle_dtype_name(r.dtype)));
  }
  const long long n = checked_numel(r.dims, where);
  const std::uint64_t bytes = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(elem);
  need(bytes, cat("the ", shape_to_string(r.dims), " ", paddle_dtype_name(r.dtype), " payload").c_str());
  r.data = data + pos;
  r.bytes = static_cast<std::size_t>(bytes);
  pos += r.bytes;
  *offset = pos;
  return r;
}

ParamTensor record_to_param(const TensorRecord& r, const std::string& name, const std::string& source) {
  char kind = 'f';
  int itemsize = 4;
  switch (r.dtype) {
    case kPdFp16: itemsize = 2; break;
    case kPdFp32: break;
    case kPdFp64: itemsize = 8; break;
    case kPdBf16: kind = 'B'; itemsize = 2; break;
    case kPdBool: kind = 'b'; itemsize = 1; break;
    case kPdUint8: kind = 'u'; itemsize = 1; break;
    case kPdInt8: kind = 'i'; itemsize = 1; break;
    case kPdInt16: kind = 'i'; itemsize = 2; break;
    case kPdInt32: kind = 'i'; itemsize = 4; break;
    default: kind = 'i'; itemsize = 8; break;
  }
  return make_param_tensor(name, r.dims, kind, itemsize, r.data, r.bytes, source);
}

}  // namespace paddle
}  // namespace tx2yolo
