// DetectionOutput: the model's post-processing, as PaddleDetection's
// YOLOv3 BBoxPostProcess does it: yolo_box on each head level (stride 32
// first), the levels' boxes and scores concatenated, then multiclass NMS.
// Boxes come out in original-image pixels.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernels/multiclass_nms.h"
#include "kernels/yolo_box.h"
#include "weights/graph.h"
#include "weights/model_config.h"

namespace tx2yolo {

class DetectionOutput {
 public:
  // shapes: the graph's inferred shapes at input_h x input_w.
  DetectionOutput(const ModelConfig& config, const std::map<std::string, TensorShape>& shapes, int input_h,
                  int input_w);

  // The image extents Paddle hands to yolo_box for an original image of
  // orig_h x orig_w ("paddle_truncate" or "exact", per the config).
  void image_extent(int orig_h, int orig_w, int* img_h, int* img_w) const;

  // decode_cpu fills boxes [M, 4] and scores [C, M] from the heads (one
  // pointer per config head, [A*(5+C), H, W] for one image); nms turns
  // decoded boxes and scores (from any backend) into detections.
  void decode_cpu(const std::vector<const float*>& heads, int orig_h, int orig_w, float* boxes,
                  float* scores) const;
  std::vector<Detection> nms(const float* boxes, const float* scores) const;

  int num_boxes() const { return num_boxes_; }  // M, all levels together
  int num_classes() const { return num_classes_; }
  const MulticlassNmsParams& nms_params() const { return nms_; }
  // The per-level decode params for an image (img_h/img_w filled in).
  std::vector<YoloBoxParams> level_params(int orig_h, int orig_w) const;

 private:
  std::vector<YoloBoxParams> levels_;
  MulticlassNmsParams nms_;
  int num_classes_ = 0;
  int num_boxes_ = 0;
  int input_h_ = 0;
  int input_w_ = 0;
  bool truncate_image_size_ = true;
};

}  // namespace tx2yolo
