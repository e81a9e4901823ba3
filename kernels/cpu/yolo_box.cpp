// CPU reference for yolo_box: Paddle's yolo_box decode of one head level for
// one image (shared/research/paddle-semantics.md §3; checked against Paddle's
// paddle/phi/kernels/funcs/yolo_box_util.h and cpu/yolo_box_kernel.cc).
//
// Layout (fp32):
//   in     [A*(5+C), H, W]: value e of anchor a at (row, col) is
//          in[(a*(5+C) + e)*H*W + row*W + col], e = 0..3 tx,ty,tw,th, 4 obj,
//          5+c class logit c.
//   boxes  [A*H*W, 4] (x1, y1, x2, y2), box index m = a*H*W + row*W + col
//          (anchor-major, then row, then column).
//   scores [C, score_stride]: class c of box m at scores[c*stride + offset + m],
//          stride = score_stride (or A*H*W when 0), offset = score_offset.
//
// Formula (all fp32 and evaluated left to right exactly as written, which is
// what Paddle's float kernel does; the integers are converted to float first):
//   sigmoid(x) = float(1.0 / (1.0 + double(expf(-x))))   (exp in float, the
//                rest in double, rounded to float once at the end)
//   conf = sigmoid(obj)
//   if conf < conf_thresh: box m = (0,0,0,0) and all C scores of m = 0
//   else, with scale = scale_x_y, bias = -0.5f * (scale - 1.f),
//         in_h = downsample*H, in_w = downsample*W:
//     cx = (col + sigmoid(tx)*scale + bias) * img_w / W
//     cy = (row + sigmoid(ty)*scale + bias) * img_h / H
//     bw = expf(tw) * anchor_w[a] * img_w / in_w
//     bh = expf(th) * anchor_h[a] * img_h / in_h
//     x1 = cx - bw/2, y1 = cy - bh/2, x2 = cx + bw/2, y2 = cy + bh/2
//     clip_bbox (one-sided): x1 = x1 > 0 ? x1 : 0,  y1 = y1 > 0 ? y1 : 0,
//                            x2 = x2 < img_w-1 ? x2 : img_w-1,
//                            y2 = y2 < img_h-1 ? y2 : img_h-1
//       (x1 is never clamped from above, x2 never from below; a NaN goes to
//        the bound because the comparison is false)
//     score[c] = conf * sigmoid(cls_c)
#include "kernels/yolo_box.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace tx2yolo {

namespace {

// Paddle's sigmoid<float>: std::exp on the float argument, then 1.0 (a double
// literal) plus and divided by, then converted back to float on return.
inline float paddle_sigmoid(float x) {
  const float e = std::exp(-x);
  return static_cast<float>(1.0 / (1.0 + static_cast<double>(e)));
}

}  // namespace

bool operator==(const YoloBoxParams& a, const YoloBoxParams& b) {
  for (int i = 0; i < 2 * kMaxAnchorsPerLevel; ++i)
    if (a.anchors[i] != b.anchors[i]) return false;
  return a.grid_h == b.grid_h && a.grid_w == b.grid_w && a.num_anchors == b.num_anchors &&
         a.num_classes == b.num_classes && a.downsample == b.downsample && a.conf_thresh == b.conf_thresh &&
         a.clip_bbox == b.clip_bbox && a.scale_x_y == b.scale_x_y && a.img_h == b.img_h && a.img_w == b.img_w &&
         a.score_stride == b.score_stride && a.score_offset == b.score_offset;
}

void validate_yolo_box_params(const YoloBoxParams& p) {
  TX2_REQUIRE(p.grid_h > 0 && p.grid_w > 0, "yolo_box: grid ", p.grid_h, "x", p.grid_w,
              " must be positive");
  TX2_REQUIRE(p.num_anchors >= 1 && p.num_anchors <= kMaxAnchorsPerLevel, "yolo_box: ",
              p.num_anchors, " anchors; expected 1..", kMaxAnchorsPerLevel);
  TX2_REQUIRE(p.num_classes > 0, "yolo_box: num_classes ", p.num_classes, " must be positive");
  TX2_REQUIRE(p.downsample > 0, "yolo_box: downsample ", p.downsample, " must be positive");
  TX2_REQUIRE(p.img_h > 0 && p.img_w > 0, "yolo_box: image size ", p.img_h, "x", p.img_w,
              " (h x w) must be positive");
  TX2_REQUIRE(!std::isnan(p.conf_thresh), "yolo_box: conf_thresh is NaN");
  TX2_REQUIRE(std::isfinite(p.scale_x_y), "yolo_box: scale_x_y ", p.scale_x_y,
              " must be finite");
  const std::int64_t boxes = static_cast<std::int64_t>(p.num_anchors) * p.grid_h * p.grid_w;
  const std::int64_t in_h = static_cast<std::int64_t>(p.downsample) * p.grid_h;
  const std::int64_t in_w = static_cast<std::int64_t>(p.downsample) * p.grid_w;
  TX2_REQUIRE(boxes <= INT32_MAX && in_h <= INT32_MAX && in_w <= INT32_MAX,
              "yolo_box: grid ", p.grid_h, "x", p.grid_w, " with ", p.num_anchors,
              " anchors and downsample ", p.downsample, " is too large");
  TX2_REQUIRE(p.score_stride >= 0 && p.score_offset >= 0, "yolo_box: score_stride ",
              p.score_stride, " and score_offset ", p.score_offset, " must not be negative");
  const std::int64_t stride = p.score_stride == 0 ? boxes : p.score_stride;
  TX2_REQUIRE(p.score_offset + boxes <= stride, "yolo_box: score columns [", p.score_offset, ", ",
              p.score_offset + boxes, ") do not fit in score_stride ", stride, " (A*H*W = ",
              boxes, ")");
}

