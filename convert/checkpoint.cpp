#include "convert/checkpoint.h"

#include <algorithm>

#include "core/error.h"
#include "core/file_util.h"
#include "convert/pickle_reader.h"
#include "weights/graph.h"

namespace tx2yolo {
namespace paddle {

namespace {

constexpr std::uint64_t kMaxCheckpointBytes = 4ull << 30;
constexpr int kMaxVariableDirDepth = 8;
const char* const kStructuredNames = "StructuredToParameterName@@";
const char* const kBigParamInfo = "UnpackBigParamInfor@@";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::uint8_t> read_all(const std::string& path) { return read_file_bytes(path, kMaxCheckpointBytes); }

// First bytes of a file, for sniffing (empty if unreadable).
std::vector<std::uint8_t> head_bytes(const std::string& path, std::size_t n) {
  std::vector<std::uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  out.resize(n);
  out.resize(std::fread(out.data(), 1, n, f));
  std::fclose(f);
  return out;
}

bool looks_like_pickle(const std::vector<std::uint8_t>& h) { return h.size() >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5; }
bool looks_like_record(const std::vector<std::uint8_t>& h) {
  return h.size() >= 16 && h[0] == 0 && h[1] == 0 && h[2] == 0 && h[3] == 0;
}

// Files of a folder that are not checkpoint data (configs, notes, other formats).
bool is_side_file(const std::string& path) {
  const std::string base = path_basename(path);
  if (base.empty() || base[0] == '.') return true;
  for (const char* ext : {".yml", ".yaml", ".txt", ".md", ".json", ".pdopt", ".pdparams", ".pdmodel", ".pdiparams",
                          ".info", ".pdema", ".jpg", ".png"}) {
    if (ends_with(base, ext)) return true;
  }
  return base == "__model__" || base == "__params__";
}

std::vector<std::string> files_with_suffix(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const std::string& f : list_directory_files(dir))
    if (ends_with(f, suffix)) out.push_back(f);
  return out;
}

void add_param(Checkpoint* c, ParamTensor t, const std::string& source) {
  TX2_REQUIRE(!c->params.count(t.name), source, ": parameter ", t.name, " appears twice");
  c->order.push_back(t.name);
  const std::string name = t.name;
  c->params.emplace(name, std::move(t));
}

// ---- pickle (.pdparams) ----------------------------------------------------

ParamTensor array_param(const std::string& name, const NdArray& a, const std::string& source) {
  return make_param_tensor(name, a.shape, a.kind == 'b' ? 'b' : a.kind, a.itemsize, a.data.data(), a.data.size(),
                           source);
}

bool is_filled_array(const PickleValue& v) { return v.kind == PickleValue::Kind::kNdArray && v.array_filled; }

// (name, ndarray), as paddle.save pickles a Tensor outside a plain state dict.
bool is_named_array(const PickleValue& v) {
  return v.kind == PickleValue::Kind::kTuple && v.items.size() == 2 && v.items[0]->is_string() &&
         is_filled_array(*v.items[1]);
}

bool holds_arrays(const PickleValue& dict) {
  for (const auto& e : dict.dict)
    if (is_filled_array(*e.second) || is_named_array(*e.second)) return true;
  return false;
}

// Re-joins tensors that paddle.save split into 1-D parts (protocol 2/3,
// tensors over 2^30 bytes): info = {key: {"OriginShape": shape, "slices": [part keys]}}.
void join_big_params(Checkpoint* c, const PickleValue& info, const std::string& source) {
  TX2_REQUIRE(info.kind == PickleValue::Kind::kDict, source, ": ", kBigParamInfo, " is a ", info.kind_name(),
              ", expected a dict");
  for (const auto& e : info.dict) {
    TX2_REQUIRE(e.first->is_string(), source, ": ", kBigParamInfo, " has a non-string key");
    const std::string& key = e.first->text;
    const std::string what = cat(source, ": split parameter ", key);
    const PickleValue* shape = e.second->find("OriginShape");
    const PickleValue* slices = e.second->find("slices");
    TX2_REQUIRE(shape && slices && (shape->kind == PickleValue::Kind::kTuple || shape->kind == PickleValue::Kind::kList) &&
                    slices->kind == PickleValue::Kind::kList,
                what, ": expected {\"OriginShape\": shape, \"slices\": [part keys]}");
    ParamTensor joined;
    joined.name = key;
    for (const PickleRef& d : shape->items) {
      TX2_REQUIRE(d->kind == PickleValue::Kind::kInt && d->integer >= 0, what, ": OriginShape holds a non-integer");
      joined.shape.push_back(d->integer);
    }
    bool first = true;
    for (const PickleRef& s : slices->items) {
      TX2_REQUIRE(s->is_string(), what, ": a slice key is not a string");
      const auto it = c->params.find(s->text);
      TX2_REQUIRE(it != c->params.end(), what, ": part ", s->text, " is missing");
      const ParamTensor& part = it->second;
      TX2_REQUIRE(part.shape.size() == 1, what, ": part ", s->text, " has shape ", shape_to_string(part.shape),
                  ", expected 1-D");
      TX2_REQUIRE(first || part.source_dtype == joined.source_dtype, what, ": parts have different dtypes");
      joined.source_dtype = part.source_dtype;
      joined.is_float = part.is_float;
      joined.values.insert(joined.values.end(), part.values.begin(), part.values.end());
      first = false;
      c->params.erase(it);
      c->order.erase(std::remove(c->order.begin(), c->order.end(), s->text), c->order.end());
    }
    long long numel = 1;
    for (long long d : joined.shape) numel *= d;
    TX2_REQUIRE(!joined.is_float || static_cast<long long>(joined.values.size()) == numel, what, ": parts hold ",
                joined.values.size(), " values, OriginShape ", shape_to_string(joined.shape), " needs ", numel);
    add_param(c, std::move(joined), source);
  }
  c->notes.push_back(cat("re-joined ", info.dict.size(), " parameter(s) split by ", kBigParamInfo));
}

void load_pdparams(const std::string& path, Checkpoint* c) {
  const std::vector<std::uint8_t> bytes = read_all(path);
  const PickleRef root = parse_pickle(bytes.data(), bytes.size(), path);
  c->files.push_back(path);
  const PickleValue* dict = root.get();
  if (dict->kind == PickleValue::Kind::kList || dict->kind == PickleValue::Kind::kTuple) {
    // A list of Tensors: each pickled as (name, ndarray).
    for (const PickleRef& item : dict->items) {
      TX2_REQUIRE(is_named_array(*item), path, ": a list entry is a ", item->kind_name(),
                  ", expected (name, array) pairs");
      add_param(c, array_param(item->items[0]->text, item->items[1]->array, path), path);
    }
    TX2_REQUIRE(!c->params.empty(), path, ": the pickled list holds no tensors");
    return;
  }
  TX2_REQUIRE(dict->kind == PickleValue::Kind::kDict, path, ": the pickle holds a ", dict->kind_name(),
              ", expected a state dict (a dict of parameter name -> array)");
  if (!holds_arrays(*dict)) {
    // A checkpoint that wraps the state dict, e.g. {"model": {...}, "epoch": 3}.
    const PickleValue* inner = nullptr;
    std::string inner_key;
    for (const auto& e : dict->dict) {
      if (e.second->kind == PickleValue::Kind::kDict && holds_arrays(*e.second)) {
        TX2_REQUIRE(inner == nullptr, path, ": the pickle holds several state dicts (\"", inner_key, "\" and \"",
                    e.first->text, "\"); expected one");
        inner = e.second.get();
        inner_key = e.first->is_string() ? e.first->text : "?";
      }
    }
    TX2_REQUIRE(inner != nullptr, path, ": the pickled dict holds no arrays; not a Paddle state dict");
    c->notes.push_back(cat("read the state dict under key \"", inner_key, "\""));
    dict = inner;
  }
  const PickleValue* big = nullptr;
  std::vector<std::string> ignored;
  for (const auto& e : dict->dict) {
    TX2_REQUIRE(e.first->is_string(), path, ": a state-dict key is a ", e.first->kind_name(), ", expected a string");
    const std::string& key = e.first->text;
    const PickleValue& v = *e.second;
    if (key == kStructuredNames) continue;
    if (key == kBigParamInfo) {
      big = &v;
    } else if (is_filled_array(v)) {
      add_param(c, array_param(key, v.array, path), path);
    } else if (is_named_array(v)) {
      add_param(c, array_param(key, v.items[1]->array, path), path);
    } else {
      TX2_REQUIRE(v.kind != PickleValue::Kind::kNdArray, path, ": array ", key, " has no data (no BUILD)");
      ignored.push_back(key);
    }
  }
  if (big) join_big_params(c, *big, path);
  if (!ignored.empty()) {
    std::string list;
    for (std::size_t i = 0; i < ignored.size() && i < 8; ++i) list += (i ? ", " : "") + ignored[i];
    c->notes.push_back(cat("ignored ", ignored.size(), " non-tensor entr", ignored.size() == 1 ? "y" : "ies", ": ",
                           list, ignored.size() > 8 ? ", ..." : ""));
  }
}

// ---- tensor records ----------------------------------------------------------

ParamTensor read_single_record_file(const std::string& file, const std::string& name) {
  const std::vector<std::uint8_t> bytes = read_all(file);
  std::size_t offset = 0;
  const TensorRecord r = read_tensor_record(bytes.data(), bytes.size(), &offset, file);
  TX2_REQUIRE(offset == bytes.size(), file, ": ", bytes.size() - offset,
              " bytes after the tensor record (expected one record per file)");
  return record_to_param(r, name, file);
}

void load_static_dir(const std::string& dir, Checkpoint* c) {
  const std::string prefix = dir + "/";
  for (const std::string& file : list_directory_files(dir, kMaxVariableDirDepth)) {
    if (is_side_file(file)) continue;
    // Variable names may contain '/', which save_vars turns into sub-folders.
    const std::string name = file.compare(0, prefix.size(), prefix) == 0 ? file.substr(prefix.size()) : file;
    add_param(c, read_single_record_file(file, name), dir);
    c->files.push_back(file);
  }
  TX2_REQUIRE(!c->params.empty(), dir, ": no Paddle tensor files in this folder");
}

// ---- program + combined params --------------------------------------------------

void check_against_var(const ParamTensor& t, const ProgramVar* v, const std::string& source) {
  TX2_REQUIRE(v != nullptr, source, ": parameter ", t.name, " is not a variable of the program");
  TX2_REQUIRE(v->dims == t.shape, source, ": parameter ", t.name, " has shape ", shape_to_string(t.shape),
              " in the params file but ", shape_to_string(v->dims), " in the program");
}

bool is_pir_json(const std::string& path) { return ends_with(path, ".json"); }

void load_program_format(const std::string& model_path, const std::string& params_path, Checkpoint* c) {
  const std::vector<std::uint8_t> model = read_all(model_path);
  c->program = is_pir_json(model_path)
                   ? parse_pir_json(std::string(model.begin(), model.end()), model_path)
                   : parse_program_desc(model.data(), model.size(), model_path);
  c->has_program = true;
  c->files.push_back(model_path);
  const std::vector<std::string> names = c->program.sorted_parameter_names();
  TX2_REQUIRE(!names.empty(), model_path, ": the program has no persistable parameters");
  if (params_path.empty()) {
    // __model__ with one file per variable beside it (fluid save_inference_model without params_filename).
    const std::string dir = path_dirname(model_path);
    for (const std::string& name : names) {
      const std::string file = path_join(dir, name);
      TX2_REQUIRE(is_regular_file(file), model_path, ": parameter ", name, " has no file ", file,
                  " (and there is no __params__ file)");
      ParamTensor t = read_single_record_file(file, name);
      check_against_var(t, c->program.var(name), file);
      add_param(c, std::move(t), dir);
    }
    return;
  }
  const std::vector<std::uint8_t> params = read_all(params_path);
  c->files.push_back(params_path);
  std::size_t offset = 0;
  for (const std::string& name : names) {
    TX2_REQUIRE(offset < params.size(), params_path, ": ends after ", c->params.size(), " tensors, but the program ",
                model_path, " lists ", names.size(), " parameters (next: ", name, ")");
    const TensorRecord r = read_tensor_record(params.data(), params.size(), &offset, params_path);
    ParamTensor t = record_to_param(r, name, params_path);
    check_against_var(t, c->program.var(name), params_path);
    add_param(c, std::move(t), params_path);
  }
  TX2_REQUIRE(offset == params.size(), params_path, ": ", params.size() - offset,
              " bytes after the last of the program's ", names.size(),
              " parameters (the params file does not belong to this program?)");
}

// The (model, params) pair for a path naming either file or their folder.
std::pair<std::string, std::string> program_files(const std::string& path) {
  if (is_directory(path)) {
    if (is_regular_file(path_join(path, "__model__"))) return program_files(path_join(path, "__model__"));
    const auto models = files_with_suffix(path, ".pdmodel");
    const auto jsons = files_with_suffix(path, ".json");
    TX2_REQUIRE(models.size() == 1 || (models.empty() && jsons.size() == 1), path,
                ": expected one .pdmodel, one PIR .json or a __model__ file, found ", models.size(), " .pdmodel and ",
                jsons.size(), " .json");
    return program_files(models.empty() ? jsons[0] : models[0]);
  }
  const std::string base = path_basename(path);
  const std::string dir = path_dirname(path);
  if (base == "__model__" || base == "__params__") {
    const std::string params = path_join(dir, "__params__");
    return {path_join(dir, "__model__"), is_regular_file(params) ? params : std::string()};
  }
  std::string stem = path;
  for (const char* ext : {".pdmodel", ".pdiparams", ".json"})
    if (ends_with(path, ext)) stem = path.substr(0, path.size() - std::string(ext).size());
  // Paddle 3 writes <prefix>.json where Paddle 2 wrote <prefix>.pdmodel.
  const std::string model = is_regular_file(stem + ".pdmodel") || !is_regular_file(stem + ".json")
                                ? stem + ".pdmodel"
                                : stem + ".json";
  const std::string params = stem + ".pdiparams";
  TX2_REQUIRE(is_regular_file(model), path, ": no program file ", model, " beside it");
  TX2_REQUIRE(is_regular_file(params), path, ": no parameters file ", params, " beside it");
  return {model, params};
}

}  // namespace

const ParamTensor* Checkpoint::find(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

const std::vector<std::string>& checkpoint_formats() {
  static const std::vector<std::string> formats = {"pdparams", "static-dir", "pdmodel", "pir-json"};
  return formats;
}

std::string detect_checkpoint_format(const std::string& path) {
  TX2_REQUIRE(file_exists(path), path, ": no such file or folder");
  if (is_directory(path)) {
    if (is_regular_file(path_join(path, "__model__")) || !files_with_suffix(path, ".pdmodel").empty()) return "pdmodel";
    if (!files_with_suffix(path, ".json").empty() && !files_with_suffix(path, ".pdiparams").empty()) return "pir-json";
    for (const std::string& f : list_directory_files(path, kMaxVariableDirDepth)) {
      if (!is_side_file(f) && looks_like_record(head_bytes(f, 16))) return "static-dir";
    }
    const auto pdparams = files_with_suffix(path, ".pdparams");
    TX2_REQUIRE(pdparams.empty(), path, ": a folder with ", pdparams.size(),
                " .pdparams file(s); name the .pdparams file itself");
    throw Error(cat(path, ": no Paddle checkpoint found in this folder (expected a __model__ or .pdmodel program, "
                          "or per-variable tensor files)"));
  }
  const std::string base = path_basename(path);
  if (ends_with(base, ".pdmodel") || base == "__model__" || base == "__params__") return "pdmodel";
  if (ends_with(base, ".pdiparams")) {
    const std::string stem = path.substr(0, path.size() - 10);
    return is_regular_file(stem + ".pdmodel") || !is_regular_file(stem + ".json") ? "pdmodel" : "pir-json";
  }
  const std::vector<std::uint8_t> head = head_bytes(path, 16);
  if (looks_like_pickle(head)) return "pdparams";
  if (ends_with(base, ".json") && !head.empty() && head[0] == '{') return "pir-json";
  if (!head.empty() && head[0] == 0x0A) return "pdmodel";
  throw Error(cat(path, ": not a Paddle checkpoint this tool recognises (expected a pickled .pdparams, a .pdmodel + "
                        ".pdiparams pair, a __model__ file, or a folder of per-variable files)"));
}

Checkpoint load_checkpoint(const std::string& path, const std::string& format_in) {
  const std::string format = format_in.empty() ? detect_checkpoint_format(path) : format_in;
  const auto& known = checkpoint_formats();
  TX2_REQUIRE(std::find(known.begin(), known.end(), format) != known.end(), "unknown checkpoint format \"", format,
              "\" (expected pdparams, static-dir, pdmodel or pir-json)");
  TX2_REQUIRE(file_exists(path), path, ": no such file or folder");
  Checkpoint c;
  c.format = format;
  if (format == "pdparams") {
    TX2_REQUIRE(is_regular_file(path), path, ": --format pdparams needs a file");
    load_pdparams(path, &c);
  } else if (format == "static-dir") {
    TX2_REQUIRE(is_directory(path), path, ": --format static-dir needs a folder");
    load_static_dir(path, &c);
  } else {
    const auto files = program_files(path);
    TX2_REQUIRE(is_pir_json(files.first) == (format == "pir-json"), path, ": --format ", format, " but the program is ",
                files.first);
    load_program_format(files.first, files.second, &c);
  }
  return c;
}

}  // namespace paddle
}  // namespace tx2yolo
