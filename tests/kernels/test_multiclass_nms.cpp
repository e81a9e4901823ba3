// Tests for the multiclass_nms CPU reference (kernels/cpu/multiclass_nms.cpp),
// Paddle's multiclass_nms3 CPU kernel: candidate filter, stable sort, greedy
// NMS with IoU <= threshold kept, nms_top_k / keep_top_k, label grouping, the
// +1 IoU convention, background_label and the degenerate IoU cases.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/multiclass_nms.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

// A problem of M boxes and C classes, scores [C, M] zero by default.
struct Problem {
  int num_classes;
  std::vector<float> boxes;   // [M, 4]
  std::vector<float> scores;  // [C, M]

  Problem(int classes, std::vector<std::vector<float>> box_rows) : num_classes(classes) {
    for (const auto& r : box_rows) boxes.insert(boxes.end(), r.begin(), r.end());
    scores.assign(static_cast<std::size_t>(classes) * box_rows.size(), 0.f);
  }
  int num_boxes() const { return static_cast<int>(boxes.size() / 4); }
  void set(int cls, int m, float s) { scores[static_cast<std::size_t>(cls) * num_boxes() + m] = s; }
  std::vector<Detection> run(const MulticlassNmsParams& p) const {
    return multiclass_nms_cpu(p, boxes.data(), scores.data(), num_boxes(), num_classes);
  }
};

// (class_id, box_index) pairs of a result, in order.
std::vector<std::pair<int, int>> ids(const std::vector<Detection>& dets) {
  std::vector<std::pair<int, int>> v;
  for (const auto& d : dets) v.emplace_back(d.class_id, d.box_index);
  return v;
}

using Ids = std::vector<std::pair<int, int>>;

MulticlassNmsParams default_params() {
  MulticlassNmsParams p;  // 0.01, 1000, 100, 0.45, normalized, eta 1, bg -1
  return p;
}

TEST(MulticlassNms, SimpleSuppression) {
  // Box 1 overlaps box 0 with IoU 81/119 = 0.68 > 0.45 and scores lower;
  // box 2 is disjoint.
  Problem pr(1, {{0, 0, 10, 10}, {1, 1, 11, 11}, {50, 50, 60, 60}});
  pr.set(0, 0, 0.6f);
  pr.set(0, 1, 0.9f);
  pr.set(0, 2, 0.3f);
  const auto dets = pr.run(default_params());
  EXPECT_EQ(ids(dets), (Ids{{0, 1}, {0, 2}}));
  ASSERT_EQ(dets.size(), 2u);
  // The fields are copied from the inputs.
  EXPECT_EQ(dets[0].score, 0.9f);
  EXPECT_EQ(dets[0].x1, 1.f);
  EXPECT_EQ(dets[0].y1, 1.f);
  EXPECT_EQ(dets[0].x2, 11.f);
  EXPECT_EQ(dets[0].y2, 11.f);
  EXPECT_EQ(dets[1].score, 0.3f);
  EXPECT_EQ(dets[1].x1, 50.f);
  EXPECT_EQ(dets[1].y2, 60.f);
}

TEST(MulticlassNms, IouEqualToThresholdIsKept) {
  // Box 1 = [0,0,9,5] lies inside box 0 = [0,0,10,10]: IoU = 45 / 100, which
  // rounds to exactly 0.45f, the default threshold. Kept (IoU <= threshold).
  Problem pr(1, {{0, 0, 10, 10}, {0, 0, 9, 5}});
  pr.set(0, 0, 0.9f);
  pr.set(0, 1, 0.8f);
  ASSERT_EQ(nms_iou(&pr.boxes[4], &pr.boxes[0], true), 0.45f);
  MulticlassNmsParams p = default_params();
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {0, 1}}));
  // One ulp lower and it is suppressed.
  p.nms_threshold = std::nextafter(0.45f, 0.f);
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}}));
}

TEST(MulticlassNms, ScoreThresholdIsStrict) {
  Problem pr(1, {{0, 0, 1, 1}, {5, 5, 6, 6}, {9, 9, 10, 10}});
  pr.set(0, 0, 0.01f);                        // == threshold: not a candidate
  pr.set(0, 1, std::nextafter(0.01f, 1.f));   // just above
  pr.set(0, 2, std::numeric_limits<float>::quiet_NaN());  // never a candidate
  EXPECT_EQ(ids(pr.run(default_params())), (Ids{{0, 1}}));
}

