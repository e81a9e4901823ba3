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

// One COCO-results entry: image_id, file_name, category_id, category_name,
// bbox [x, y, w, h] with w = x2 - x1 (as PaddleDetection's json results),
// score. category_id is `category_ids[class]` when given (coco_category_ids),
// else the 0-based class index.
nlohmann::json detection_to_coco(const Detection& d, const std::string& file_name, long long image_id,
                                 const std::vector<std::string>& classes, const std::vector<int>& category_ids = {});

// COCO's category ids (1 to 90, ten of them unused) for a model whose 80
// class names are COCO's, in order; empty for any other model.
std::vector<int> coco_category_ids(const std::vector<std::string>& classes);

// A frame's COCO image_id: the file name's stem when it is a number (COCO's
// 000000397133.jpg is 397133), else the frame's position in the input.
long long coco_image_id(const std::string& name, int index);

}  // namespace tx2yolo
