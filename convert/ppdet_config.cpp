#include "convert/ppdet_config.h"

#include <fstream>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/file_util.h"
#include "weights/json_guard.h"

namespace tx2yolo {
namespace paddle {

namespace {

constexpr int kMaxIncludeDepth = 16;
const char* const kIncludeKeys[] = {"_BASE_", "__BASE__", "_READER_"};

const char* const kVocLabels[20] = {"aeroplane", "bicycle", "bird",  "boat",      "bottle", "bus",         "car",
                                    "cat",       "chair",   "cow",   "diningtable", "dog",  "horse",       "motorbike",
                                    "person",    "pottedplant", "sheep", "sofa",   "train",  "tvmonitor"};
const char* const kCocoLabels[80] = {
    "person",        "bicycle",      "car",           "motorcycle",    "airplane",     "bus",         "train",
    "truck",         "boat",         "traffic light", "fire hydrant",  "stop sign",    "parking meter", "bench",
    "bird",          "cat",          "dog",           "horse",         "sheep",        "cow",         "elephant",
    "bear",          "zebra",        "giraffe",       "backpack",      "umbrella",     "handbag",     "tie",
    "suitcase",      "frisbee",      "skis",          "snowboard",     "sports ball",  "kite",        "baseball bat",
    "baseball glove", "skateboard",  "surfboard",     "tennis racket", "bottle",       "wine glass",  "cup",
    "fork",          "knife",        "spoon",         "bowl",          "banana",       "apple",       "sandwich",
    "orange",        "broccoli",     "carrot",        "hot dog",       "pizza",        "donut",       "cake",
    "chair",         "couch",        "potted plant",  "bed",           "dining table", "toilet",      "tv",
    "laptop",        "mouse",        "remote",        "keyboard",      "cell phone",   "microwave",   "oven",
    "toaster",       "sink",         "refrigerator",  "book",          "clock",        "vase",        "scissors",
    "teddy bear",    "hair drier",   "toothbrush"};

void merge_into(YAML::Node dst, const YAML::Node& src) {
  for (const auto& kv : src) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node existing = dst[key];
    if (existing && existing.IsMap() && kv.second.IsMap()) {
      merge_into(dst[key], kv.second);
    } else {
      dst[key] = YAML::Clone(kv.second);
    }
  }
}

YAML::Node load_with_bases(const std::string& path, int depth, std::set<std::string>* active, PpdetConfig* out) {
  TX2_REQUIRE(depth < kMaxIncludeDepth, path, ": config includes nest deeper than ", kMaxIncludeDepth);
  TX2_REQUIRE(is_regular_file(path), path, ": config file not found");
  TX2_REQUIRE(!active->count(path), path, ": config includes itself (an _BASE_ cycle)");
  active->insert(path);
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, 16u << 20);
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(bytes.begin(), bytes.end()));
  } catch (const YAML::Exception& e) {
    throw Error(cat(path, ": not valid YAML (", e.mark.is_null() ? std::string() : cat("line ", e.mark.line + 1, ": "),
                    e.msg, ")"));
  }
  TX2_REQUIRE(doc.IsMap(), path, ": a PaddleDetection config is a YAML mapping at the top");
  YAML::Node merged(YAML::NodeType::Map);
  for (const char* key : kIncludeKeys) {
    const YAML::Node inc = doc[key];
    if (!inc) continue;
    std::vector<std::string> bases;
    if (inc.IsScalar()) {
      bases.push_back(inc.as<std::string>());
    } else if (inc.IsSequence()) {
      for (const auto& b : inc) {
        TX2_REQUIRE(b.IsScalar(), path, ": ", key, " lists a non-string entry");
        bases.push_back(b.as<std::string>());
      }
    } else {
      throw Error(cat(path, ": ", key, " must be a file name or a list of file names"));
    }
    for (const std::string& b : bases) {
      const std::string base_path = !b.empty() && b[0] == '/' ? b : path_join(path_dirname(path), b);
      merge_into(merged, load_with_bases(base_path, depth + 1, active, out));
    }
  }
  YAML::Node own(YAML::NodeType::Map);
  for (const auto& kv : doc) {
    const std::string key = kv.first.as<std::string>();
    bool include = false;
    for (const char* k : kIncludeKeys) include = include || key == k;
    if (!include) own[key] = kv.second;
  }
  merge_into(merged, own);
  out->files.push_back(path);
  active->erase(path);
  return merged;
}