TEST(MulticlassNms, TiedScoresKeepLowerIndexFirst) {
  // Boxes 1 and 3 are identical with equal scores: the lower index wins and
  // suppresses the other. Boxes 0 and 2 are disjoint, with the same score as
  // each other: they come out in index order.
  Problem pr(1, {{100, 100, 110, 110}, {0, 0, 10, 10}, {200, 200, 210, 210}, {0, 0, 10, 10}});
  pr.set(0, 3, 0.7f);
  pr.set(0, 1, 0.7f);
  pr.set(0, 2, 0.5f);
  pr.set(0, 0, 0.5f);
  EXPECT_EQ(ids(pr.run(default_params())), (Ids{{0, 1}, {0, 0}, {0, 2}}));
}

TEST(MulticlassNms, ManyTiesStayInIndexOrder) {
  // 64 disjoint boxes in two score levels: enough elements that an unstable
  // sort (introsort) would scramble the ties. Within each level the order must
  // be the box index order, for nms_top_k and for keep_top_k alike.
  std::vector<std::vector<float>> rows;
  for (int m = 0; m < 64; ++m) {
    const float x = 20.f * static_cast<float>(m);
    rows.push_back({x, 0.f, x + 10.f, 10.f});
  }
  Problem pr(1, rows);
  for (int m = 0; m < 64; ++m) pr.set(0, m, (m % 3 == 0) ? 0.7f : 0.5f);
  Ids expected;
  for (int m = 0; m < 64; m += 3) expected.emplace_back(0, m);
  for (int m = 0; m < 64; ++m)
    if (m % 3 != 0) expected.emplace_back(0, m);
  MulticlassNmsParams p = default_params();
  EXPECT_EQ(ids(pr.run(p)), expected);
  p.nms_top_k = 30;
  EXPECT_EQ(ids(pr.run(p)), Ids(expected.begin(), expected.begin() + 30));
  p.nms_top_k = -1;
  p.keep_top_k = 40;
  EXPECT_EQ(ids(pr.run(p)), Ids(expected.begin(), expected.begin() + 40));
}

TEST(MulticlassNms, ClassesAreIndependentAndGroupedByLabel) {
  // The same two overlapping boxes in both classes. Each class suppresses
  // only within itself. Class 1 scores higher, but rows are grouped by label
  // ascending, by descending score within a label.
  Problem pr(2, {{0, 0, 10, 10}, {1, 1, 11, 11}, {40, 40, 50, 50}});
  pr.set(0, 0, 0.2f);
  pr.set(0, 1, 0.3f);
  pr.set(0, 2, 0.25f);
  pr.set(1, 0, 0.95f);
  pr.set(1, 1, 0.5f);
  pr.set(1, 2, 0.6f);
  const auto dets = pr.run(default_params());
  EXPECT_EQ(ids(dets), (Ids{{0, 1}, {0, 2}, {1, 0}, {1, 2}}));
  ASSERT_EQ(dets.size(), 4u);
  EXPECT_EQ(dets[0].score, 0.3f);
  EXPECT_EQ(dets[2].score, 0.95f);
}

TEST(MulticlassNms, NmsTopKLimitsCandidatesPerClass) {
  // Four disjoint boxes in two classes.
  Problem pr(2, {{0, 0, 1, 1}, {10, 10, 11, 11}, {20, 20, 21, 21}, {30, 30, 31, 31}});
  const float s0[4] = {0.1f, 0.4f, 0.3f, 0.2f};
  const float s1[4] = {0.5f, 0.6f, 0.7f, 0.8f};
  for (int m = 0; m < 4; ++m) {
    pr.set(0, m, s0[m]);
    pr.set(1, m, s1[m]);
  }
  MulticlassNmsParams p = default_params();
  p.nms_top_k = 2;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 1}, {0, 2}, {1, 3}, {1, 2}}));
  p.nms_top_k = 0;
  EXPECT_TRUE(pr.run(p).empty());
  p.nms_top_k = -1;  // all
  EXPECT_EQ(pr.run(p).size(), 8u);
  p.nms_top_k = 4;
  EXPECT_EQ(pr.run(p).size(), 8u);
}

