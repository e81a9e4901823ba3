// Tests for the yolo_box CPU reference (kernels/cpu/yolo_box.cpp): hand-computed
// decodes, the one-sided clip, the objectness gate, box order and score slice,
// bit-exactness with Paddle's float/double arithmetic, paddle_image_extent and
// parameter validation.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/yolo_box.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

// A head input [A*(5+C), H, W] with setters by (anchor, entry, row, col).
struct HeadInput {
  YoloBoxParams p;
  std::vector<float> data;

  explicit HeadInput(const YoloBoxParams& params, float fill = 0.f)
      : p(params),
        data(static_cast<std::size_t>(params.num_anchors) * (5 + params.num_classes) *
                 params.grid_h * params.grid_w,
             fill) {}

  float& at(int anchor, int entry, int row, int col) {
    const std::size_t hw = static_cast<std::size_t>(p.grid_h) * p.grid_w;
    return data[(static_cast<std::size_t>(anchor) * (5 + p.num_classes) + entry) * hw +
                static_cast<std::size_t>(row) * p.grid_w + col];
  }
};

struct Outputs {
  std::vector<float> boxes;
  std::vector<float> scores;
};

int boxes_per_level(const YoloBoxParams& p) { return p.num_anchors * p.grid_h * p.grid_w; }

Outputs run(const YoloBoxParams& p, const std::vector<float>& in, float fill = 0.f) {
  Outputs o;
  const int stride = p.score_stride == 0 ? boxes_per_level(p) : p.score_stride;
  o.boxes.assign(static_cast<std::size_t>(boxes_per_level(p)) * 4, fill);
  o.scores.assign(static_cast<std::size_t>(p.num_classes) * stride, fill);
  yolo_box_cpu(p, in.data(), o.boxes.data(), o.scores.data());
  return o;
}

// Grid 2x3 (H x W), two anchors, two classes, downsample 32 => input 64 x 96;
// original image 100 x 150 (h x w).
YoloBoxParams small_params() {
  YoloBoxParams p;
  p.grid_h = 2;
  p.grid_w = 3;
  p.num_anchors = 2;
  p.num_classes = 2;
  p.anchors[0] = 10.f;  // anchor 0: w 10, h 20
  p.anchors[1] = 20.f;
  p.anchors[2] = 16.f;  // anchor 1: w 16, h 32
  p.anchors[3] = 32.f;
  p.downsample = 32;
  p.conf_thresh = 0.005f;
  p.clip_bbox = true;
  p.img_h = 100;
  p.img_w = 150;
  return p;
}

const float kLn2 = std::log(2.f);
const float kLn3 = std::log(3.f);

// Anchor 1, row 1, col 2 of small_params(): tx 0 (sigmoid 0.5), ty ln 3
// (sigmoid 0.75), tw ln 2 (exp 2), th 0 (exp 1), obj 0 (conf 0.5), class
// logits 0 and ln 3. By hand:
//   cx = (2 + 0.5) * 150 / 3  = 125
//   cy = (1 + 0.75) * 100 / 2 = 87.5
//   bw = 2 * 16 * 150 / 96    = 4800 / 96 = 50
//   bh = 1 * 32 * 100 / 64    = 3200 / 64 = 50
//   box = (125-25, 87.5-25, 125+25, 87.5+25) = (100, 62.5, 150, 112.5)
//   scores = 0.5 * 0.5 = 0.25 and 0.5 * 0.75 = 0.375
// Every other cell has obj -20 (conf ~2e-9) and is gated.
HeadInput hand_cell_input(const YoloBoxParams& p) {
  HeadInput in(p);
  for (int a = 0; a < p.num_anchors; ++a)
    for (int r = 0; r < p.grid_h; ++r)
      for (int c = 0; c < p.grid_w; ++c) in.at(a, 4, r, c) = -20.f;
  in.at(1, 0, 1, 2) = 0.f;
  in.at(1, 1, 1, 2) = kLn3;
  in.at(1, 2, 1, 2) = kLn2;
  in.at(1, 3, 1, 2) = 0.f;
  in.at(1, 4, 1, 2) = 0.f;
  in.at(1, 5, 1, 2) = 0.f;
  in.at(1, 6, 1, 2) = kLn3;
  return in;
}

