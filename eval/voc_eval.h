// Runs a Detector over a VOC split and scores it with PaddleDetection's VOC
// metric (voc_metric.h). Shared by `tx2yolo eval` and `tx2yolo sensitivity`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/detector.h"
#include "eval/voc_metric.h"

namespace tx2yolo {

struct VocEvalResult {
  VocMapResult eleven_point;
  VocMapResult area;
  // Every detection: (image index in the dataset, detection), in order.
  std::vector<std::pair<int, Detection>> detections;
};

// `progress(done, total)` is called after each image when given. At most
// `limit` images are used when limit > 0 (the first ones of the split).
VocEvalResult evaluate_on_voc(Detector& det, const VocDataset& ds, std::size_t limit = 0,
                              const std::function<void(std::size_t, std::size_t)>& progress = nullptr);

}  // namespace tx2yolo