TEST(MulticlassNms, NmsTopKAppliesBeforeSuppression) {
  // Box 0 (0.9) suppresses box 1 (0.8); with nms_top_k 2 box 2 (0.7) is never
  // considered, so only one box survives.
  Problem pr(1, {{0, 0, 10, 10}, {0, 0, 10, 10}, {50, 50, 60, 60}});
  pr.set(0, 0, 0.9f);
  pr.set(0, 1, 0.8f);
  pr.set(0, 2, 0.7f);
  MulticlassNmsParams p = default_params();
  p.nms_top_k = 2;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}}));
}

TEST(MulticlassNms, KeepTopKLargerThanTotalDoesNotReorder) {
  Problem pr(3, {{0, 0, 1, 1}, {10, 10, 11, 11}});
  pr.set(2, 0, 0.9f);
  pr.set(0, 1, 0.2f);
  pr.set(1, 0, 0.5f);
  pr.set(1, 1, 0.6f);
  MulticlassNmsParams p = default_params();
  p.keep_top_k = 10;
  const Ids expected{{0, 1}, {1, 1}, {1, 0}, {2, 0}};
  EXPECT_EQ(ids(pr.run(p)), expected);
  p.keep_top_k = 4;  // equal to the total: no truncation either
  EXPECT_EQ(ids(pr.run(p)), expected);
  p.keep_top_k = -1;
  EXPECT_EQ(ids(pr.run(p)), expected);
}

TEST(MulticlassNms, KeepTopKTruncationTiesGoToLowerLabel) {
  // Kept: class 0 {m0 0.5}, class 1 {m1 0.9, m0 0.5}, class 2 {m1 0.5}.
  // Global stable order: (1,m1 .9), (0,m0 .5), (1,m0 .5), (2,m1 .5).
  // keep_top_k 2 keeps (1,m1) and the tie goes to label 0; re-emitted by label.
  Problem pr(3, {{0, 0, 1, 1}, {10, 10, 11, 11}});
  pr.set(0, 0, 0.5f);
  pr.set(1, 1, 0.9f);
  pr.set(1, 0, 0.5f);
  pr.set(2, 1, 0.5f);
  MulticlassNmsParams p = default_params();
  p.keep_top_k = 2;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {1, 1}}));
  p.keep_top_k = 3;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {1, 1}, {1, 0}}));
}

TEST(MulticlassNms, KeepTopKKeepsSelectionOrderWithinLabel) {
  // Within a label the truncated list stays in descending score order; the
  // 3-D scores path does not re-sort it by box index.
  Problem pr(2, {{0, 0, 1, 1}, {10, 10, 11, 11}, {20, 20, 21, 21}, {30, 30, 31, 31}});
  pr.set(0, 0, 0.6f);
  pr.set(0, 1, 0.3f);
  pr.set(0, 2, 0.9f);
  pr.set(0, 3, 0.2f);
  pr.set(1, 3, 0.7f);
  pr.set(1, 0, 0.1f);
  MulticlassNmsParams p = default_params();
  p.keep_top_k = 3;  // 0.9 (0,m2), 0.7 (1,m3), 0.6 (0,m0)
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 2}, {0, 0}, {1, 3}}));
  p.keep_top_k = 0;  // 0 <= keep_top_k < total: everything is cut
  EXPECT_TRUE(pr.run(p).empty());
}

TEST(MulticlassNms, EmptyResultWithoutCandidates) {
  Problem pr(2, {{0, 0, 10, 10}, {5, 5, 15, 15}});
  pr.set(0, 0, 0.01f);
  pr.set(1, 1, 0.005f);
  EXPECT_TRUE(pr.run(default_params()).empty());
  // No boxes or no classes at all is also an empty result, not an error.
  EXPECT_TRUE(multiclass_nms_cpu(default_params(), nullptr, nullptr, 0, 3).empty());
  EXPECT_TRUE(multiclass_nms_cpu(default_params(), pr.boxes.data(), nullptr, 2, 0).empty());
}

