#include "eval/coco_metric.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "weights/json_guard.h"

namespace tx2yolo {

namespace {

constexpr std::uint64_t kMaxCocoFileBytes = 1ull << 30;
constexpr std::size_t kMaxResults = 20000000;

using json = nlohmann::json;

long long integer_field(const json& o, const char* key, const std::string& where) {
  TX2_REQUIRE(o.contains(key) && o[key].is_number_integer(), where, ": no integer \"", key, "\"");
  return o[key].get<long long>();
}

double number_field(const json& o, const char* key, const std::string& where) {
  TX2_REQUIRE(o.contains(key) && o[key].is_number(), where, ": no number \"", key, "\"");
  const double v = o[key].get<double>();
  TX2_REQUIRE(std::isfinite(v), where, ": \"", key, "\" is not finite");
  return v;
}

void read_bbox(const json& v, double* bbox, const std::string& where) {
  TX2_REQUIRE(v.is_array() && v.size() == 4, where, ": \"bbox\" is not [x, y, w, h]");
  for (int i = 0; i < 4; ++i) {
    TX2_REQUIRE(v[static_cast<std::size_t>(i)].is_number(), where, ": \"bbox\" holds a non-number");
    bbox[i] = v[static_cast<std::size_t>(i)].get<double>();
    TX2_REQUIRE(std::isfinite(bbox[i]), where, ": \"bbox\" holds a non-finite number");
  }
}

// Results are large (100 per image): read as a stream of entries, never as
// a document. Entries are objects; their "image_id", "category_id", "bbox"
// and "score" are read, anything else skipped.
class ResultsSax : public SaxProblem {
 public:
  explicit ResultsSax(std::vector<CocoBox>* out) : out_(out) {}

  bool null() { return scalar_other(); }
  bool boolean(bool) { return scalar_other(); }
  bool number_integer(json::number_integer_t v) { return number(static_cast<double>(v), true); }
  bool number_unsigned(json::number_unsigned_t v) { return number(static_cast<double>(v), true); }
  bool number_float(json::number_float_t v, const json::string_t&) { return number(v, false); }
  bool string(json::string_t&) { return scalar_other(); }
  bool binary(json::binary_t&) { return scalar_other(); }
  bool start_object(std::size_t) {
    ++depth_;
    if (depth_ == 1) return fail("a results file is a list of detections, not an object");
    if (depth_ == 2) {
      if (out_->size() >= kMaxResults) return fail(cat("more than ", kMaxResults, " detections"));
      box_ = CocoBox();
      seen_ = 0;
      bbox_n_ = 0;
    }
    return true;
  }
  bool end_object() {
    if (depth_ == 2) {
      if ((seen_ & 15) != 15)
        return fail(cat("detection ", out_->size() + 1, " lacks ",
                        !(seen_ & 1) ? "\"image_id\"" : !(seen_ & 2) ? "\"category_id\"" : !(seen_ & 4) ? "\"bbox\""
                                                                                                           : "\"score\""));
      box_.id = static_cast<long long>(out_->size()) + 1;
      box_.area = box_.bbox[2] * box_.bbox[3];
      out_->push_back(box_);
    }
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    ++depth_;
    if (depth_ == 2) return fail(cat("detection ", out_->size() + 1, " is not an object"));
    if (depth_ == 3 && key_ == "bbox") {
      in_bbox_ = true;
      bbox_n_ = 0;
    }
    return true;
  }
  bool end_array() {
    if (in_bbox_ && depth_ == 3) {
      in_bbox_ = false;
      if (bbox_n_ != 4) return fail(cat("detection ", out_->size() + 1, ": \"bbox\" is not [x, y, w, h]"));
      seen_ |= 4;
    }
    --depth_;
    return true;
  }
  bool key(json::string_t& k) {
    if (depth_ == 2) key_ = k;
    return true;
  }

