#include "layers/detection_output.h"

#include "core/error.h"

namespace tx2yolo {

DetectionOutput::DetectionOutput(const ModelConfig& config, const std::map<std::string, TensorShape>& shapes,
                                 int input_h, int input_w)
    : num_classes_(static_cast<int>(config.classes.size())), input_h_(input_h), input_w_(input_w) {
  truncate_image_size_ = config.decode.image_size == "paddle_truncate";
  int offset = 0;
  for (const HeadConfig& h : config.heads) {
    const TensorShape& s = shapes.at(h.tensor);
    TX2_REQUIRE(static_cast<int>(h.anchors.size()) <= kMaxAnchorsPerLevel, "head '", h.tensor, "' has ",
                h.anchors.size(), " anchors; at most ", kMaxAnchorsPerLevel, " are supported");
    TX2_REQUIRE(s.h * h.downsample == input_h && s.w * h.downsample == input_w, "head '", h.tensor, "' is ",
                s.h, "x", s.w, " at input ", input_h, "x", input_w, ", not input / ", h.downsample);
    YoloBoxParams p;
    p.grid_h = s.h;
    p.grid_w = s.w;
    p.num_anchors = static_cast<int>(h.anchors.size());
    p.num_classes = num_classes_;
    for (int a = 0; a < p.num_anchors; ++a) {
      p.anchors[2 * a] = h.anchors[a].first;
      p.anchors[2 * a + 1] = h.anchors[a].second;
    }
    p.downsample = h.downsample;
    p.conf_thresh = config.decode.conf_thresh;
    p.clip_bbox = config.decode.clip_bbox;
    p.scale_x_y = config.decode.scale_x_y;
    p.score_offset = offset;
    offset += p.num_anchors * p.grid_h * p.grid_w;
    levels_.push_back(p);
  }
  num_boxes_ = offset;
  for (YoloBoxParams& p : levels_) p.score_stride = num_boxes_;
  nms_.score_threshold = config.nms.score_threshold;
  nms_.nms_top_k = config.nms.nms_top_k;
  nms_.keep_top_k = config.nms.keep_top_k;
  nms_.nms_threshold = config.nms.nms_threshold;
  nms_.normalized = config.nms.normalized;
  nms_.nms_eta = config.nms.nms_eta;
  nms_.background_label = config.nms.background_label;
  validate_multiclass_nms_params(nms_);
}

void DetectionOutput::image_extent(int orig_h, int orig_w, int* img_h, int* img_w) const {
  TX2_REQUIRE(orig_h > 0 && orig_w > 0, "image size ", orig_w, "x", orig_h, " is empty");
  *img_h = truncate_image_size_ ? paddle_image_extent(input_h_, orig_h) : orig_h;
  *img_w = truncate_image_size_ ? paddle_image_extent(input_w_, orig_w) : orig_w;
}

std::vector<YoloBoxParams> DetectionOutput::level_params(int orig_h, int orig_w) const {
  int img_h = 0, img_w = 0;
  image_extent(orig_h, orig_w, &img_h, &img_w);
  std::vector<YoloBoxParams> levels = levels_;
  for (YoloBoxParams& p : levels) {
    p.img_h = img_h;
    p.img_w = img_w;
    validate_yolo_box_params(p);
  }
  return levels;
}

void DetectionOutput::decode_cpu(const std::vector<const float*>& heads, int orig_h, int orig_w, float* boxes,
                                 float* scores) const {
  TX2_REQUIRE(heads.size() == levels_.size(), "detection output: ", heads.size(), " head tensors for ",
              levels_.size(), " levels");
  const std::vector<YoloBoxParams> levels = level_params(orig_h, orig_w);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    yolo_box_cpu(levels[i], heads[i], boxes + static_cast<std::size_t>(levels[i].score_offset) * 4, scores);
  }
}

std::vector<Detection> DetectionOutput::nms(const float* boxes, const float* scores) const {
  return multiclass_nms_cpu(nms_, boxes, scores, num_boxes_, num_classes_);
}


}  // namespace tx2yolo
