// Layer-by-layer parity of a converted model against a reference made by
// Paddle (scripts/paddle/dump_reference.py, scripts/paddle/make_fixtures.py).
//
// A reference is a safetensors file: `input` [1,3,H,W] (the preprocessed
// tensor), optionally `image` U8 [h,w,3] (the photograph as cv2 decodes it),
// one F32 tensor per engine tensor name (conv outputs after BN and
// activation, upsample, concat, heads; [1,C,H,W]), `yolo_box.boxes` [1,M,4],
// `yolo_box.scores` [1,M,C], `nms.out` [K,6] (label, score, x1, y1, x2, y2)
// and `nms.num`. Tolerances (docs/testing.md): per-layer relative L2 error,
// detections as matched sets (same class, IoU, score delta); cases at a
// threshold (yolo_box conf gate, NMS score threshold, NMS IoU threshold) are
// named and counted, never hidden by a looser tolerance.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "engine/detector.h"

namespace tx2yolo {

struct ReferenceTensor {
  std::string dtype;
  std::vector<long long> shape;
  std::vector<float> values;  // U8 and I32 tensors converted to float
};

struct Reference {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::map<std::string, ReferenceTensor> tensors;
  const ReferenceTensor* find(const std::string& name) const;
};

Reference load_reference(const std::string& path);

struct ParityOptions {
  BackendKind backend = BackendKind::kCpu;
  double max_rel_l2 = 1e-5;        // per layer
  double min_iou = 0.999;          // detection match
  double max_score_delta = 1e-5;   // detection match
  double borderline = 1e-4;        // distance to a threshold that makes a difference explainable
};

struct ParityRow {
  std::string name;
  std::string shape;
  double max_abs = 0;
  double rel_l2 = 0;
  bool passed = true;
  std::string note;
};

struct ParityReport {
  std::string model, reference, backend;
  int input_h = 0, input_w = 0;
  std::vector<ParityRow> rows;               // preprocess, layers, decode
  std::vector<std::string> not_compared;     // reference tensors the model has no counterpart for
  int reference_detections = 0, our_detections = 0, matched = 0;
  int borderline = 0;                        // unmatched, explained by a threshold
  int unmatched = 0;                         // unmatched and unexplained: a failure
  double worst_iou = 1, worst_score_delta = 0;
  bool same_order = true;                    // matched detections in the same order
  bool passed = true;
};

// `image`, when given, is the photograph the reference was made from (BGR, as
// cv::imread gives it): it adds a preprocessing row (ours against Paddle's
// `input`) and gives the original size; otherwise the reference's own `image`
// tensor or im_shape / scale_factor do.
ParityReport compare_with_reference(const std::string& model_path, const Reference& ref, const ParityOptions& opt,
                                    const cv::Mat* image = nullptr);
void print_parity_report(const ParityReport& r, std::FILE* out);
nlohmann::json parity_report_to_json(const ParityReport& r);

}  // namespace tx2yolo
