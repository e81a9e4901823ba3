// One parameter read from a Paddle checkpoint, converted to float32, and the
// Paddle tensor-record reader (LoDTensor / DenseTensor stream format,
// shared/research/paddle-formats.md §1) that per-variable files, combined
// `__params__` / `.pdiparams` files and the records inside them share.
//
// Record: u32 version (0) | u64 lod_level | lod_level x (u64 n, n bytes) |
//         u32 version (0) | i32 L | L bytes TensorDesc protobuf
//         {1: data_type enum, 2: repeated int64 dims} | numel x elem bytes,
//         little-endian, C order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tx2yolo {
namespace paddle {

struct ParamTensor {
  std::string name;
  std::vector<long long> shape;
  std::vector<float> values;     // empty when !is_float
  std::string source_dtype;      // "float32", "float16", "float64", "bfloat16", "int64", ...
  bool is_float = true;          // integer and bool tensors are kept by name but carry no values
  long long numel() const;
};

// Converts raw little-endian C-order elements to float32. kind is numpy's
// ('f', 'i', 'u', 'b') or 'B' for bfloat16; float16/bfloat16 convert exactly,
// float64 rounds to nearest. Integer and bool tensors get is_float = false.
// Throws Error if the byte count does not match the shape.
ParamTensor make_param_tensor(const std::string& name, const std::vector<long long>& shape, char kind, int itemsize,
                              const std::uint8_t* data, std::size_t bytes, const std::string& source);

// Paddle VarType.Type codes for tensor elements.
enum PaddleDataType : int {
  kPdBool = 0, kPdInt16 = 1, kPdInt32 = 2, kPdInt64 = 3, kPdFp16 = 4, kPdFp32 = 5, kPdFp64 = 6,
  kPdUint8 = 20, kPdInt8 = 21, kPdBf16 = 22,
};
// Name of a Paddle data type code, e.g. "float32"; "type <n>" when unknown.
std::string paddle_dtype_name(int code);

struct TensorRecord {
  int dtype = -1;
  std::vector<long long> dims;
  const std::uint8_t* data = nullptr;  // points into the caller's buffer
  std::size_t bytes = 0;
  std::size_t offset = 0;              // where the record began
};

// Reads the record that starts at *offset and advances *offset past it.
// Throws Error naming `source` and the offset on anything malformed or
// truncated.
TensorRecord read_tensor_record(const std::uint8_t* data, std::size_t size, std::size_t* offset,
                                const std::string& source);

// The record's payload as a named float32 parameter.
ParamTensor record_to_param(const TensorRecord& r, const std::string& name, const std::string& source);

}  // namespace paddle
}  // namespace tx2yolo
