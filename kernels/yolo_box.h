// yolo_box: Paddle's yolo_box decode of one head level for one image
// (shared/research/paddle-semantics.md §3). Full formula and layout at the top
// of kernels/cpu/yolo_box.cpp.
//
// Layouts (fp32):
//   in     [A*(5+C), H, W]; channel a*(5+C)+e, e = tx,ty,tw,th,obj,cls0..
//   boxes  [A*H*W, 4] (x1, y1, x2, y2) in original-image pixels; box index
//          m = a*H*W + row*W + col (anchor-major)
//   scores [C, score_stride]; this level writes columns
//          [score_offset, score_offset + A*H*W). Paddle concatenates the
//          three levels this way (stride 32 first) before NMS.
// Boxes and scores of a gated box (sigmoid(obj) < conf_thresh) are zero.
#pragma once

#include "core/half.h"

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>

#include "kernels/multiclass_nms.h"  // NmsCandidateSink
#endif

namespace tx2yolo {

constexpr int kMaxAnchorsPerLevel = 8;
constexpr int kMaxYoloLevels = 4;

struct YoloBoxParams {
  int grid_h = 0;
  int grid_w = 0;
  int num_anchors = 0;
  int num_classes = 0;
  float anchors[2 * kMaxAnchorsPerLevel] = {};  // (w, h) pairs in network-input pixels
  int downsample = 32;                         // input size = downsample * grid
  float conf_thresh = 0.005f;
  bool clip_bbox = true;
  float scale_x_y = 1.f;
  int img_h = 0;  // original image size as Paddle sees it (see paddle_image_extent)
  int img_w = 0;
  int score_stride = 0;  // columns of the scores matrix (all levels); 0 = A*H*W
  int score_offset = 0;  // first column this level writes
};

// Validates sizes and the score slice; throws Error.
void validate_yolo_box_params(const YoloBoxParams& p);
// Field by field (all anchors included), never bytewise: the struct has padding.
bool operator==(const YoloBoxParams& a, const YoloBoxParams& b);
inline bool operator!=(const YoloBoxParams& a, const YoloBoxParams& b) { return !(a == b); }

// The original-image extent Paddle's dygraph/exported model hands to yolo_box:
// int32(float32(input_extent) / float32(input_extent / (double)original_extent)),
// which is sometimes original_extent - 1 (e.g. 59 -> 58 at 608).
int paddle_image_extent(int input_extent, int original_extent);

// CPU reference, bit-for-bit Paddle's CPU kernel arithmetic.
void yolo_box_cpu(const YoloBoxParams& p, const float* in, float* boxes, float* scores);

#ifdef TX2YOLO_WITH_CUDA
// kernels/cuda/yolo_box.cu: decodes `num_levels` levels of one image in one
// launch. levels[i].score_offset must be the running box count and every
// score_stride the total M; boxes [M, 4] and scores [C, M] are device
// pointers to the whole arrays; inputs are device pointers.
// scores may be null: then no dense scores are written. `candidates`, when
// given, receives every (class, score, box) above the NMS score threshold
// (threshold compaction: an atomic counter into a fixed capacity, overflow
// counted) - the GPU NMS then needs no dense scores at all.
void yolo_box_cuda(const YoloBoxParams* levels, const float* const* inputs, int num_levels, float* boxes,
                   float* scores, cudaStream_t stream, const NmsCandidateSink* candidates = nullptr);
// The same reading FP16 head tensors (core/half.h); boxes and scores stay float.
void yolo_box_cuda(const YoloBoxParams* levels, const half_t* const* inputs, int num_levels, float* boxes,
                   float* scores, cudaStream_t stream, const NmsCandidateSink* candidates = nullptr);
#endif

}  // namespace tx2yolo
