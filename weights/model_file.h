// The tx2yolo model file: a valid safetensors file whose __metadata__ holds
// the graph, the model config and the provenance. Spec: docs/model-format.md.
//
//   [u64 little-endian N][N bytes of JSON header, space padded][tensor data]
//   header = { "__metadata__": { "format": "tx2yolo", "format_version": "1",
//                                "graph": "<json>", "config": "<json>",
//                                "provenance": "<json>" },
//              "<tensor>": { "dtype": "F32", "shape": [...],
//                            "data_offsets": [begin, end] }, ... }
//
// ModelFile::load validates everything before anything is used (see
// docs/model-format.md, "Validation"); every failure is one Error naming the
// file and what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "weights/graph.h"
#include "weights/model_config.h"
#include "weights/safetensors.h"

namespace tx2yolo {

constexpr const char* kModelFormatName = "tx2yolo";
constexpr int kModelFormatVersion = 1;
constexpr std::uint64_t kMaxModelFileBytes = 2ull << 30;    // 2 GiB
constexpr int kMaxJsonDepth = 64;
// JSON values (objects, arrays, strings, numbers, ...) in one document read
// from a file: a model header holds about a thousand, a PIR program about
// 22,000; a hostile header of millions is refused before it is built.
constexpr std::size_t kMaxJsonValues = 1000000;

enum class DType { kF32 };

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<long long> shape;
  std::uint64_t begin = 0;  // byte offsets into the data section
  std::uint64_t end = 0;
  long long numel() const;
};

// A tensor to write: shape and fp32 values (numel(shape) of them).
struct HostTensor {
  std::vector<long long> shape;
  std::vector<float> data;
};

class ModelFile {
 public:
  // Reads and validates a model file. `path` is used in error messages.
  static ModelFile load(const std::string& path);
  // Validates bytes already in memory; `source` names them in error messages.
  static ModelFile parse(std::vector<std::uint8_t> bytes, const std::string& source);

  const std::string& source() const { return source_; }
  const Graph& graph() const { return graph_; }
  const ModelConfig& config() const { return config_; }
  const nlohmann::json& provenance() const { return provenance_; }
  // All __metadata__ entries (string values), including graph/config/provenance.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in data-offset order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  bool has_tensor(const std::string& name) const;
  const TensorInfo& tensor(const std::string& name) const;  // throws Error if absent
  const float* tensor_data(const std::string& name) const;  // throws Error if absent
  WeightShapes weight_shapes() const;
  std::uint64_t file_bytes() const { return bytes_.size(); }
  // SHA-256 of the whole file as loaded (hex), computed from the bytes in memory.
  std::string sha256() const;

 private:
  std::string source_;
  std::vector<std::uint8_t> bytes_;
  std::uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
  Graph graph_;
  ModelConfig config_;
  nlohmann::json provenance_;
};

// Writes a model file atomically (temporary file, then rename). Validates the
// result the same way ModelFile::load does before it is renamed into place,
// so a file that would not load is never written. Tensors are written in the
// order given. extra_metadata entries are added to __metadata__ (keys must not
// clash with the reserved ones).
void write_model_file(const std::string& path, const Graph& graph, const ModelConfig& config,
                      const nlohmann::json& provenance,
                      const std::vector<std::pair<std::string, HostTensor>>& tensors,
                      const std::map<std::string, std::string>& extra_metadata = {});

// Serialises to bytes (the same bytes write_model_file writes).
std::vector<std::uint8_t> serialize_model_file(
    const Graph& graph, const ModelConfig& config, const nlohmann::json& provenance,
    const std::vector<std::pair<std::string, HostTensor>>& tensors,
    const std::map<std::string, std::string>& extra_metadata = {});

}  // namespace tx2yolo
