// CPU reference for multiclass_nms: Paddle's multiclass_nms3 CPU kernel for
// one image, the 3-D scores path (shared/research/paddle-semantics.md §4.2;
// checked against Paddle's paddle/phi/kernels/cpu/multiclass_nms3_kernel.cc).
//
// Layout (fp32): boxes [M, 4] rows (x1, y1, x2, y2); scores [C, M], class c of
// box m at scores[c*M + m]. Output: one Detection per kept box.
//
// Algorithm:
//   1. For each class c = 0..C-1 except c == background_label:
//      a. candidates = { m : scores[c][m] > score_threshold } (strict; NaN
//         scores are never candidates), in index order;
//      b. stable sort by score descending (equal scores keep the lower m first);
//      c. if 0 <= nms_top_k < #candidates, keep the first nms_top_k;
//      d. greedy NMS, thr = nms_threshold: a candidate is kept iff
//         iou(candidate, k) <= thr for every already-kept box k of this class
//         (checked in kept order; a NaN IoU fails the test, so the candidate
//         is dropped); after each keep, if nms_eta < 1 and thr > 0.5 then
//         thr *= nms_eta. The kept list stays in selection order.
//   2. If 0 <= keep_top_k < total kept: collect (score, label, m) over labels
//      ascending and selection order within a label, stable sort by score
//      descending (ties: lower label, then earlier selection), keep the first
//      keep_top_k, and regroup by label (within a label, still in that order,
//      which is the selection order; the 3-D path does not re-sort by m).
//   3. Output grouped by label ascending, selection order within a label.
//      Nothing kept => empty vector (Paddle's [0, 6] Out with rois_num 0).
//
// IoU (Paddle's JaccardOverlap(a, b), float, n = normalized ? 0 : 1):
//   if b.x1 > a.x2 || b.x2 < a.x1 || b.y1 > a.y2 || b.y2 < a.y1: 0
//   else inter = (min(x2) - max(x1) + n) * (min(y2) - max(y1) + n)
//        area(r) = (r.x2 < r.x1 || r.y2 < r.y1) ? 0 : (w + n) * (h + n)
//        iou = inter / (area(a) + area(b) - inter)
//   (No guard: an inverted box can give a negative IoU, and two zero-area
//    boxes with zero intersection give 0/0 = NaN.)
#include "kernels/multiclass_nms.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

#include "core/error.h"

namespace tx2yolo {

namespace {

float box_area(const float* b, bool normalized) {
  if (b[2] < b[0] || b[3] < b[1]) return 0.f;
  const float w = b[2] - b[0];
  const float h = b[3] - b[1];
  if (normalized) return w * h;
  return (w + 1.f) * (h + 1.f);
}

struct Candidate {
  float score;
  int index;
};

struct Kept {
  float score;
  int label;
  int index;
};

}  // namespace

bool operator==(const MulticlassNmsParams& a, const MulticlassNmsParams& b) {
  return a.score_threshold == b.score_threshold && a.nms_top_k == b.nms_top_k && a.keep_top_k == b.keep_top_k &&
         a.nms_threshold == b.nms_threshold && a.normalized == b.normalized && a.nms_eta == b.nms_eta &&
         a.background_label == b.background_label;
}

void validate_multiclass_nms_params(const MulticlassNmsParams& p) {
  TX2_REQUIRE(!std::isnan(p.score_threshold), "multiclass_nms: score_threshold is NaN");
  TX2_REQUIRE(!std::isnan(p.nms_threshold), "multiclass_nms: nms_threshold is NaN");
  TX2_REQUIRE(std::isfinite(p.nms_eta) && p.nms_eta > 0.f, "multiclass_nms: nms_eta ", p.nms_eta,
              " must be finite and positive");
  TX2_REQUIRE(p.background_label >= -1, "multiclass_nms: background_label ", p.background_label,
              " must be -1 (none) or a class id");
}

float nms_iou(const float* a, const float* b, bool normalized) {
  if (b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1]) return 0.f;
  const float inter_x1 = std::max(a[0], b[0]);
  const float inter_y1 = std::max(a[1], b[1]);
  const float inter_x2 = std::min(a[2], b[2]);
  const float inter_y2 = std::min(a[3], b[3]);
  const float n = normalized ? 0.f : 1.f;
  const float inter_w = inter_x2 - inter_x1 + n;
  const float inter_h = inter_y2 - inter_y1 + n;
  const float inter = inter_w * inter_h;
  const float area_a = box_area(a, normalized);
  const float area_b = box_area(b, normalized);
  return inter / (area_a + area_b - inter);
}

