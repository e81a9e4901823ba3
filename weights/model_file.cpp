// The tx2yolo model file: safetensors layout, tx2yolo metadata, validation.
// Spec: docs/model-format.md. Every check below is listed there, in order.
#include "weights/model_file.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/sha256.h"
#include "core/file_util.h"
#include "weights/json_guard.h"

namespace tx2yolo {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the model file stores little-endian fp32; a big-endian host would need byte swaps");
static_assert(sizeof(float) == 4, "the model file stores 4-byte IEEE-754 floats");

namespace {

using nlohmann::json;

constexpr std::uint64_t kHeaderLengthBytes = 8;
constexpr std::uint64_t kDataAlignment = 8;  // safetensors pads the header to 8 bytes

constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kReservedMetadataKeys[] = {"format", "format_version", "graph", "config",
                                                 "provenance"};
// Provenance fields the converter writes; each must be a string when present.
constexpr const char* kProvenanceStringFields[] = {"source", "source_sha256", "converter", "created"};

bool is_reserved_metadata_key(const std::string& key) {
  for (const char* k : kReservedMetadataKeys) {
    if (key == k) return true;
  }
  return false;
}

void append_u64_le(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

const std::string& required_metadata(const std::map<std::string, std::string>& metadata, const char* key,
                                     const std::string& source, const char* expected) {
  const auto it = metadata.find(key);
  TX2_REQUIRE(it != metadata.end(), source, ": __metadata__ has no \"", key, "\" (expected ", expected, ")");
  return it->second;
}

void check_format(const std::map<std::string, std::string>& metadata, const std::string& source) {
  const auto format = metadata.find("format");
  TX2_REQUIRE(format != metadata.end(), source,
              ": __metadata__ has no \"format\"; not a tx2yolo model file (expected format \"", kModelFormatName,
              "\")");
  TX2_REQUIRE(format->second == kModelFormatName, source, ": __metadata__.format is ", quoted(format->second),
              "; not a tx2yolo model file (expected \"", kModelFormatName, "\")");
  const std::string& version =
      required_metadata(metadata, "format_version", source, cat("format_version \"", kModelFormatVersion, "\"").c_str());
  const bool digits = !version.empty() && version.find_first_not_of("0123456789") == std::string::npos &&
                      !(version.size() > 1 && version[0] == '0');
  TX2_REQUIRE(digits, source, ": __metadata__.format_version is ", quoted(version),
              ", not a version number (expected \"", kModelFormatVersion, "\")");
  // More than 9 digits cannot fit an int and is certainly newer.
  const long long v = version.size() > 9 ? -1 : std::stoll(version);
  TX2_REQUIRE(v != -1 && v <= kModelFormatVersion, source, ": format_version ", version,
              ": written by a newer tx2yolo (this build reads format_version ", kModelFormatVersion,
              "); upgrade tx2yolo or convert the model again with this version");
  TX2_REQUIRE(v == kModelFormatVersion, source, ": format_version ", version, " is not supported (expected \"",
              kModelFormatVersion, "\")");
}

// Runs a check owned by graph.cpp / model_config.cpp and prefixes its errors
// with the source name, so that every load error names the file.
template <typename Fn>
auto with_source(const std::string& source, const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(cat(source, ": ", e.what()));
  } catch (const json::exception& e) {
    throw Error(cat(source, ": ", what, ": ", e.what()));
  }
}

void check_provenance(const json& provenance, const std::string& where) {
  TX2_REQUIRE(provenance.is_object(), where, " is a JSON ", provenance.type_name(),
              ", expected an object (source, source_sha256, converter, created, ...)");
  for (const char* field : kProvenanceStringFields) {
    const auto it = provenance.find(field);
    TX2_REQUIRE(it == provenance.end() || it->is_string(), where, ".", field, " is ", short_dump(*it),
                ", expected a string");
  }
}

// JSON text of a value the writer produces; invalid UTF-8 in a string makes
// nlohmann throw, which becomes an Error naming the field.
std::string dump_for_header(const json& v, const std::string& what) {
  try {
    return v.dump();
  } catch (const json::exception& e) {
    throw Error(cat(what, " cannot be written as JSON (", e.what(), ")"));
  }
}

// The writer: checks its inputs, then lays out the bytes. `what` prefixes
// error messages (the output path, or "model file").
std::vector<std::uint8_t> serialize_checked(const Graph& graph, const ModelConfig& config,
                                            const json& provenance,
                                            const std::vector<std::pair<std::string, HostTensor>>& tensors,
                                            const std::map<std::string, std::string>& extra_metadata,
                                            const std::string& what) {
  check_provenance(provenance, cat(what, ": provenance"));
  for (const auto& kv : extra_metadata) {
    TX2_REQUIRE(!is_reserved_metadata_key(kv.first), what, ": extra metadata key ", quoted(kv.first),
                " is reserved (format, format_version, graph, config and provenance are written by tx2yolo)");
  }

  std::set<std::string> names;
  std::uint64_t data_bytes = 0;
  for (const auto& named : tensors) {
    const std::string& name = named.first;
    const HostTensor& t = named.second;
    const std::string where = cat(what, ": tensor ", quoted(name));
    TX2_REQUIRE(!name.empty(), what, ": a tensor has an empty name");
    TX2_REQUIRE(name != kMetadataKey, where, ": the name is reserved for the safetensors metadata");
    TX2_REQUIRE(names.insert(name).second, where, ": the name appears more than once");
    const auto numel = static_cast<std::uint64_t>(safetensors_numel(t.shape, where, kMaxModelFileBytes, 4));
    TX2_REQUIRE(t.data.size() == numel, where, ": has ", t.data.size(), " values, but shape ",
                shape_to_string(t.shape), " needs ", numel);
    data_bytes += numel * sizeof(float);
    TX2_REQUIRE(data_bytes <= kMaxModelFileBytes, what, ": tensor data exceeds the model file limit of ",
                kMaxModelFileBytes, " bytes");
  }

  // The header, with __metadata__ first and the tensors in the given order.
  // Written by hand: nlohmann's json sorts object keys.
  std::string header = "{\"__metadata__\":{";
  const auto add_metadata = [&](const std::string& key, const std::string& value, bool first) {
    if (!first) header += ',';
    header += dump_for_header(json(key), cat(what, ": metadata key ", quoted(key)));
    header += ':';
    header += dump_for_header(json(value), cat(what, ": metadata ", quoted(key)));
  };
  add_metadata("format", kModelFormatName, true);
  add_metadata("format_version", std::to_string(kModelFormatVersion), false);
  add_metadata("graph", dump_for_header(graph_to_json(graph), cat(what, ": graph")), false);
  add_metadata("config", dump_for_header(config_to_json(config), cat(what, ": config")), false);
  add_metadata("provenance", dump_for_header(provenance, cat(what, ": provenance")), false);
  for (const auto& kv : extra_metadata) add_metadata(kv.first, kv.second, false);
  header += '}';

  std::uint64_t offset = 0;
  for (const auto& named : tensors) {
    const HostTensor& t = named.second;
    const std::uint64_t bytes = t.data.size() * sizeof(float);
    header += ',';
    header += dump_for_header(json(named.first), cat(what, ": tensor name ", quoted(named.first)));
    header += ":{\"dtype\":\"F32\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) header += cat(i ? "," : "", t.shape[i]);
    header += cat("],\"data_offsets\":[", offset, ",", offset + bytes, "]}");
    offset += bytes;
  }
  header += '}';
  // Pad with spaces so that the data section starts at a multiple of 8.
  while ((kHeaderLengthBytes + header.size()) % kDataAlignment != 0) header += ' ';

  TX2_REQUIRE(header.size() <= kMaxHeaderBytes, what, ": header is ", header.size(),
              " bytes, more than the limit of ", kMaxHeaderBytes);
  const std::uint64_t total = kHeaderLengthBytes + header.size() + data_bytes;
  TX2_REQUIRE(total <= kMaxModelFileBytes, what, ": model is ", total, " bytes, more than the limit of ",
              kMaxModelFileBytes);

  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(total));
  append_u64_le(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& named : tensors) {
    const std::vector<float>& data = named.second.data;
    const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
    out.insert(out.end(), p, p + data.size() * sizeof(float));
  }
  return out;
}

}  // namespace