// Typed access that names the key on failure.
template <typename T>
T get(const YAML::Node& n, const std::string& key, const std::string& where) {
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    throw Error(cat(where, ": ", key, " has an unexpected value (line ", n.Mark().line + 1, ")"));
  }
}

template <typename T>
void maybe(const YAML::Node& map, const char* key, T* dst, const std::string& where) {
  if (!map || !map.IsMap()) return;
  const YAML::Node v = map[key];
  if (v && !v.IsNull()) *dst = get<T>(v, key, where);
}

// The transform name of a reader entry: {Resize: {...}} (2.x), a tagged
// map !ResizeImage {...} (0.x), or {type: Resize, ...} (infer_cfg.yml).
std::string transform_name(const YAML::Node& t, YAML::Node* params) {
  if (t.IsMap() && t["type"] && t["type"].IsScalar()) {
    *params = t;
    return t["type"].as<std::string>();
  }
  if (!t.Tag().empty() && t.Tag() != "?" && t.Tag() != "!") {
    *params = t;
    std::string tag = t.Tag();
    while (!tag.empty() && tag[0] == '!') tag.erase(0, 1);
    return tag;
  }
  if (t.IsMap() && t.size() == 1) {
    const auto kv = *t.begin();
    *params = kv.second;
    return kv.first.as<std::string>();
  }
  return "";
}

void apply_transforms(const YAML::Node& list, ModelConfig* c, const std::string& where, const std::string& section,
                      PpdetConfig* out) {
  if (!list || !list.IsSequence()) return;
  for (const auto& t : list) {
    YAML::Node p;
    const std::string name = transform_name(t, &p);
    if (name == "Resize" || name == "ResizeImage") {
      const YAML::Node size = p["target_size"];
      if (size && size.IsSequence() && size.size() == 2) {
        c->input_h = get<int>(size[0], "target_size", where);
        c->input_w = get<int>(size[1], "target_size", where);
        out->sources["input_size"] = cat(where, ": ", section, " ", name, ".target_size");
      } else if (size && size.IsScalar()) {
        c->input_h = c->input_w = get<int>(size, "target_size", where);
        out->sources["input_size"] = cat(where, ": ", section, " ", name, ".target_size");
      }
      int interp = 2;
      maybe(p, "interp", &interp, where);
      TX2_REQUIRE(interp == 2, where, ": ", name, " interp ", interp,
                  " is not supported; tx2yolo resizes with cubic interpolation (interp 2), as PaddleDetection's YOLOv3 does");
      bool keep_ratio = false;
      maybe(p, "keep_ratio", &keep_ratio, where);
      TX2_REQUIRE(!keep_ratio, where, ": ", name, " keep_ratio true is not supported (YOLOv3 resizes to the exact size)");
    } else if (name == "NormalizeImage") {
      std::vector<double> mean, std;
      maybe(p, "mean", &mean, where);
      maybe(p, "std", &std, where);
      TX2_REQUIRE(mean.empty() || mean.size() == 3, where, ": NormalizeImage mean needs 3 values");
      TX2_REQUIRE(std.empty() || std.size() == 3, where, ": NormalizeImage std needs 3 values");
      for (std::size_t i = 0; i < mean.size(); ++i) c->preprocess.mean[i] = mean[i];
      for (std::size_t i = 0; i < std.size(); ++i) c->preprocess.std[i] = std[i];
      bool is_scale = true;
      maybe(p, "is_scale", &is_scale, where);
      c->preprocess.scale = is_scale ? 1.0 / 255.0 : 1.0;
      out->sources["normalisation"] = cat(where, ": ", section, " NormalizeImage");
    } else if (name == "Permute") {
      bool to_bgr = false;
      maybe(p, "to_bgr", &to_bgr, where);
      if (to_bgr) c->preprocess.color = "bgr";
    } else if (name == "DecodeImage") {
      bool to_rgb = true;
      maybe(p, "to_rgb", &to_rgb, where);
      if (!to_rgb) c->preprocess.color = c->preprocess.color == "bgr" ? "rgb" : "bgr";
    }
  }
}