int paddle_image_extent(int input_extent, int original_extent) {
  TX2_REQUIRE(input_extent > 0 && original_extent > 0, "paddle_image_extent: extents ",
              input_extent, " and ", original_extent, " must be positive");
  // scale_factor is computed in double (Python) and stored as float32; the
  // model divides the float32 im_shape by it in float32 and casts to int32
  // (truncation toward zero).
  const float scale_factor =
      static_cast<float>(static_cast<double>(input_extent) / static_cast<double>(original_extent));
  const float extent = static_cast<float>(input_extent) / scale_factor;
  return static_cast<int>(extent);
}

void yolo_box_cpu(const YoloBoxParams& p, const float* in, float* boxes, float* scores) {
  validate_yolo_box_params(p);
  TX2_REQUIRE(in != nullptr && boxes != nullptr && scores != nullptr,
              "yolo_box_cpu: null input, boxes or scores pointer");

  const int H = p.grid_h;
  const int W = p.grid_w;
  const int C = p.num_classes;
  const std::size_t hw = static_cast<std::size_t>(H) * W;
  const std::size_t num_boxes = hw * p.num_anchors;
  const std::size_t entry_count = static_cast<std::size_t>(5 + C);
  const std::size_t score_stride = p.score_stride == 0 ? num_boxes : p.score_stride;
  const std::size_t score_offset = static_cast<std::size_t>(p.score_offset);

  const float scale = p.scale_x_y;
  const float bias = -0.5f * (scale - 1.f);
  const int input_h = p.downsample * H;
  const int input_w = p.downsample * W;
  // Paddle passes these as int64 and they meet float operands, so they are
  // converted to float before each operation.
  const float img_w_f = static_cast<float>(p.img_w);
  const float img_h_f = static_cast<float>(p.img_h);
  const float grid_w_f = static_cast<float>(W);
  const float grid_h_f = static_cast<float>(H);
  const float input_w_f = static_cast<float>(input_w);
  const float input_h_f = static_cast<float>(input_h);
  const float x_max = static_cast<float>(p.img_w - 1);
  const float y_max = static_cast<float>(p.img_h - 1);

  // Zero this level's outputs; gated boxes keep these zeros.
  std::memset(boxes, 0, num_boxes * 4 * sizeof(float));
  for (int c = 0; c < C; ++c) {
    std::memset(scores + c * score_stride + score_offset, 0, num_boxes * sizeof(float));
  }

  for (int a = 0; a < p.num_anchors; ++a) {
    const float* anchor_in = in + static_cast<std::size_t>(a) * entry_count * hw;
    const float anchor_w = p.anchors[2 * a];
    const float anchor_h = p.anchors[2 * a + 1];
    for (int row = 0; row < H; ++row) {
      for (int col = 0; col < W; ++col) {
        const std::size_t cell = static_cast<std::size_t>(row) * W + col;
        const float conf = paddle_sigmoid(anchor_in[4 * hw + cell]);
        if (conf < p.conf_thresh) continue;

        const float tx = anchor_in[0 * hw + cell];
        const float ty = anchor_in[1 * hw + cell];
        const float tw = anchor_in[2 * hw + cell];
        const float th = anchor_in[3 * hw + cell];
        const float cx = (static_cast<float>(col) + paddle_sigmoid(tx) * scale + bias) * img_w_f /
                         grid_w_f;
        const float cy = (static_cast<float>(row) + paddle_sigmoid(ty) * scale + bias) * img_h_f /
                         grid_h_f;
        const float bw = std::exp(tw) * anchor_w * img_w_f / input_w_f;
        const float bh = std::exp(th) * anchor_h * img_h_f / input_h_f;

        float x1 = cx - bw / 2.f;
        float y1 = cy - bh / 2.f;
        float x2 = cx + bw / 2.f;
        float y2 = cy + bh / 2.f;
        if (p.clip_bbox) {
          x1 = x1 > 0.f ? x1 : 0.f;
          y1 = y1 > 0.f ? y1 : 0.f;
          x2 = x2 < x_max ? x2 : x_max;
          y2 = y2 < y_max ? y2 : y_max;
        }

        const std::size_t m = static_cast<std::size_t>(a) * hw + cell;
        float* box = boxes + m * 4;
        box[0] = x1;
        box[1] = y1;
        box[2] = x2;
        box[3] = y2;

        for (int c = 0; c < C; ++c) {
          const float logit = anchor_in[(5 + static_cast<std::size_t>(c)) * hw + cell];
          scores[c * score_stride + score_offset + m] = conf * paddle_sigmoid(logit);
        }
      }
    }
  }
}

}  // namespace tx2yolo
