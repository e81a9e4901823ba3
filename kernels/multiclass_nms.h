// multiclass_nms: Paddle's multiclass_nms3 CPU kernel for one image
// (shared/research/paddle-semantics.md §4.2). Full algorithm at the top of
// kernels/cpu/multiclass_nms.cpp.
//
// Layouts (fp32): boxes [M, 4] (x1, y1, x2, y2); scores [C, M].
// Output rows are grouped by label ascending and, within a label, by
// descending score (selection order) - Paddle's CPU kernel order.
#pragma once

#include <vector>

namespace tx2yolo {

struct MulticlassNmsParams {
  float score_threshold = 0.01f;  // candidate iff score > threshold (strict)
  int nms_top_k = 1000;           // per class, before NMS; < 0 keeps all
  int keep_top_k = 100;           // per image, after NMS; < 0 keeps all
  float nms_threshold = 0.45f;    // keep iff IoU <= threshold with every kept box
  bool normalized = true;         // false: static-era +1 pixel convention
  float nms_eta = 1.f;
  int background_label = -1;      // class skipped; -1 or >= C skips none
};

struct Detection {
  int class_id = 0;
  float score = 0.f;
  float x1 = 0.f, y1 = 0.f, x2 = 0.f, y2 = 0.f;
  int box_index = 0;  // m, the row in boxes
};

void validate_multiclass_nms_params(const MulticlassNmsParams& p);

// Paddle's JaccardOverlap on (x1, y1, x2, y2) boxes.
float nms_iou(const float* a, const float* b, bool normalized);

std::vector<Detection> multiclass_nms_cpu(const MulticlassNmsParams& p, const float* boxes,
                                          const float* scores, int num_boxes, int num_classes);

}  // namespace tx2yolo