void apply_nms(const YAML::Node& n, NmsConfig* nms, const std::string& where, const std::string& key,
               PpdetConfig* out) {
  if (!n || !n.IsMap()) return;
  out->sources["thresholds"] = cat(where, ": ", key);
  maybe(n, "score_threshold", &nms->score_threshold, where);
  maybe(n, "nms_top_k", &nms->nms_top_k, where);
  maybe(n, "keep_top_k", &nms->keep_top_k, where);
  maybe(n, "nms_threshold", &nms->nms_threshold, where);
  maybe(n, "normalized", &nms->normalized, where);
  maybe(n, "nms_eta", &nms->nms_eta, where);
  maybe(n, "background_label", &nms->background_label, where);
}

// The dataset's class names, as PaddleDetection's get_categories finds them:
// TestDataset's anno_path (an ImageFolder's label list, or a COCO
// annotation file), else EvalDataset's label_list (VOCDataSet) or a .json
// anno_path (COCODataSet), under the section's dataset_dir. PaddleDetection
// resolves these from its working directory (the PaddleDetection folder);
// here from the current directory, then from the config's folder and each
// of the four above it. Not found: nothing is set, and the reason is kept
// for the converter's error (PaddleDetection would fall back to VOC or COCO
// names silently; tx2yolo does not).
void apply_dataset_labels(const YAML::Node& cfg, const std::string& path, ModelConfig* c, PpdetConfig* out) {
  for (const char* section : {"TestDataset", "EvalDataset"}) {
    const YAML::Node d = cfg[section];
    if (!d || !d.IsMap()) continue;
    std::string dir, file, key;
    maybe(d, "dataset_dir", &dir, path);
    if (d["label_list"]) {
      key = "label_list";
    } else if (d["anno_path"]) {
      key = "anno_path";
    } else {
      continue;
    }
    maybe(d, key.c_str(), &file, path);
    if (file.empty()) continue;
    if (std::string(section) == "EvalDataset" && key == "anno_path" &&
        (file.size() < 5 || file.compare(file.size() - 5, 5, ".json") != 0))
      continue;  // a VOC image list, not names
    const std::string rel = file[0] == '/' || dir.empty() ? file : path_join(dir, file);
    std::vector<std::string> tried;
    std::string found;
    if (rel[0] == '/') {
      tried.push_back(rel);
      if (is_regular_file(rel)) found = rel;
    } else {
      std::string base = path_dirname(path);
      std::vector<std::string> candidates = {rel};
      for (int up = 0; up <= 4; ++up) {
        candidates.push_back(path_join(base, rel));
        base = path_join(base, "..");
      }
      for (const std::string& cand : candidates) {
        tried.push_back(cand);
        if (is_regular_file(cand)) {
          found = cand;
          break;
        }
      }
    }
    const std::string named = cat(section, ".", key, " ", rel);
    if (found.empty()) {
      out->label_hint = cat(path, " names the dataset's labels as ", named, ", which was not found (from the current "
                            "folder or the config's folder and four above it)");
      return;
    }
    c->classes = read_labels_file(found, static_cast<int>(c->classes.size()));
    out->sources["class_names"] = cat(found, " (", named, " in ", path, ")");
    return;
  }
}

}  // namespace

void apply_postprocess_family(const std::string& family, ModelConfig* c) {
  if (family == "static") {
    c->decode.image_size = "exact";
    c->decode.conf_thresh = 0.01f;
    c->nms.normalized = false;
    c->nms.background_label = -1;
  } else {
    c->decode.image_size = "paddle_truncate";
    c->decode.conf_thresh = 0.005f;
    c->nms.normalized = true;
    c->nms.background_label = static_cast<int>(c->classes.size());
  }
}

namespace {
PpdetConfig apply_ppdet_config_unwrapped(const std::string& path, ModelConfig* c);
}  // namespace