TEST(MulticlassNms, NormalizedVersusPlusOneIou) {
  // a = [0,0,9,9], b = [5,0,14,9].
  //   normalized: inter 4*9 = 36, areas 81, IoU = 36 / 126 = 0.2857
  //   +1 pixel:   inter 5*10 = 50, areas 100, IoU = 50 / 150 = 0.3333
  const float a[4] = {0, 0, 9, 9};
  const float b[4] = {5, 0, 14, 9};
  EXPECT_EQ(nms_iou(a, b, true), 36.f / 126.f);
  EXPECT_EQ(nms_iou(a, b, false), 50.f / 150.f);
  // Touching edges: 0 when normalized; with +1 the shared pixel column counts:
  // inter 1*11 = 11, areas 121, IoU = 11 / 231.
  const float c[4] = {0, 0, 10, 10};
  const float d[4] = {10, 0, 20, 10};
  EXPECT_EQ(nms_iou(c, d, true), 0.f);
  EXPECT_EQ(nms_iou(c, d, false), 11.f / 231.f);

  Problem pr(1, {{0, 0, 9, 9}, {5, 0, 14, 9}});
  pr.set(0, 0, 0.9f);
  pr.set(0, 1, 0.8f);
  MulticlassNmsParams p = default_params();
  p.nms_threshold = 0.3f;
  p.normalized = true;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {0, 1}}));
  p.normalized = false;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}}));
}

TEST(MulticlassNms, DisjointEarlyOutBeatsPlusOne) {
  // b starts 0.5 right of a's x2. Without the early-out the +1 rule would
  // give inter_w = 0.5; Paddle returns 0 first.
  const float a[4] = {0, 0, 10, 10};
  const float b[4] = {10.5f, 0, 20, 10};
  EXPECT_EQ(nms_iou(a, b, false), 0.f);
  EXPECT_EQ(nms_iou(b, a, false), 0.f);
  const float c[4] = {0, 10.5f, 10, 20};  // below a
  EXPECT_EQ(nms_iou(a, c, false), 0.f);
}

TEST(MulticlassNms, BackgroundLabelIsSkipped) {
  Problem pr(3, {{0, 0, 1, 1}});
  pr.set(0, 0, 0.5f);
  pr.set(1, 0, 0.6f);
  pr.set(2, 0, 0.7f);
  MulticlassNmsParams p = default_params();
  p.background_label = 1;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {2, 0}}));
  p.background_label = 0;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{1, 0}, {2, 0}}));
  p.background_label = -1;  // none
  EXPECT_EQ(pr.run(p).size(), 3u);
  p.background_label = 3;  // == C, as PaddleDetection passes: none
  EXPECT_EQ(pr.run(p).size(), 3u);
}

TEST(MulticlassNms, ZeroAreaAndNaNIou) {
  // Two identical zero-width boxes (normalized): inter 0 and both areas 0, so
  // IoU = 0/0 = NaN; "NaN <= threshold" is false and the second is dropped.
  const float z[4] = {5, 0, 5, 10};
  EXPECT_TRUE(std::isnan(nms_iou(z, z, true)));
  // A zero-width box against a real box: inter 0, IoU 0.
  const float r[4] = {0, 0, 10, 10};
  EXPECT_EQ(nms_iou(z, r, true), 0.f);
  // With +1 the zero-width box has area 1*11 and overlaps r by 1*11.
  EXPECT_EQ(nms_iou(z, r, false), 11.f / 121.f);

  Problem pr(1, {{5, 0, 5, 10}, {5, 0, 5, 10}, {0, 0, 10, 10}});
  pr.set(0, 0, 0.9f);
  pr.set(0, 1, 0.8f);
  pr.set(0, 2, 0.7f);
  EXPECT_EQ(ids(pr.run(default_params())), (Ids{{0, 0}, {0, 2}}));
}