std::vector<Detection> multiclass_nms_cpu(const MulticlassNmsParams& p, const float* boxes,
                                          const float* scores, int num_boxes, int num_classes) {
  validate_multiclass_nms_params(p);
  TX2_REQUIRE(num_boxes >= 0 && num_classes >= 0, "multiclass_nms_cpu: ", num_boxes, " boxes and ",
              num_classes, " classes; expected non-negative counts");
  std::vector<Detection> out;
  if (num_boxes == 0 || num_classes == 0) return out;
  TX2_REQUIRE(boxes != nullptr && scores != nullptr,
              "multiclass_nms_cpu: null boxes or scores pointer");

  const std::size_t M = static_cast<std::size_t>(num_boxes);
  // selected[c]: kept box indices of class c in selection order.
  std::vector<std::vector<int>> selected(static_cast<std::size_t>(num_classes));
  std::vector<Candidate> candidates;
  std::size_t total_kept = 0;

  for (int c = 0; c < num_classes; ++c) {
    if (c == p.background_label) continue;
    const float* class_scores = scores + static_cast<std::size_t>(c) * M;

    candidates.clear();
    for (int m = 0; m < num_boxes; ++m) {
      if (class_scores[m] > p.score_threshold) candidates.push_back({class_scores[m], m});
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& x, const Candidate& y) { return x.score > y.score; });
    if (p.nms_top_k >= 0 && static_cast<std::size_t>(p.nms_top_k) < candidates.size()) {
      candidates.resize(static_cast<std::size_t>(p.nms_top_k));
    }

    std::vector<int>& kept = selected[static_cast<std::size_t>(c)];
    float threshold = p.nms_threshold;
    for (const Candidate& cand : candidates) {
      const float* box = boxes + static_cast<std::size_t>(cand.index) * 4;
      bool keep = true;
      for (int k : kept) {
        const float iou = nms_iou(box, boxes + static_cast<std::size_t>(k) * 4, p.normalized);
        keep = iou <= threshold;  // false for NaN
        if (!keep) break;
      }
      if (keep) {
        kept.push_back(cand.index);
        if (p.nms_eta < 1.f && threshold > 0.5f) threshold *= p.nms_eta;
      }
    }
    total_kept += kept.size();
  }

  if (p.keep_top_k >= 0 && total_kept > static_cast<std::size_t>(p.keep_top_k)) {
    std::vector<Kept> all;
    all.reserve(total_kept);
    for (int c = 0; c < num_classes; ++c) {
      const float* class_scores = scores + static_cast<std::size_t>(c) * M;
      for (int m : selected[static_cast<std::size_t>(c)]) all.push_back({class_scores[m], c, m});
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const Kept& x, const Kept& y) { return x.score > y.score; });
    all.resize(static_cast<std::size_t>(p.keep_top_k));
    for (auto& list : selected) list.clear();
    for (const Kept& k : all) selected[static_cast<std::size_t>(k.label)].push_back(k.index);
  }

  for (int c = 0; c < num_classes; ++c) {
    const float* class_scores = scores + static_cast<std::size_t>(c) * M;
    for (int m : selected[static_cast<std::size_t>(c)]) {
      Detection d;
      d.class_id = c;
      d.score = class_scores[m];
      const float* box = boxes + static_cast<std::size_t>(m) * 4;
      d.x1 = box[0];
      d.y1 = box[1];
      d.x2 = box[2];
      d.y2 = box[3];
      d.box_index = m;
      out.push_back(d);
    }
  }
  return out;
}

}  // namespace tx2yolo