// yaml-cpp's own errors ("operator[] call on a scalar", a bad conversion) on
// a config whose structure is not PaddleDetection's, reported with the file.
PpdetConfig apply_ppdet_config(const std::string& path, ModelConfig* c) {
  try {
    return apply_ppdet_config_unwrapped(path, c);
  } catch (const YAML::Exception& e) {
    throw Error(cat(path, ": not a PaddleDetection config this converter understands (",
                    e.mark.is_null() ? std::string() : cat("line ", e.mark.line + 1, ": "), e.msg, ")"));
  }
}

namespace {
PpdetConfig apply_ppdet_config_unwrapped(const std::string& path, ModelConfig* c) {
  PpdetConfig out;
  out.path = path;
  std::set<std::string> active;
  const YAML::Node cfg = load_with_bases(path, 0, &active, &out);
  const std::string where = path;

  const YAML::Node head = cfg["YOLOv3Head"];
  const bool is_static = cfg["_READER_"] || (head && head["nms"]) ||
                         (cfg["TestReader"] && cfg["TestReader"]["sample_transforms"] &&
                          cfg["TestReader"]["sample_transforms"].IsSequence() &&
                          cfg["TestReader"]["sample_transforms"].size() > 0 &&
                          !cfg["TestReader"]["sample_transforms"][0].Tag().empty() &&
                          cfg["TestReader"]["sample_transforms"][0].Tag() != "?");
  out.family = is_static ? "static" : "dygraph";
  apply_postprocess_family(out.family, c);

  if (cfg["num_classes"]) {
    const int n = get<int>(cfg["num_classes"], "num_classes", where);
    TX2_REQUIRE(n == static_cast<int>(c->classes.size()), where, ": num_classes is ", n, " but the checkpoint's head has ",
                c->classes.size(), " classes");
  }

  // Anchors and masks.
  if (head && head["anchors"]) {
    std::vector<std::vector<float>> anchors;
    std::vector<std::vector<int>> masks = {{6, 7, 8}, {3, 4, 5}, {0, 1, 2}};
    anchors = get<std::vector<std::vector<float>>>(head["anchors"], "YOLOv3Head.anchors", where);
    maybe(head, "anchor_masks", &masks, where);
    TX2_REQUIRE(masks.size() == c->heads.size(), where, ": YOLOv3Head.anchor_masks has ", masks.size(),
                " levels, the model has ", c->heads.size(), " heads");
    for (std::size_t i = 0; i < masks.size(); ++i) {
      c->heads[i].anchors.clear();
      for (int a : masks[i]) {
        TX2_REQUIRE(a >= 0 && a < static_cast<int>(anchors.size()) && anchors[static_cast<std::size_t>(a)].size() == 2,
                    where, ": anchor_masks[", i, "] names anchor ", a, ", but there are ", anchors.size(),
                    " (w, h) anchors");
        c->heads[i].anchors.emplace_back(anchors[static_cast<std::size_t>(a)][0], anchors[static_cast<std::size_t>(a)][1]);
      }
    }
    out.sources["anchors"] = cat(where, ": YOLOv3Head.anchors");
  }

  // Decode and NMS.
  const YAML::Node post = cfg["BBoxPostProcess"];
  if (post) {
    const YAML::Node decode = post["decode"];
    maybe(decode, "conf_thresh", &c->decode.conf_thresh, where);
    maybe(decode, "clip_bbox", &c->decode.clip_bbox, where);
    maybe(decode, "scale_x_y", &c->decode.scale_x_y, where);
    int ratio = 32;
    maybe(decode, "downsample_ratio", &ratio, where);
    for (std::size_t i = 0; i < c->heads.size(); ++i) c->heads[i].downsample = ratio >> i;
    apply_nms(post["nms"], &c->nms, where, "BBoxPostProcess.nms", &out);
  }
  if (cfg["MultiClassNMS"]) apply_nms(cfg["MultiClassNMS"], &c->nms, where, "MultiClassNMS", &out);
  if (head) {
    maybe(head, "scale_x_y", &c->decode.scale_x_y, where);
    maybe(head, "clip_bbox", &c->decode.clip_bbox, where);
    if (head["nms"]) {
      apply_nms(head["nms"], &c->nms, where, "YOLOv3Head.nms", &out);
      c->decode.conf_thresh = c->nms.score_threshold;  // the static head passes it to yolo_box
    }
  }

  // Preprocessing and input size.
  for (const char* reader : {"EvalReader", "TestReader"}) {
    const YAML::Node r = cfg[reader];
    if (!r) continue;
    const YAML::Node shape = r["inputs_def"] ? r["inputs_def"]["image_shape"] : YAML::Node();
    if (shape && shape.IsSequence() && shape.size() == 3 && shape[1].as<int>(-1) > 0 && shape[2].as<int>(-1) > 0) {
      c->input_h = shape[1].as<int>();
      c->input_w = shape[2].as<int>();
      out.sources["input_size"] = cat(where, ": ", reader, ".inputs_def.image_shape");
    }
    apply_transforms(r["sample_transforms"], c, where, reader, &out);
  }
  apply_transforms(cfg["Preprocess"], c, where, "Preprocess", &out);  // infer_cfg.yml
  validate_input_size(c->input_h, c->input_w, where + ": input size");

  // Labels and drawing threshold (infer_cfg.yml).
  if (cfg["label_list"]) {
    const auto labels = get<std::vector<std::string>>(cfg["label_list"], "label_list", where);
    TX2_REQUIRE(labels.size() == c->classes.size(), where, ": label_list has ", labels.size(),
                " names but the checkpoint's head has ", c->classes.size(), " classes");
    c->classes = labels;
    out.sources["class_names"] = cat(where, ": label_list");
  } else {
    apply_dataset_labels(cfg, path, c, &out);
  }
  maybe(cfg, "draw_threshold", &c->draw_threshold, where);
  return out;
}
}  // namespace

