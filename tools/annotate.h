// Drawing detections onto a BGR image, and the COCO-results JSON record.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "kernels/multiclass_nms.h"

namespace tx2yolo {

// Draws each detection with score >= threshold: a box in a per-class colour
// and "name score" above it.
void draw_detections(cv::Mat& bgr, const std::vector<Detection>& dets, const std::vector<std::string>& classes,
                     float threshold);

// One COCO-results entry: image_id, file_name, category_id (the 0-based class
// index), category_name, bbox [x, y, w, h] with w = x2 - x1 (as
// PaddleDetection's json results), score.
nlohmann::json detection_to_coco(const Detection& d, const std::string& image_id, int image_index,
                                 const std::vector<std::string>& classes);

}  // namespace tx2yolo