constexpr int kHandBox = 1 * 6 + 1 * 3 + 2;  // m = a*H*W + row*W + col = 11

TEST(YoloBox, HandComputedCellUnclipped) {
  YoloBoxParams p = small_params();
  p.clip_bbox = false;
  const Outputs o = run(p, hand_cell_input(p).data, 7.f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 0], 100.f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 1], 62.5f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 2], 150.f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 3], 112.5f);
  const int m_total = boxes_per_level(p);
  EXPECT_EQ(o.scores[0 * m_total + kHandBox], 0.25f);
  EXPECT_EQ(o.scores[1 * m_total + kHandBox], 0.375f);
  // Every other box and score is zero (gated), even though the buffers were
  // pre-filled with 7.
  for (int m = 0; m < m_total; ++m) {
    if (m == kHandBox) continue;
    for (int k = 0; k < 4; ++k) EXPECT_EQ(o.boxes[m * 4 + k], 0.f) << "box " << m;
    for (int c = 0; c < p.num_classes; ++c) EXPECT_EQ(o.scores[c * m_total + m], 0.f) << "box " << m;
  }
}

TEST(YoloBox, HandComputedCellClippedToImgMinusOne) {
  // Same cell with clip_bbox: x2 150 > 149 -> 149 and y2 112.5 > 99 -> 99;
  // x1 100 and y1 62.5 are inside and unchanged.
  const YoloBoxParams p = small_params();
  const Outputs o = run(p, hand_cell_input(p).data);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 0], 100.f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 1], 62.5f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 2], 149.f);
  EXPECT_EQ(o.boxes[kHandBox * 4 + 3], 99.f);
}

TEST(YoloBox, ClipIsOneSided) {
  // One 1x1 cell per anchor, image 100 x 100, input 32 x 32.
  YoloBoxParams p;
  p.grid_h = 1;
  p.grid_w = 1;
  p.num_anchors = 2;
  p.num_classes = 1;
  p.anchors[0] = 32.f;
  p.anchors[1] = 32.f;
  p.anchors[2] = 32.f;
  p.anchors[3] = 32.f;
  p.downsample = 32;
  p.img_h = 100;
  p.img_w = 100;
  p.scale_x_y = 2.f;  // bias -0.5, so a centre can lie left of / above the image
  HeadInput in(p);
  // Anchor 0: tx 20 -> sigmoid 1 -> cx = (0 + 2 - 0.5) * 100 = 150; tw -10 ->
  // bw ~ 4.5e-3. x1 ~ 149.998 lies beyond img_w - 1 = 99 and is NOT clamped
  // from above; x2 ~ 150.002 -> 99, so x1 > x2.
  // ty -20 -> sigmoid ~2e-9 -> cy ~ -50; th -10 -> tiny height: y1 ~ -50 -> 0
  // and y2 ~ -49.998 stays negative (never clamped from below).
  in.at(0, 0, 0, 0) = 20.f;
  in.at(0, 1, 0, 0) = -20.f;
  in.at(0, 2, 0, 0) = -10.f;
  in.at(0, 3, 0, 0) = -10.f;
  // Anchor 1: tx = ty = 0 -> centre (0 + 1 - 0.5) * 100 = 50; tw = th = 3 ->
  // size e^3 * 100 ~ 2008.6: x1, y1 < 0 -> 0 and x2, y2 > 99 -> 99.
  in.at(1, 2, 0, 0) = 3.f;
  in.at(1, 3, 0, 0) = 3.f;

  const Outputs o = run(p, in.data);
  EXPECT_GT(o.boxes[0], 149.99f);
  EXPECT_LT(o.boxes[0], 150.f);
  EXPECT_EQ(o.boxes[1], 0.f);
  EXPECT_EQ(o.boxes[2], 99.f);
  EXPECT_LT(o.boxes[3], -49.99f);
  EXPECT_GT(o.boxes[3], -50.f);
  EXPECT_EQ(o.boxes[4], 0.f);
  EXPECT_EQ(o.boxes[5], 0.f);
  EXPECT_EQ(o.boxes[6], 99.f);
  EXPECT_EQ(o.boxes[7], 99.f);

  // Without clip_bbox nothing is clamped.
  p.clip_bbox = false;
  const Outputs u = run(p, in.data);
  EXPECT_LT(u.boxes[1], -50.f);
  EXPECT_GT(u.boxes[2], 150.f);
  EXPECT_LT(u.boxes[4], -900.f);
  EXPECT_GT(u.boxes[6], 1000.f);
}