const std::vector<std::string>& convert_value_names() {
  static const std::vector<std::string> names = {"anchors", "input_size", "normalisation", "thresholds",
                                                 "class_names"};
  return names;
}

std::vector<std::string> default_labels(int num_classes, std::string* which) {
  std::vector<std::string> out;
  if (num_classes == 20) {
    out.assign(kVocLabels, kVocLabels + 20);
    *which = "VOC";
  } else if (num_classes == 80) {
    out.assign(kCocoLabels, kCocoLabels + 80);
    *which = "COCO";
  } else {
    for (int k = 0; k < num_classes; ++k) out.push_back(cat("class", k));
    *which = "numbered";
  }
  return out;
}

namespace {
// A COCO annotation file's category names, in ascending id order.
std::vector<std::string> coco_category_names(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, 1u << 30);
  const nlohmann::json doc =
      parse_json_members(std::string(bytes.begin(), bytes.end()), path, {"categories"}, {"segmentation"});
  TX2_REQUIRE(doc.contains("categories") && doc["categories"].is_array() && !doc["categories"].empty(), path,
              ": a COCO annotation file with no \"categories\" list");
  std::map<long long, std::string> by_id;
  for (const nlohmann::json& cat_entry : doc["categories"]) {
    TX2_REQUIRE(cat_entry.is_object() && cat_entry.contains("id") && cat_entry["id"].is_number_integer() &&
                    cat_entry.contains("name") && cat_entry["name"].is_string(),
                path, ": a category without an integer \"id\" and a string \"name\"");
    TX2_REQUIRE(by_id.emplace(cat_entry["id"].get<long long>(), cat_entry["name"].get<std::string>()).second, path,
                ": category id ", cat_entry["id"].get<long long>(), " is listed twice");
  }
  std::vector<std::string> names;
  for (const auto& kv : by_id) names.push_back(kv.second);
  return names;
}
}  // namespace

std::vector<std::string> read_labels_file(const std::string& path, int num_classes) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    const std::vector<std::string> names = coco_category_names(path);
    TX2_REQUIRE(static_cast<int>(names.size()) == num_classes, path, ": ", names.size(),
                " categories, but the model has ", num_classes, " classes");
    return names;
  }
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, 1u << 20);
  std::vector<std::string> labels;
  std::string line;
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    if (i == bytes.size() || bytes[i] == '\n') {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
      if (!line.empty()) labels.push_back(line);
      line.clear();
    } else {
      line.push_back(static_cast<char>(bytes[i]));
    }
  }
  TX2_REQUIRE(static_cast<int>(labels.size()) == num_classes, path, ": ", labels.size(),
              " labels, but the model has ", num_classes, " classes");
  return labels;
}

}  // namespace paddle
}  // namespace tx2yolo
