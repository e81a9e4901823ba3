// The safetensors container, read generically: the 8-byte header length,
// the JSON header (bounded parser: depth, duplicate keys), __metadata__ as
// strings, tensor entries with their dtype, shape and data_offsets, and the
// layout check (tensors tile the data section exactly). The tx2yolo model
// file (model_file.h) is a safetensors file that allows F32 only; reference
// files (scripts/paddle/dump_reference.py) also hold U8 and I32 tensors.
// Spec of the checks: docs/model-format.md, "Validation".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tx2yolo {

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // 100 MiB, as safetensors

struct SafetensorsEntry {
  std::string name;
  std::string dtype;        // "F32", "U8", ...
  int itemsize = 4;
  std::vector<long long> shape;
  std::uint64_t begin = 0;  // byte offsets into the data section
  std::uint64_t end = 0;
};

struct SafetensorsLayout {
  std::uint64_t data_start = 0;  // byte offset of the data section in the file
  std::uint64_t data_size = 0;
  bool has_metadata = false;
  std::map<std::string, std::string> metadata;
  nlohmann::json header;         // the parsed header (tensor entries and __metadata__)
};

// Header length, JSON and __metadata__ (an object of strings when present).
// Throws Error naming `source`.
SafetensorsLayout parse_safetensors_header(const std::vector<std::uint8_t>& bytes, const std::string& source,
                                           std::uint64_t max_file_bytes);

// The tensor entries, each checked (dtype in `allowed`, shape, byte count),
// then their layout; returned in data-offset order. `refusal` ends the
// message for a valid safetensors dtype that is not allowed.
std::vector<SafetensorsEntry> parse_safetensors_entries(const SafetensorsLayout& layout, const std::string& source,
                                                        const std::vector<std::string>& allowed,
                                                        const std::string& refusal, std::uint64_t max_file_bytes);

// Element count of a shape, bounded by what a file of max_file_bytes of
// itemsize-byte elements can hold; throws Error(what: ...).
long long safetensors_numel(const std::vector<long long>& shape, const std::string& what, std::uint64_t max_file_bytes,
                            int itemsize);

// For messages: a name in quotes with control bytes escaped, and a JSON value cut short.
std::string quoted(const std::string& s);
std::string short_dump(const nlohmann::json& v);

}  // namespace tx2yolo
