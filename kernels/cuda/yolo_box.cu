// yolo_box on the GPU: all head levels of one image decoded in one launch,
// with the op, params, formula and layouts of kernels/yolo_box.h and
// kernels/cpu/yolo_box.cpp:
//
//   sigmoid(x) = float(1.0 / (1.0 + double(expf(-x))))
//   conf = sigmoid(obj); gated (boxes and scores 0) when conf < conf_thresh
//   cx = (col + sigmoid(tx)*scale + bias) * img_w / W,  cy likewise
//   bw = expf(tw) * anchor_w * img_w / (downsample*W),  bh likewise
//   (x1, y1, x2, y2) = (cx - bw/2, cy - bh/2, cx + bw/2, cy + bh/2),
//   one-sided clip to [0, img_w - 1] x [0, img_h - 1]; score[c] = conf * sigmoid(cls_c)
//
// With a candidate sink, every score above the NMS threshold is also appended
// as an NMS candidate key (threshold compaction; kernels/cuda/nms_candidates.cuh),
// and the dense scores may be skipped.
// Layouts: level i reads in_i [A*(5+C), H_i, W_i] (float, or FP16 storage,
// widened to float on load: the decode itself is float either way); boxes [M, 4] and scores
// [C, M] for all levels together, level i at columns [score_offset_i, +A*H_i*W_i)
// (stride 32 first, as Paddle concatenates them). One thread per box.
// This file is compiled with -fmad=false so no a*b+c is fused and every
// float operation rounds as on the CPU; device expf may still differ from
// glibc's by an ulp or two, so results match the CPU to float tolerance.
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/nms_candidates.cuh"
#include "kernels/yolo_box.h"