TEST(YoloBox, GateZeroesBoxAndScores) {
  YoloBoxParams p = small_params();
  p.conf_thresh = 0.3f;
  HeadInput in(p);
  // All cells: boxes and class logits that would give non-zero output.
  for (auto& v : in.data) v = 0.5f;
  // Anchor 0 (0, 0): obj logit -1 -> conf 0.2689 < 0.3 -> gated.
  in.at(0, 4, 0, 0) = -1.f;
  const Outputs o = run(p, in.data, 7.f);
  const int m_total = boxes_per_level(p);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(o.boxes[k], 0.f);
  for (int c = 0; c < p.num_classes; ++c) EXPECT_EQ(o.scores[c * m_total + 0], 0.f);
  // Its neighbour (conf sigmoid(0.5) = 0.6225) is decoded.
  EXPECT_GT(o.boxes[4 + 2], 0.f);
  EXPECT_GT(o.scores[1], 0.f);
}

TEST(YoloBox, GateIsStrictLessThan) {
  // obj 0 gives conf exactly 0.5; with conf_thresh 0.5 it is NOT gated
  // (Paddle skips only when conf < conf_thresh).
  YoloBoxParams p = small_params();
  p.conf_thresh = 0.5f;
  HeadInput in(p);  // all logits 0: conf 0.5, class sigmoid 0.5
  const Outputs o = run(p, in.data);
  const int m_total = boxes_per_level(p);
  for (int m = 0; m < m_total; ++m) EXPECT_EQ(o.scores[m], 0.25f) << "box " << m;
  // With a threshold one ulp above 0.5 everything is gated.
  p.conf_thresh = std::nextafter(0.5f, 1.f);
  const Outputs g = run(p, in.data, 7.f);
  for (float v : g.boxes) EXPECT_EQ(v, 0.f);
  for (float v : g.scores) EXPECT_EQ(v, 0.f);
}