 private:
  bool scalar_other() {
    if (depth_ == 0) return fail("a results file is a list of detections");
    if (depth_ == 1) return fail(cat("detection ", out_->size() + 1, " is not an object"));
    if (depth_ == 2 && (key_ == "image_id" || key_ == "category_id" || key_ == "score"))
      return fail(cat("detection ", out_->size() + 1, ": \"", key_, "\" is not a number"));
    if (in_bbox_ && depth_ == 3) return fail(cat("detection ", out_->size() + 1, ": \"bbox\" holds a non-number"));
    return true;
  }
  bool number(double v, bool integer) {
    if (depth_ == 0) return fail("a results file is a list of detections");
    if (depth_ == 1) return fail(cat("detection ", out_->size() + 1, " is not an object"));
    if (!std::isfinite(v)) return fail(cat("detection ", out_->size() + 1, ": a non-finite number"));
    if (in_bbox_ && depth_ == 3) {
      if (bbox_n_ < 4) box_.bbox[bbox_n_] = v;
      ++bbox_n_;
      return true;
    }
    if (depth_ != 2) return true;
    if (key_ == "image_id" || key_ == "category_id") {
      if (!integer) return fail(cat("detection ", out_->size() + 1, ": \"", key_, "\" is not an integer"));
      (key_ == "image_id" ? box_.image_id : box_.category_id) = static_cast<long long>(v);
      seen_ |= key_ == "image_id" ? 1 : 2;
    } else if (key_ == "score") {
      box_.score = v;
      seen_ |= 8;
    }
    return true;
  }

  std::vector<CocoBox>* out_;
  CocoBox box_;
  std::string key_;
  int depth_ = 0;
  int seen_ = 0;  // bits: image_id, category_id, bbox, score
  int bbox_n_ = 0;
  bool in_bbox_ = false;
};

// IoU of two [x, y, w, h] boxes as pycocotools' maskApi bbIou computes it
// (double; a crowd ground truth: intersection over the detection's area).
double box_iou(const double* d, const double* g, bool crowd) {
  const double w = std::min(d[0] + d[2], g[0] + g[2]) - std::max(d[0], g[0]);
  if (w <= 0) return 0;
  const double h = std::min(d[1] + d[3], g[1] + g[3]) - std::max(d[1], g[1]);
  if (h <= 0) return 0;
  const double inter = w * h;
  const double da = d[2] * d[3];
  const double u = crowd ? da : da + g[2] * g[3] - inter;
  return inter / u;
}

struct ImageEval {
  bool present = false;
  std::vector<long long> det_ids;
  std::vector<double> det_scores;
  std::vector<std::vector<long long>> det_matches;  // [T][D]: matched ground-truth id, 0 for none
  std::vector<std::vector<bool>> det_ignore;        // [T][D]
  std::vector<bool> gt_ignore;                      // [G], in the evaluation's ground-truth order
};

constexpr int kAreas = 4;
constexpr double kAreaRange[kAreas][2] = {{0, 1e10}, {0, 32.0 * 32}, {32.0 * 32, 96.0 * 96}, {96.0 * 96, 1e10}};
constexpr int kMaxDets[3] = {1, 10, 100};

// np.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start,
// the last one exactly stop.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> v(static_cast<std::size_t>(num));
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) v[static_cast<std::size_t>(i)] = i * step + start;
  v.back() = stop;
  return v;
}

// Indices sorting `score` descending, stably (np.argsort(-score, kind="mergesort")).
std::vector<std::size_t> by_score(const std::vector<double>& score) {
  std::vector<std::size_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return -score[a] < -score[b]; });
  return idx;
}