namespace tx2yolo {

namespace {

template <typename T>
struct DecodeLevels {
  YoloBoxParams level[kMaxYoloLevels];
  const T* input[kMaxYoloLevels];
  int count;
  int total_boxes;
};

__device__ inline float paddle_sigmoid(float x) {
  const float e = expf(-x);
  return static_cast<float>(1.0 / (1.0 + static_cast<double>(e)));
}

constexpr int kDecodeThreads = 128;

template <typename T>
__global__ void __launch_bounds__(kDecodeThreads) yolo_box_kernel(DecodeLevels<T> levels, float* __restrict__ boxes, float* __restrict__ scores,
                                NmsCandidateSink sink, bool offer) {
  const int m_all = blockIdx.x * blockDim.x + threadIdx.x;
  if (m_all >= levels.total_boxes) return;
  int li = 0;
  while (li + 1 < levels.count && m_all >= levels.level[li + 1].score_offset) ++li;
  const YoloBoxParams& p = levels.level[li];
  const int m = m_all - p.score_offset;
  const int H = p.grid_h, W = p.grid_w, C = p.num_classes;
  const int hw = H * W;
  const int a = m / hw, cell = m % hw;
  const int row = cell / W, col = cell % W;
  const T* in = levels.input[li] + static_cast<long long>(a) * (5 + C) * hw;
  float* box = boxes + static_cast<long long>(m_all) * 4;
  const long long stride = p.score_stride;

  const float conf = paddle_sigmoid(cuda::load_act(in + 4 * hw + cell));
  if (conf < p.conf_thresh) {
    box[0] = box[1] = box[2] = box[3] = 0.f;
    if (scores)
      for (int c = 0; c < C; ++c) scores[c * stride + m_all] = 0.f;
    return;  // all scores 0: never an NMS candidate (its threshold is >= 0)
  }
  const float scale = p.scale_x_y;
  const float bias = -0.5f * (scale - 1.f);
  const float img_w = static_cast<float>(p.img_w), img_h = static_cast<float>(p.img_h);
  const float cx = (static_cast<float>(col) + paddle_sigmoid(cuda::load_act(in + cell)) * scale + bias) * img_w / static_cast<float>(W);
  const float cy =
      (static_cast<float>(row) + paddle_sigmoid(cuda::load_act(in + hw + cell)) * scale + bias) * img_h / static_cast<float>(H);
  const float bw = expf(cuda::load_act(in + 2 * hw + cell)) * p.anchors[2 * a] * img_w / static_cast<float>(p.downsample * W);
  const float bh = expf(cuda::load_act(in + 3 * hw + cell)) * p.anchors[2 * a + 1] * img_h / static_cast<float>(p.downsample * H);
  float x1 = cx - bw / 2.f, y1 = cy - bh / 2.f, x2 = cx + bw / 2.f, y2 = cy + bh / 2.f;
  if (p.clip_bbox) {
    const float x_max = static_cast<float>(p.img_w - 1), y_max = static_cast<float>(p.img_h - 1);
    x1 = x1 > 0.f ? x1 : 0.f;
    y1 = y1 > 0.f ? y1 : 0.f;
    x2 = x2 < x_max ? x2 : x_max;
    y2 = y2 < y_max ? y2 : y_max;
  }
  box[0] = x1;
  box[1] = y1;
  box[2] = x2;
  box[3] = y2;
  for (int c = 0; c < C; ++c) {
    const float score = conf * paddle_sigmoid(cuda::load_act(in + (5 + c) * hw + cell));
    if (scores) scores[c * stride + m_all] = score;
    if (offer) cuda::nms_offer(sink, c, score, m_all);
  }
}

template <typename T>
void yolo_box_launch(const YoloBoxParams* levels, const T* const* inputs, int num_levels, float* boxes,
                     float* scores, cudaStream_t stream, const NmsCandidateSink* candidates) {
  TX2_REQUIRE(num_levels >= 1 && num_levels <= kMaxYoloLevels, "yolo_box_cuda: ", num_levels,
              " levels; expected 1..", kMaxYoloLevels);
  DecodeLevels<T> d{};
  d.count = num_levels;
  int expected_offset = 0;
  for (int i = 0; i < num_levels; ++i) {
    validate_yolo_box_params(levels[i]);
    const int boxes_i = levels[i].num_anchors * levels[i].grid_h * levels[i].grid_w;
    TX2_REQUIRE(levels[i].score_offset == expected_offset && levels[i].num_classes == levels[0].num_classes,
                "yolo_box_cuda: level ", i, " must start at column ", expected_offset, " with ",
                levels[0].num_classes, " classes");
    d.level[i] = levels[i];
    d.input[i] = inputs[i];
    expected_offset += boxes_i;
  }
  d.total_boxes = expected_offset;
  for (int i = 0; i < num_levels; ++i) {
    TX2_REQUIRE(d.level[i].score_stride == d.total_boxes, "yolo_box_cuda: level ", i, " has score_stride ",
                d.level[i].score_stride, ", expected the total box count ", d.total_boxes);
  }
  TX2_REQUIRE(scores != nullptr || candidates != nullptr, "yolo_box_cuda: neither scores nor candidates requested");
  const NmsCandidateSink sink = candidates ? *candidates : NmsCandidateSink{};
  yolo_box_kernel<T><<<cuda::ceil_div(d.total_boxes, kDecodeThreads), kDecodeThreads, 0, stream>>>(d, boxes, scores, sink,
                                                                          candidates != nullptr);
  CUDA_CHECK_LAUNCH("yolo_box_kernel");
}

}  // namespace

void yolo_box_cuda(const YoloBoxParams* levels, const float* const* inputs, int num_levels, float* boxes,
                   float* scores, cudaStream_t stream, const NmsCandidateSink* candidates) {
  yolo_box_launch(levels, inputs, num_levels, boxes, scores, stream, candidates);
}

void yolo_box_cuda(const YoloBoxParams* levels, const half_t* const* inputs, int num_levels, float* boxes,
                   float* scores, cudaStream_t stream, const NmsCandidateSink* candidates) {
  yolo_box_launch(levels, reinterpret_cast<const __half* const*>(inputs), num_levels, boxes, scores, stream,
                  candidates);
}

}  // namespace tx2yolo