TEST(YoloBox, AnchorMajorOrderAndScoreSlice) {
  // Grid 1x2, two anchors, two classes; scores matrix [2, 10] with this level
  // in columns [3, 7).
  YoloBoxParams p;
  p.grid_h = 1;
  p.grid_w = 2;
  p.num_anchors = 2;
  p.num_classes = 2;
  p.anchors[0] = 8.f;
  p.anchors[1] = 8.f;
  p.anchors[2] = 16.f;
  p.anchors[3] = 16.f;
  p.downsample = 8;  // input 8 x 16
  p.img_h = 8;
  p.img_w = 16;
  p.clip_bbox = false;
  p.score_stride = 10;
  p.score_offset = 3;
  HeadInput in(p);  // tx = ty = tw = th = 0, obj 0 (conf 0.5)
  // Class logits: +-20 give class sigmoid 1 or ~2e-9, so a score of 0.5 marks
  // (anchor, col, class) uniquely.
  for (int a = 0; a < 2; ++a)
    for (int col = 0; col < 2; ++col)
      for (int c = 0; c < 2; ++c) in.at(a, 5 + c, 0, col) = -20.f;
  in.at(0, 5, 0, 1) = 20.f;  // anchor 0, col 1 -> class 0   (m = 1)
  in.at(1, 6, 0, 0) = 20.f;  // anchor 1, col 0 -> class 1   (m = 2)

  Outputs o;
  o.boxes.assign(4 * 4, 7.f);
  o.scores.assign(2 * 10, -1.f);
  yolo_box_cpu(p, in.data.data(), o.boxes.data(), o.scores.data());

  // Centres: cx = (col + 0.5) * 16 / 2 = 4 or 12, cy = 0.5 * 8 / 1 = 4.
  // Sizes: anchor * 16 / 16 (w) and anchor * 8 / 8 (h): 8 for anchor 0, 16
  // for anchor 1.
  const float expected[4][4] = {
      {0.f, 0.f, 8.f, 8.f},      // m 0: anchor 0, col 0
      {8.f, 0.f, 16.f, 8.f},     // m 1: anchor 0, col 1
      {-4.f, -4.f, 12.f, 12.f},  // m 2: anchor 1, col 0
      {4.f, -4.f, 20.f, 12.f},   // m 3: anchor 1, col 1
  };
  for (int m = 0; m < 4; ++m)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(o.boxes[m * 4 + k], expected[m][k]) << m << "," << k;

  for (int c = 0; c < 2; ++c) {
    for (int col = 0; col < 10; ++col) {
      const float v = o.scores[c * 10 + col];
      if (col < 3 || col >= 7) {
        EXPECT_EQ(v, -1.f) << "column " << col << " outside the slice was written";
      } else {
        const int m = col - 3;
        const bool hot = (c == 0 && m == 1) || (c == 1 && m == 2);
        if (hot) {
          EXPECT_EQ(v, 0.5f) << "class " << c << " box " << m;
        } else {
          EXPECT_LT(v, 1e-8f) << "class " << c << " box " << m;
        }
      }
    }
  }
}

// Paddle's float sigmoid: exp in float, 1.0 + and 1.0 / in double.
float paddle_sigmoid_ref(float x) { return static_cast<float>(1.0 / (1.0 + std::exp(-x))); }
float float_only_sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

TEST(YoloBox, BitExactWithPaddleArithmetic) {
  YoloBoxParams p;
  p.grid_h = 5;
  p.grid_w = 7;
  p.num_anchors = 3;
  p.num_classes = 4;
  const float anchors[6] = {10.f, 13.f, 16.f, 30.f, 33.f, 23.f};
  for (int i = 0; i < 6; ++i) p.anchors[i] = anchors[i];
  p.downsample = 16;  // input 80 x 112
  p.img_h = 375;
  p.img_w = 499;
  p.conf_thresh = 0.05f;
  p.score_stride = 200;
  p.score_offset = 40;
  const std::vector<float> in = testing_util::random_floats(
      static_cast<std::size_t>(3) * 9 * 5 * 7, 1234u, -4.f, 4.f);
  const Outputs o = run(p, in);

  const int hw = 35;
  int decoded = 0, gated = 0;
  for (int a = 0; a < 3; ++a) {
    for (int r = 0; r < 5; ++r) {
      for (int c = 0; c < 7; ++c) {
        auto v = [&](int e) { return in[(a * 9 + e) * hw + r * 7 + c]; };
        const int m = a * hw + r * 7 + c;
        const float conf = paddle_sigmoid_ref(v(4));
        if (conf < p.conf_thresh) {
          ++gated;
          for (int k = 0; k < 4; ++k) EXPECT_EQ(o.boxes[m * 4 + k], 0.f);
          for (int k = 0; k < 4; ++k) EXPECT_EQ(o.scores[k * 200 + 40 + m], 0.f);
          continue;
        }
        ++decoded;
        const float cx = (static_cast<float>(c) + paddle_sigmoid_ref(v(0)) * 1.f + 0.f) * 499.f / 7.f;
        const float cy = (static_cast<float>(r) + paddle_sigmoid_ref(v(1)) * 1.f + 0.f) * 375.f / 5.f;
        const float bw = std::exp(v(2)) * anchors[2 * a] * 499.f / 112.f;
        const float bh = std::exp(v(3)) * anchors[2 * a + 1] * 375.f / 80.f;
        float x1 = cx - bw / 2.f, y1 = cy - bh / 2.f, x2 = cx + bw / 2.f, y2 = cy + bh / 2.f;
        x1 = x1 > 0.f ? x1 : 0.f;
        y1 = y1 > 0.f ? y1 : 0.f;
        x2 = x2 < 498.f ? x2 : 498.f;
        y2 = y2 < 374.f ? y2 : 374.f;
        EXPECT_EQ(o.boxes[m * 4 + 0], x1) << "box " << m;
        EXPECT_EQ(o.boxes[m * 4 + 1], y1) << "box " << m;
        EXPECT_EQ(o.boxes[m * 4 + 2], x2) << "box " << m;
        EXPECT_EQ(o.boxes[m * 4 + 3], y2) << "box " << m;
        for (int k = 0; k < 4; ++k)
          EXPECT_EQ(o.scores[k * 200 + 40 + m], conf * paddle_sigmoid_ref(v(5 + k)))
              << "box " << m << " class " << k;
      }
    }
  }
  EXPECT_GT(decoded, 20);
  EXPECT_GT(gated, 0);
}