long long TensorInfo::numel() const {
  return safetensors_numel(shape, cat("tensor ", quoted(name)), kMaxModelFileBytes, 4);
}

ModelFile ModelFile::load(const std::string& path) {
  return parse(read_file_bytes(path, kMaxModelFileBytes), path);
}

ModelFile ModelFile::parse(std::vector<std::uint8_t> bytes, const std::string& source) {
  ModelFile m;
  m.source_ = source;
  m.bytes_ = std::move(bytes);

  const SafetensorsLayout layout = parse_safetensors_header(m.bytes_, source, kMaxModelFileBytes);
  m.data_start_ = layout.data_start;
  const std::uint64_t data_size = layout.data_size;

  // __metadata__ names the tx2yolo format and version. The version is
  // checked before the tensors so that a file from a newer tx2yolo (which
  // may use new dtypes) says so rather than failing on them.
  TX2_REQUIRE(layout.has_metadata, source,
              ": header has no __metadata__; not a tx2yolo model file (expected __metadata__ with format \"",
              kModelFormatName, "\")");
  m.metadata_ = layout.metadata;
  check_format(m.metadata_, source);

  // Tensor entries, then their layout in the data section.
  for (const SafetensorsEntry& e : parse_safetensors_entries(layout, source, {"F32"},
                                                             "this version of tx2yolo reads F32 only",
                                                             kMaxModelFileBytes)) {
    TensorInfo t;
    t.name = e.name;
    t.shape = e.shape;
    t.begin = e.begin;
    t.end = e.end;
    m.tensors_.push_back(t);
  }
  for (std::size_t i = 0; i < m.tensors_.size(); ++i) m.index_[m.tensors_[i].name] = i;

  // Graph, config, provenance: JSON documents stored as strings.
  const json graph_json = parse_json_checked(
      required_metadata(m.metadata_, "graph", source, "the graph as a JSON string"), cat(source, ": __metadata__.graph"));
  const json config_json = parse_json_checked(
      required_metadata(m.metadata_, "config", source, "the model config as a JSON string"),
      cat(source, ": __metadata__.config"));
  m.provenance_ = parse_json_checked(
      required_metadata(m.metadata_, "provenance", source, "the provenance as a JSON string"),
      cat(source, ": __metadata__.provenance"));
  check_provenance(m.provenance_, cat(source, ": __metadata__.provenance"));

  m.graph_ = with_source(source, "graph", [&] { return graph_from_json(graph_json); });
  m.config_ = with_source(source, "config", [&] { return config_from_json(config_json); });
  const WeightShapes weights = m.weight_shapes();
  const auto shapes = with_source(source, "graph", [&] {
    return infer_shapes(m.graph_, weights, m.config_.input_h, m.config_.input_w);
  });
  with_source(source, "config", [&] { check_config_against_graph(m.config_, m.graph_, shapes); });

  // tensor_data hands out float pointers into bytes_. The vector's buffer is
  // aligned for any scalar type and our writer puts the data at a multiple of
  // 8; a foreign file whose data section is not 4-aligned has the data moved
  // down over the (already parsed, no longer needed) end of the header.
  const std::uint64_t misalignment = m.data_start_ % alignof(float);
  if (misalignment != 0) {
    const std::uint64_t aligned_start = m.data_start_ - misalignment;
    std::memmove(m.bytes_.data() + aligned_start, m.bytes_.data() + m.data_start_,
                 static_cast<std::size_t>(data_size));
    m.data_start_ = aligned_start;
  }
  TX2_REQUIRE(reinterpret_cast<std::uintptr_t>(m.bytes_.data() + m.data_start_) % alignof(float) == 0, source,
              ": internal error: tensor data is not aligned for float");
  return m;
}