ImageEval evaluate_image(const std::vector<const CocoBox*>& gt_in, const std::vector<const CocoBox*>& dt_in,
                         const double* range, int max_det, const std::vector<double>& iou_thrs) {
  ImageEval e;
  if (gt_in.empty() && dt_in.empty()) return e;
  e.present = true;
  // Ground truth: the ones not ignored first (a stable sort on the flag).
  std::vector<bool> ignore_in(gt_in.size());
  for (std::size_t g = 0; g < gt_in.size(); ++g)
    ignore_in[g] = gt_in[g]->iscrowd || gt_in[g]->area < range[0] || gt_in[g]->area > range[1];
  std::vector<std::size_t> gi(gt_in.size());
  std::iota(gi.begin(), gi.end(), 0);
  std::stable_sort(gi.begin(), gi.end(), [&](std::size_t a, std::size_t b) { return ignore_in[a] < ignore_in[b]; });
  std::vector<const CocoBox*> gt;
  for (std::size_t g : gi) {
    gt.push_back(gt_in[g]);
    e.gt_ignore.push_back(ignore_in[g]);
  }
  // Detections by score, at most max_det.
  std::vector<double> scores;
  for (const CocoBox* d : dt_in) scores.push_back(d->score);
  std::vector<const CocoBox*> dt;
  for (std::size_t i : by_score(scores)) {
    if (static_cast<int>(dt.size()) >= max_det) break;
    dt.push_back(dt_in[i]);
  }
  const std::size_t T = iou_thrs.size(), D = dt.size(), G = gt.size();
  std::vector<std::vector<double>> ious(D, std::vector<double>(G));
  for (std::size_t d = 0; d < D; ++d)
    for (std::size_t g = 0; g < G; ++g) ious[d][g] = box_iou(dt[d]->bbox, gt[g]->bbox, gt[g]->iscrowd);
  e.det_matches.assign(T, std::vector<long long>(D, 0));
  e.det_ignore.assign(T, std::vector<bool>(D, false));
  std::vector<std::vector<long long>> gt_matches(T, std::vector<long long>(G, 0));
  if (D > 0 && G > 0) {
    for (std::size_t t = 0; t < T; ++t) {
      for (std::size_t d = 0; d < D; ++d) {
        double iou = std::min(iou_thrs[t], 1 - 1e-10);
        long long m = -1;
        for (std::size_t g = 0; g < G; ++g) {
          if (gt_matches[t][g] > 0 && !gt[g]->iscrowd) continue;  // taken, and not a crowd
          // Past the non-ignored ones with a match among them: stop.
          if (m > -1 && !e.gt_ignore[static_cast<std::size_t>(m)] && e.gt_ignore[g]) break;
          if (ious[d][g] < iou) continue;
          iou = ious[d][g];
          m = static_cast<long long>(g);
        }
        if (m == -1) continue;
        const std::size_t mg = static_cast<std::size_t>(m);
        e.det_ignore[t][d] = e.gt_ignore[mg];
        e.det_matches[t][d] = gt[mg]->id;
        gt_matches[t][mg] = dt[d]->id;
      }
    }
  }
  for (std::size_t d = 0; d < D; ++d) {
    const bool outside = dt[d]->area < range[0] || dt[d]->area > range[1];
    for (std::size_t t = 0; t < T; ++t)
      if (e.det_matches[t][d] == 0 && outside) e.det_ignore[t][d] = true;
    e.det_ids.push_back(dt[d]->id);
    e.det_scores.push_back(dt[d]->score);
  }
  return e;
}

// The mean of the entries that are not -1 (-1 when there are none).
double mean_valid(const std::vector<double>& v) {
  long double sum = 0;
  std::size_t n = 0;
  for (double x : v)
    if (x > -1) {
      sum += x;
      ++n;
    }
  return n == 0 ? -1 : static_cast<double>(sum / static_cast<long double>(n));
}

}  // namespace

const char* CocoStats::name(int i) {
  static const char* const names[12] = {"AP",   "AP50",  "AP75",  "AP_small", "AP_medium", "AP_large",
                                        "AR1",  "AR10",  "AR100", "AR_small", "AR_medium", "AR_large"};
  return i >= 0 && i < 12 ? names[i] : "";
}