TEST(YoloBox, SigmoidUsesDoubleAfterFloatExp) {
  // The kernel must reproduce float(1.0 / (1.0 + double(expf(-x)))), which
  // differs from an all-float sigmoid for some inputs. Find such an input and
  // check the decoded score (conf 1 via obj 30, so score = sigmoid(cls)).
  float witness = 0.f;
  bool found = false;
  for (int i = 1; i < 100000 && !found; ++i) {
    const float x = -8.f + 16.f * static_cast<float>(i) / 100000.f;
    if (paddle_sigmoid_ref(x) != float_only_sigmoid(x)) {
      witness = x;
      found = true;
    }
  }
  ASSERT_TRUE(found) << "no input where the two sigmoids differ";

  YoloBoxParams p;
  p.grid_h = 1;
  p.grid_w = 1;
  p.num_anchors = 1;
  p.num_classes = 1;
  p.anchors[0] = p.anchors[1] = 32.f;
  p.img_h = p.img_w = 64;
  HeadInput in(p);
  in.at(0, 4, 0, 0) = 30.f;  // conf = float(1 / (1 + 9.4e-14)) = 1
  in.at(0, 5, 0, 0) = witness;
  const Outputs o = run(p, in.data);
  EXPECT_EQ(o.scores[0], paddle_sigmoid_ref(witness));
  EXPECT_NE(o.scores[0], float_only_sigmoid(witness));
}

TEST(YoloBox, PaddleImageExtent) {
  // Cases from the research note (§3.1): sometimes original - 1.
  EXPECT_EQ(paddle_image_extent(608, 59), 58);
  EXPECT_EQ(paddle_image_extent(608, 63), 62);
  EXPECT_EQ(paddle_image_extent(608, 118), 117);
  EXPECT_EQ(paddle_image_extent(608, 255), 254);
  EXPECT_EQ(paddle_image_extent(608, 585), 584);
  EXPECT_EQ(paddle_image_extent(416, 720), 719);
  EXPECT_EQ(paddle_image_extent(320, 300), 299);
  // Common VOC sizes come out exact.
  EXPECT_EQ(paddle_image_extent(608, 500), 500);
  EXPECT_EQ(paddle_image_extent(608, 375), 375);
  EXPECT_EQ(paddle_image_extent(608, 333), 333);
  EXPECT_EQ(paddle_image_extent(608, 334), 334);
  EXPECT_EQ(paddle_image_extent(608, 353), 353);
  EXPECT_EQ(paddle_image_extent(608, 608), 608);
  // The note counts 245 of 1..4096 that lose one at 608; none lose more.
  int minus_one = 0;
  for (int h = 1; h <= 4096; ++h) {
    const int e = paddle_image_extent(608, h);
    ASSERT_TRUE(e == h || e == h - 1) << h << " -> " << e;
    if (e == h - 1) ++minus_one;
  }
  EXPECT_EQ(minus_one, 245);
  EXPECT_THROW(paddle_image_extent(0, 100), Error);
  EXPECT_THROW(paddle_image_extent(608, 0), Error);
  EXPECT_THROW(paddle_image_extent(608, -5), Error);
}

