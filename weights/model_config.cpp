#include "weights/model_config.h"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "weights/graph.h"
#include "weights/json_guard.h"

namespace tx2yolo {

using json = nlohmann::json;

void validate_input_size(int h, int w, const std::string& what) {
  TX2_REQUIRE(h > 0 && w > 0 && h % 32 == 0 && w % 32 == 0, what, ": input size ", h, "x", w,
              " (h x w) must be positive multiples of 32");
  TX2_REQUIRE(h <= 8192 && w <= 8192, what, ": input size ", h, "x", w, " is larger than 8192");
}

json config_to_json(const ModelConfig& c) {
  json heads = json::array();
  for (const HeadConfig& h : c.heads) {
    json anchors = json::array();
    for (const auto& a : h.anchors) anchors.push_back({json_float(a.first), json_float(a.second)});
    heads.push_back({{"tensor", h.tensor}, {"anchors", anchors}, {"downsample", h.downsample}});
  }
  const PreprocessConfig& p = c.preprocess;
  return json{
      {"architecture", c.architecture},
      {"head_type", c.head_type},
      {"input", {{"height", c.input_h}, {"width", c.input_w}}},
      {"preprocess",
       {{"color", p.color},
        {"resize", p.resize},
        {"scale", p.scale},
        {"mean", {p.mean[0], p.mean[1], p.mean[2]}},
        {"std", {p.std[0], p.std[1], p.std[2]}}}},
      {"classes", c.classes},
      {"heads", heads},
      {"decode",
       {{"conf_thresh", json_float(c.decode.conf_thresh)},
        {"clip_bbox", c.decode.clip_bbox},
        {"scale_x_y", json_float(c.decode.scale_x_y)},
        {"image_size", c.decode.image_size}}},
      {"nms",
       {{"score_threshold", json_float(c.nms.score_threshold)},
        {"nms_top_k", c.nms.nms_top_k},
        {"keep_top_k", c.nms.keep_top_k},
        {"nms_threshold", json_float(c.nms.nms_threshold)},
        {"normalized", c.nms.normalized},
        {"nms_eta", json_float(c.nms.nms_eta)},
        {"background_label", c.nms.background_label}}},
      {"draw_threshold", json_float(c.draw_threshold)},
  };
}

namespace {

const json& field(const json& obj, const char* key, const std::string& where) {
  TX2_REQUIRE(obj.is_object(), "config: ", where, " must be an object");
  const auto it = obj.find(key);
  TX2_REQUIRE(it != obj.end(), "config: ", where, " has no '", key, "'");
  return *it;
}

double get_number(const json& obj, const char* key, const std::string& where, double lo, double hi) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_number(), "config: ", where, ".", key, " must be a number");
  const double x = v.get<double>();
  TX2_REQUIRE(std::isfinite(x) && x >= lo && x <= hi, "config: ", where, ".", key, " = ", x,
              " is outside [", lo, ", ", hi, "]");
  return x;
}

int get_int(const json& obj, const char* key, const std::string& where, long long lo, long long hi) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_number_integer(), "config: ", where, ".", key, " must be an integer");
  const long long x = v.get<long long>();
  TX2_REQUIRE(x >= lo && x <= hi, "config: ", where, ".", key, " = ", x, " is outside [", lo, ", ", hi, "]");
  return static_cast<int>(x);
}

bool get_bool(const json& obj, const char* key, const std::string& where) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_boolean(), "config: ", where, ".", key, " must be true or false");
  return v.get<bool>();
}

std::string get_enum(const json& obj, const char* key, const std::string& where,
                     const std::set<std::string>& allowed) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_string(), "config: ", where, ".", key, " must be a string");
  const std::string s = v.get<std::string>();
  if (!allowed.count(s)) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw Error(cat("config: ", where, ".", key, " = '", s, "' is not one of: ", list));
  }
  return s;
}

void get_triple(const json& obj, const char* key, const std::string& where, double lo, double hi,
                double* out) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_array() && v.size() == 3, "config: ", where, ".", key, " must be an array of 3 numbers");
  for (int i = 0; i < 3; ++i) {
    TX2_REQUIRE(v[i].is_number(), "config: ", where, ".", key, " must be an array of 3 numbers");
    out[i] = v[i].get<double>();
    TX2_REQUIRE(std::isfinite(out[i]) && out[i] >= lo && out[i] <= hi, "config: ", where, ".", key, "[", i,
                "] = ", out[i], " is outside [", lo, ", ", hi, "]");
  }
}

}  // namespace