CocoDataset read_coco_annotations(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, kMaxCocoFileBytes);
  const json doc = parse_json_members(std::string(bytes.begin(), bytes.end()), path,
                                      {"images", "annotations", "categories"}, {"segmentation"});
  CocoDataset ds;
  ds.path = path;
  for (const char* key : {"images", "annotations", "categories"})
    TX2_REQUIRE(doc.contains(key) && doc[key].is_array(), path, ": no \"", key, "\" list (not a COCO annotation file)");
  std::set<long long> image_ids, category_ids, annotation_ids;
  for (std::size_t i = 0; i < doc["images"].size(); ++i) {
    const json& o = doc["images"][i];
    const std::string where = cat(path, ": images[", i, "]");
    TX2_REQUIRE(o.is_object(), where, ": not an object");
    CocoImage im;
    im.id = integer_field(o, "id", where);
    TX2_REQUIRE(o.contains("file_name") && o["file_name"].is_string(), where, ": no string \"file_name\"");
    im.file_name = o["file_name"].get<std::string>();
    if (o.contains("width") && o["width"].is_number_integer()) im.width = o["width"].get<int>();
    if (o.contains("height") && o["height"].is_number_integer()) im.height = o["height"].get<int>();
    TX2_REQUIRE(image_ids.insert(im.id).second, where, ": image id ", im.id, " is listed twice");
    ds.images.push_back(im);
  }
  for (std::size_t i = 0; i < doc["categories"].size(); ++i) {
    const json& o = doc["categories"][i];
    const std::string where = cat(path, ": categories[", i, "]");
    TX2_REQUIRE(o.is_object(), where, ": not an object");
    CocoCategory c;
    c.id = integer_field(o, "id", where);
    TX2_REQUIRE(o.contains("name") && o["name"].is_string(), where, ": no string \"name\"");
    c.name = o["name"].get<std::string>();
    TX2_REQUIRE(category_ids.insert(c.id).second, where, ": category id ", c.id, " is listed twice");
    ds.categories.push_back(c);
  }
  std::sort(ds.categories.begin(), ds.categories.end(),
            [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < doc["annotations"].size(); ++i) {
    const json& o = doc["annotations"][i];
    const std::string where = cat(path, ": annotations[", i, "]");
    TX2_REQUIRE(o.is_object(), where, ": not an object");
    CocoBox b;
    b.id = integer_field(o, "id", where);
    b.image_id = integer_field(o, "image_id", where);
    b.category_id = integer_field(o, "category_id", where);
    TX2_REQUIRE(o.contains("bbox"), where, ": no \"bbox\"");
    read_bbox(o["bbox"], b.bbox, where);
    b.area = number_field(o, "area", where);
    if (o.contains("iscrowd")) {
      TX2_REQUIRE(o["iscrowd"].is_number_integer() || o["iscrowd"].is_boolean(), where, ": \"iscrowd\" is not 0 or 1");
      b.iscrowd = o["iscrowd"].is_boolean() ? o["iscrowd"].get<bool>() : o["iscrowd"].get<long long>() != 0;
    }
    TX2_REQUIRE(image_ids.count(b.image_id), where, ": image id ", b.image_id, " is not among the images");
    TX2_REQUIRE(category_ids.count(b.category_id), where, ": category id ", b.category_id,
                " is not among the categories");
    TX2_REQUIRE(annotation_ids.insert(b.id).second, where, ": annotation id ", b.id, " is listed twice");
    ds.annotations.push_back(b);
  }
  TX2_REQUIRE(!ds.images.empty() && !ds.categories.empty(), path, ": no images or no categories");
  return ds;
}

std::vector<CocoBox> parse_coco_results(const std::string& text, const std::string& what, const CocoDataset& gt) {
  std::vector<CocoBox> out;
  ResultsSax sax(&out);
  sax_parse_checked(text, what, &sax);
  std::set<long long> images;
  for (const CocoImage& im : gt.images) images.insert(im.id);
  for (std::size_t i = 0; i < out.size(); ++i)
    TX2_REQUIRE(images.count(out[i].image_id), what, ": detection ", i + 1, " is for image id ", out[i].image_id,
                ", which is not in ", gt.path);
  return out;
}

std::vector<CocoBox> read_coco_results(const std::string& path, const CocoDataset& gt) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, kMaxCocoFileBytes);
  return parse_coco_results(std::string(bytes.begin(), bytes.end()), path, gt);
}