TEST(YoloBox, InvalidParamsThrow) {
  const YoloBoxParams good = small_params();
  EXPECT_NO_THROW(validate_yolo_box_params(good));
  auto expect_bad = [&](void (*edit)(YoloBoxParams&)) {
    YoloBoxParams p = good;
    edit(p);
    EXPECT_THROW(validate_yolo_box_params(p), Error);
    std::vector<float> in(1024, 0.f), boxes(1024), scores(1024);
    EXPECT_THROW(yolo_box_cpu(p, in.data(), boxes.data(), scores.data()), Error);
  };
  expect_bad([](YoloBoxParams& p) { p.grid_h = 0; });
  expect_bad([](YoloBoxParams& p) { p.grid_w = -1; });
  expect_bad([](YoloBoxParams& p) { p.num_anchors = 0; });
  expect_bad([](YoloBoxParams& p) { p.num_anchors = kMaxAnchorsPerLevel + 1; });
  expect_bad([](YoloBoxParams& p) { p.num_classes = 0; });
  expect_bad([](YoloBoxParams& p) { p.downsample = 0; });
  expect_bad([](YoloBoxParams& p) { p.img_h = 0; });
  expect_bad([](YoloBoxParams& p) { p.img_w = -3; });
  // A*H*W = 12 columns.
  expect_bad([](YoloBoxParams& p) { p.score_stride = 11; });
  expect_bad([](YoloBoxParams& p) {
    p.score_stride = 20;
    p.score_offset = 9;
  });
  expect_bad([](YoloBoxParams& p) { p.score_offset = 1; });  // stride 0 means exactly 12
  expect_bad([](YoloBoxParams& p) { p.score_offset = -1; });
  expect_bad([](YoloBoxParams& p) { p.score_stride = -12; });

  YoloBoxParams edge = good;
  edge.score_stride = 20;
  edge.score_offset = 8;  // 8 + 12 = 20 fits exactly
  EXPECT_NO_THROW(validate_yolo_box_params(edge));
  edge.num_anchors = kMaxAnchorsPerLevel;
  edge.score_stride = 0;
  edge.score_offset = 0;
  EXPECT_NO_THROW(validate_yolo_box_params(edge));

  std::vector<float> buf(64);
  EXPECT_THROW(yolo_box_cpu(good, nullptr, buf.data(), buf.data()), Error);
}

// The CUDA frame graph is keyed by these params: every field must count.
TEST(YoloBox, ParamsCompareFieldByField) {
  YoloBoxParams p;
  p.grid_h = p.grid_w = 10;
  p.num_anchors = 3;
  p.num_classes = 80;
  p.anchors[5] = 12.f;
  using Change = void (*)(YoloBoxParams*);
  const std::vector<Change> changes = {
      [](YoloBoxParams* q) { q->grid_h = 11; },      [](YoloBoxParams* q) { q->grid_w = 11; },
      [](YoloBoxParams* q) { q->num_anchors = 2; },  [](YoloBoxParams* q) { q->num_classes = 79; },
      [](YoloBoxParams* q) { q->anchors[0] = 1.f; }, [](YoloBoxParams* q) { q->anchors[15] = 1.f; },
      [](YoloBoxParams* q) { q->downsample = 16; },  [](YoloBoxParams* q) { q->conf_thresh = 0.1f; },
      [](YoloBoxParams* q) { q->clip_bbox = false; }, [](YoloBoxParams* q) { q->scale_x_y = 1.05f; },
      [](YoloBoxParams* q) { q->img_h = 7; },        [](YoloBoxParams* q) { q->img_w = 7; },
      [](YoloBoxParams* q) { q->score_stride = 9; }, [](YoloBoxParams* q) { q->score_offset = 9; }};
  testing_util::expect_field_wise_equality(p, changes);
}

}  // namespace
}  // namespace tx2yolo