ModelConfig config_from_json(const json& j) {
  TX2_REQUIRE(j.is_object(), "config: the config must be a JSON object");
  ModelConfig c;
  c.architecture = get_enum(j, "architecture", "config", {"yolov3_mobilenet_v1"});
  c.head_type = get_enum(j, "head_type", "config", {"standard", "separable"});

  const json& in = field(j, "input", "config");
  c.input_h = get_int(in, "height", "input", 32, 8192);
  c.input_w = get_int(in, "width", "input", 32, 8192);
  validate_input_size(c.input_h, c.input_w, "config");

  const json& p = field(j, "preprocess", "config");
  c.preprocess.color = get_enum(p, "color", "preprocess", {"rgb", "bgr"});
  c.preprocess.resize = get_enum(p, "resize", "preprocess", {"cubic"});
  c.preprocess.scale = get_number(p, "scale", "preprocess", 1e-12, 1e6);
  get_triple(p, "mean", "preprocess", -1e6, 1e6, c.preprocess.mean);
  get_triple(p, "std", "preprocess", 1e-12, 1e6, c.preprocess.std);

  const json& classes = field(j, "classes", "config");
  TX2_REQUIRE(classes.is_array() && !classes.empty() && classes.size() <= 100000,
              "config: classes must be a non-empty array of names");
  for (const auto& name : classes) {
    TX2_REQUIRE(name.is_string(), "config: classes must be an array of strings");
    c.classes.push_back(name.get<std::string>());
  }

  const json& heads = field(j, "heads", "config");
  TX2_REQUIRE(heads.is_array() && !heads.empty() && heads.size() <= 8,
              "config: heads must be an array of 1 to 8 levels");
  for (std::size_t i = 0; i < heads.size(); ++i) {
    const std::string where = cat("heads[", i, "]");
    HeadConfig h;
    const json& t = field(heads[i], "tensor", where);
    TX2_REQUIRE(t.is_string(), "config: ", where, ".tensor must be a string");
    h.tensor = t.get<std::string>();
    h.downsample = get_int(heads[i], "downsample", where, 1, 1024);
    const json& anchors = field(heads[i], "anchors", where);
    TX2_REQUIRE(anchors.is_array() && !anchors.empty() && anchors.size() <= 8, "config: ", where,
                ".anchors must hold 1 to 8 [w, h] pairs");
    for (const auto& a : anchors) {
      TX2_REQUIRE(a.is_array() && a.size() == 2 && a[0].is_number() && a[1].is_number(), "config: ", where,
                  ".anchors must hold [w, h] number pairs");
      const double w = a[0].get<double>(), hh = a[1].get<double>();
      TX2_REQUIRE(std::isfinite(w) && std::isfinite(hh) && w > 0 && hh > 0 && w < 1e5 && hh < 1e5,
                  "config: ", where, " has anchor [", w, ", ", hh, "]; anchors must be positive");
      h.anchors.emplace_back(static_cast<float>(w), static_cast<float>(hh));
    }
    c.heads.push_back(std::move(h));
  }

  const json& d = field(j, "decode", "config");
  c.decode.conf_thresh = static_cast<float>(get_number(d, "conf_thresh", "decode", 0, 1));
  c.decode.clip_bbox = get_bool(d, "clip_bbox", "decode");
  c.decode.scale_x_y = static_cast<float>(get_number(d, "scale_x_y", "decode", 1e-6, 100));
  c.decode.image_size = get_enum(d, "image_size", "decode", {"paddle_truncate", "exact"});

  const json& n = field(j, "nms", "config");
  c.nms.score_threshold = static_cast<float>(get_number(n, "score_threshold", "nms", 0, 1));
  c.nms.nms_top_k = get_int(n, "nms_top_k", "nms", -1, 1 << 24);
  c.nms.keep_top_k = get_int(n, "keep_top_k", "nms", -1, 1 << 24);
  c.nms.nms_threshold = static_cast<float>(get_number(n, "nms_threshold", "nms", 0, 1));
  c.nms.normalized = get_bool(n, "normalized", "nms");
  c.nms.nms_eta = static_cast<float>(get_number(n, "nms_eta", "nms", 1e-6, 1));
  c.nms.background_label = get_int(n, "background_label", "nms", -1, 1 << 24);

  c.draw_threshold = static_cast<float>(get_number(j, "draw_threshold", "config", 0, 1));
  return c;
}

void check_config_against_graph(const ModelConfig& c, const Graph& g,
                                const std::map<std::string, TensorShape>& shapes) {
  TX2_REQUIRE(g.input.channels == 3, "config: the graph input '", g.input.name, "' has ", g.input.channels,
              " channels; preprocessing produces 3 (", c.preprocess.color, ")");
  std::set<std::string> seen;
  const int classes = static_cast<int>(c.classes.size());
  for (std::size_t i = 0; i < c.heads.size(); ++i) {
    const HeadConfig& h = c.heads[i];
    TX2_REQUIRE(seen.insert(h.tensor).second, "config: heads[", i, "] repeats tensor '", h.tensor, "'");
    bool is_output = false;
    for (const auto& o : g.outputs) is_output = is_output || o == h.tensor;
    TX2_REQUIRE(is_output, "config: heads[", i, "] tensor '", h.tensor, "' is not a graph output");
    const TensorShape& s = shapes.at(h.tensor);
    const long long expected = static_cast<long long>(h.anchors.size()) * (5 + classes);
    TX2_REQUIRE(s.c == expected, "config: head '", h.tensor, "' has ", s.c, " channels; ",
                h.anchors.size(), " anchors x (5 + ", classes, " classes) needs ", expected);
    TX2_REQUIRE(s.h * h.downsample == c.input_h && s.w * h.downsample == c.input_w, "config: head '",
                h.tensor, "' is ", s.h, "x", s.w, " for input ", c.input_h, "x", c.input_w,
                ", which does not match downsample ", h.downsample);
  }
}

}  // namespace tx2yolo