CocoStats coco_evaluate(const CocoDataset& gt, const std::vector<CocoBox>& results) {
  const std::vector<double> iou_thrs = linspace(0.5, 0.95, 10);
  const std::vector<double> rec_thrs = linspace(0.0, 1.0, 101);
  std::vector<long long> img_ids, cat_ids;
  for (const CocoImage& im : gt.images) img_ids.push_back(im.id);
  for (const CocoCategory& c : gt.categories) cat_ids.push_back(c.id);
  std::sort(img_ids.begin(), img_ids.end());
  std::sort(cat_ids.begin(), cat_ids.end());
  std::map<std::pair<long long, long long>, std::vector<const CocoBox*>> gts, dts;
  for (const CocoBox& b : gt.annotations) gts[{b.image_id, b.category_id}].push_back(&b);
  for (const CocoBox& b : results) dts[{b.image_id, b.category_id}].push_back(&b);
  static const std::vector<const CocoBox*> kNone;
  auto find = [](const std::map<std::pair<long long, long long>, std::vector<const CocoBox*>>& m, long long i,
                 long long c) -> const std::vector<const CocoBox*>& {
    const auto it = m.find({i, c});
    return it == m.end() ? kNone : it->second;
  };

  const std::size_t T = iou_thrs.size(), R = rec_thrs.size(), K = cat_ids.size(), A = kAreas, M = 3;
  // precision[t][r][k][a][m] and recall[t][k][a][m], -1 where not evaluated.
  std::vector<double> precision(T * R * K * A * M, -1), recall(T * K * A * M, -1);
  auto P = [&](std::size_t t, std::size_t r, std::size_t k, std::size_t a, std::size_t m) -> double& {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  };
  auto Rc = [&](std::size_t t, std::size_t k, std::size_t a, std::size_t m) -> double& {
    return recall[((t * K + k) * A + a) * M + m];
  };
  const double eps = 2.220446049250313e-16;  // np.spacing(1)
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t a = 0; a < A; ++a) {
      std::vector<ImageEval> evals;
      for (long long img : img_ids) {
        ImageEval e = evaluate_image(find(gts, img, cat_ids[k]), find(dts, img, cat_ids[k]), kAreaRange[a],
                                     kMaxDets[M - 1], iou_thrs);
        if (e.present) evals.push_back(std::move(e));
      }
      if (evals.empty()) continue;
      for (std::size_t m = 0; m < M; ++m) {
        const std::size_t max_det = static_cast<std::size_t>(kMaxDets[m]);
        std::vector<double> scores;
        std::vector<std::pair<std::size_t, std::size_t>> origin;  // (eval, detection)
        std::size_t npig = 0;
        for (std::size_t i = 0; i < evals.size(); ++i) {
          for (std::size_t d = 0; d < evals[i].det_scores.size() && d < max_det; ++d) {
            scores.push_back(evals[i].det_scores[d]);
            origin.emplace_back(i, d);
          }
          for (bool ig : evals[i].gt_ignore) npig += ig ? 0 : 1;
        }
        if (npig == 0) continue;
        const std::vector<std::size_t> order = by_score(scores);
        const std::size_t nd = order.size();
        for (std::size_t t = 0; t < T; ++t) {
          std::vector<double> rc(nd), pr(nd);
          double tp = 0, fp = 0;
          for (std::size_t j = 0; j < nd; ++j) {
            const auto& o = origin[order[j]];
            const bool matched = evals[o.first].det_matches[t][o.second] != 0;
            const bool ignored = evals[o.first].det_ignore[t][o.second];
            if (matched && !ignored) tp += 1;
            if (!matched && !ignored) fp += 1;
            rc[j] = tp / static_cast<double>(npig);
            pr[j] = tp / (fp + tp + eps);
          }
          Rc(t, k, a, m) = nd > 0 ? rc[nd - 1] : 0;
          for (std::size_t i = nd; i-- > 1;)
            if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          for (std::size_t r = 0; r < R; ++r) {
            const std::size_t pi =
                static_cast<std::size_t>(std::lower_bound(rc.begin(), rc.end(), rec_thrs[r]) - rc.begin());
            if (pi >= nd) {  // pycocotools stops at the first index past the end; the rest stay 0
              for (std::size_t rr = r; rr < R; ++rr) P(t, rr, k, a, m) = 0;
              break;
            }
            P(t, r, k, a, m) = pr[pi];
          }
        }
      }
    }
  }

  CocoStats out;
  auto ap = [&](int iou_index, std::size_t a, std::size_t m) {
    std::vector<double> v;
    for (std::size_t t = 0; t < T; ++t) {
      if (iou_index >= 0 && static_cast<int>(t) != iou_index) continue;
      for (std::size_t r = 0; r < R; ++r)
        for (std::size_t k = 0; k < K; ++k) v.push_back(P(t, r, k, a, m));
    }
    return mean_valid(v);
  };
  auto ar = [&](std::size_t a, std::size_t m) {
    std::vector<double> v;
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t k = 0; k < K; ++k) v.push_back(Rc(t, k, a, m));
    return mean_valid(v);
  };
  // pycocotools picks the IoU threshold by equality with its linspace values.
  auto iou_index = [&](double thr) {
    for (std::size_t t = 0; t < T; ++t)
      if (iou_thrs[t] == thr) return static_cast<int>(t);
    return -2;  // none: the mean of nothing, -1
  };
  auto ap_at = [&](double thr) { return iou_index(thr) == -2 ? -1.0 : ap(iou_index(thr), 0, 2); };
  out.stats = {ap(-1, 0, 2), ap_at(0.5),  ap_at(0.75), ap(-1, 1, 2), ap(-1, 2, 2), ap(-1, 3, 2),
               ar(0, 0),     ar(0, 1),    ar(0, 2),    ar(1, 2),     ar(2, 2),     ar(3, 2)};
  return out;
}

}  // namespace tx2yolo
