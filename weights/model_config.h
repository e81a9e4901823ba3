// Model facts stored in the model file's __metadata__["config"]: input size,
// preprocessing, class names, YOLO heads (tensor, anchors, stride), decode and
// NMS settings. Written by the converter from the PaddleDetection config;
// never baked into code. The JSON form is in docs/model-format.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tx2yolo {

struct HeadConfig {
  std::string tensor;                      // graph output holding this level's raw head
  std::vector<std::pair<float, float>> anchors;  // (w, h) in network-input pixels
  int downsample = 32;                     // stride of this level
};

struct PreprocessConfig {
  std::string color = "rgb";    // network input channel order: rgb or bgr
  std::string resize = "cubic"; // cv::INTER_CUBIC, Paddle interp 2
  double scale = 1.0 / 255.0;
  double mean[3] = {0.485, 0.456, 0.406};
  double std[3] = {0.229, 0.224, 0.225};
};

struct DecodeConfig {
  float conf_thresh = 0.005f;
  bool clip_bbox = true;
  float scale_x_y = 1.f;
  // "paddle_truncate": img = int32(f32(in) / f32(in / orig)) as the dygraph
  // export computes it; "exact": the original size (static 0.x models).
  std::string image_size = "paddle_truncate";
};

struct NmsConfig {
  float score_threshold = 0.01f;
  int nms_top_k = 1000;
  int keep_top_k = 100;
  float nms_threshold = 0.45f;
  bool normalized = true;
  float nms_eta = 1.f;
  int background_label = -1;
};

struct ModelConfig {
  std::string architecture = "yolov3_mobilenet_v1";
  std::string head_type = "standard";  // standard or separable
  int input_h = 608;
  int input_w = 608;
  PreprocessConfig preprocess;
  std::vector<std::string> classes;
  std::vector<HeadConfig> heads;
  DecodeConfig decode;
  NmsConfig nms;
  float draw_threshold = 0.5f;  // PaddleDetection's infer_cfg draw_threshold
};

// Network input sizes: positive multiples of 32, at most 8192. Throws
// Error("<what>: ...") otherwise. The one check used by the config, the
// Detector options and the CLI.
void validate_input_size(int h, int w, const std::string& what);

nlohmann::json config_to_json(const ModelConfig& c);
// Checks types and ranges (positive multiples of 32 for the input size,
// non-empty classes, 1..8 anchors per head, thresholds in range, known
// enum strings) and throws Error("config: ...") naming the field.
ModelConfig config_from_json(const nlohmann::json& j);

// Checks the config against the graph's inferred shapes: the graph input has
// the 3 channels preprocessing produces, every head tensor is
// a graph output, listed once, with anchors*(5+classes) channels, and its
// grid equals input / downsample. Throws Error("config: ...").
struct Graph;
struct TensorShape;
void check_config_against_graph(const ModelConfig& c, const Graph& g,
                                const std::map<std::string, TensorShape>& shapes);

}  // namespace tx2yolo