TEST(MulticlassNms, InvertedBoxGivesNegativeIou) {
  // yolo_box's one-sided clip can produce x1 > x2. Paddle's area is 0 but the
  // intersection is not guarded: inter = (5 - 10) * 10 = -50 and
  // IoU = -50 / (0 + 200 + 50) = -0.2, which is <= threshold: kept.
  const float inv[4] = {10, 0, 5, 10};
  const float big[4] = {0, 0, 20, 10};
  EXPECT_EQ(nms_iou(inv, big, true), -50.f / 250.f);
  // Two identical inverted boxes hit the disjoint early-out (x1 > other x2): 0.
  EXPECT_EQ(nms_iou(inv, inv, true), 0.f);

  Problem pr(1, {{0, 0, 20, 10}, {10, 0, 5, 10}, {10, 0, 5, 10}});
  pr.set(0, 0, 0.9f);
  pr.set(0, 1, 0.8f);
  pr.set(0, 2, 0.7f);
  EXPECT_EQ(ids(pr.run(default_params())), (Ids{{0, 0}, {0, 1}, {0, 2}}));
}

TEST(MulticlassNms, EtaShrinksThresholdOnlyAboveHalf) {
  // Box 1 = [0,0,10,4] inside box 0 = [0,0,10,10]: IoU 40/100 = 0.4.
  // Box 2 is disjoint from both.
  Problem pr(1, {{0, 0, 10, 10}, {50, 50, 60, 60}, {0, 0, 10, 4}});
  pr.set(0, 0, 0.9f);
  pr.set(0, 1, 0.8f);
  pr.set(0, 2, 0.7f);
  MulticlassNmsParams p = default_params();
  p.nms_threshold = 0.6f;
  p.nms_eta = 1.f;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {0, 1}, {0, 2}}));
  // eta 0.9: 0.6 -> 0.54 after box 0, -> 0.486 after box 1; 0.4 still passes.
  p.nms_eta = 0.9f;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {0, 1}, {0, 2}}));
  // eta 0.6: 0.6 -> 0.36 after box 0 (then <= 0.5, frozen); 0.4 > 0.36.
  p.nms_eta = 0.6f;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {0, 1}}));
  // Starting at 0.5 the threshold never shrinks (needs > 0.5).
  p.nms_threshold = 0.5f;
  p.nms_eta = 0.1f;
  EXPECT_EQ(ids(pr.run(p)), (Ids{{0, 0}, {0, 1}, {0, 2}}));
}

TEST(MulticlassNms, InvalidParamsThrow) {
  EXPECT_NO_THROW(validate_multiclass_nms_params(default_params()));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  MulticlassNmsParams p = default_params();
  p.score_threshold = nan;
  EXPECT_THROW(validate_multiclass_nms_params(p), Error);
  p = default_params();
  p.nms_threshold = nan;
  EXPECT_THROW(validate_multiclass_nms_params(p), Error);
  p = default_params();
  p.nms_eta = 0.f;
  EXPECT_THROW(validate_multiclass_nms_params(p), Error);
  p.nms_eta = std::numeric_limits<float>::infinity();
  EXPECT_THROW(validate_multiclass_nms_params(p), Error);
  p = default_params();
  p.background_label = -2;
  EXPECT_THROW(validate_multiclass_nms_params(p), Error);

  const float box[4] = {0, 0, 1, 1};
  const float score[1] = {0.5f};
  EXPECT_THROW(multiclass_nms_cpu(default_params(), box, score, -1, 1), Error);
  EXPECT_THROW(multiclass_nms_cpu(default_params(), box, score, 1, -1), Error);
  EXPECT_THROW(multiclass_nms_cpu(default_params(), nullptr, score, 1, 1), Error);
  p.background_label = -2;
  EXPECT_THROW(multiclass_nms_cpu(p, box, score, 1, 1), Error);
}

// The CUDA backend remakes its GPU NMS when these change: every field must count.
TEST(MulticlassNms, ParamsCompareFieldByField) {
  using Change = void (*)(MulticlassNmsParams*);
  const std::vector<Change> changes = {
      [](MulticlassNmsParams* q) { q->score_threshold = 0.5f; }, [](MulticlassNmsParams* q) { q->nms_top_k = 7; },
      [](MulticlassNmsParams* q) { q->keep_top_k = 7; },         [](MulticlassNmsParams* q) { q->nms_threshold = 0.5f; },
      [](MulticlassNmsParams* q) { q->normalized = false; },     [](MulticlassNmsParams* q) { q->nms_eta = 0.5f; },
      [](MulticlassNmsParams* q) { q->background_label = 0; }};
  testing_util::expect_field_wise_equality(MulticlassNmsParams{}, changes);
}

}  // namespace
}  // namespace tx2yolo