bool ModelFile::has_tensor(const std::string& name) const { return index_.count(name) != 0; }

const TensorInfo& ModelFile::tensor(const std::string& name) const {
  const auto it = index_.find(name);
  TX2_REQUIRE(it != index_.end(), source_, ": no tensor named ", quoted(name), " (the file has ", tensors_.size(),
              " tensors)");
  return tensors_[it->second];
}

const float* ModelFile::tensor_data(const std::string& name) const {
  const TensorInfo& t = tensor(name);
  return reinterpret_cast<const float*>(bytes_.data() + data_start_ + t.begin);
}

WeightShapes ModelFile::weight_shapes() const {
  WeightShapes shapes;
  for (const TensorInfo& t : tensors_) shapes[t.name] = t.shape;
  return shapes;
}

std::vector<std::uint8_t> serialize_model_file(const Graph& graph, const ModelConfig& config,
                                               const nlohmann::json& provenance,
                                               const std::vector<std::pair<std::string, HostTensor>>& tensors,
                                               const std::map<std::string, std::string>& extra_metadata) {
  return serialize_checked(graph, config, provenance, tensors, extra_metadata, "model file");
}

void write_model_file(const std::string& path, const Graph& graph, const ModelConfig& config,
                      const nlohmann::json& provenance,
                      const std::vector<std::pair<std::string, HostTensor>>& tensors,
                      const std::map<std::string, std::string>& extra_metadata) {
  const std::vector<std::uint8_t> bytes = serialize_checked(graph, config, provenance, tensors, extra_metadata, path);
  // The full reader check on the exact bytes, so that a model that would not
  // load is never written. parse() takes its own copy.
  ModelFile::parse(bytes, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

std::string ModelFile::sha256() const { return sha256_hex(bytes_.data(), bytes_.size()); }

}  // namespace tx2yolo
