#include "parity/parity.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <opencv2/core.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "weights/graph.h"
#include "weights/safetensors.h"

namespace tx2yolo {

namespace {

constexpr std::uint64_t kMaxReferenceBytes = 2ull << 30;
const char* const kSpecialTensors[] = {"input",         "image",          "im_shape", "scale_factor",
                                       "yolo_box.boxes", "yolo_box.scores", "nms.out",  "nms.num", "nms.index"};

struct Stats {
  double max_abs = 0, rel_l2 = 0;
};

// Relative L2 error ||a - b|| / ||b|| (0 when both are zero) and max |a - b|,
// over the elements where keep(i) holds.
template <typename Keep>
Stats compare_values(const float* a, const float* b, std::size_t n, Keep keep) {
  double diff2 = 0, ref2 = 0;
  Stats s;
  for (std::size_t i = 0; i < n; ++i) {
    if (!keep(i)) continue;
    const double d = static_cast<double>(a[i]) - b[i];
    diff2 += d * d;
    ref2 += static_cast<double>(b[i]) * b[i];
    s.max_abs = std::max(s.max_abs, std::fabs(d));
  }
  s.rel_l2 = diff2 == 0 ? 0 : ref2 == 0 ? INFINITY : std::sqrt(diff2 / ref2);
  return s;
}

Stats compare_values(const float* a, const float* b, std::size_t n) {
  return compare_values(a, b, n, [](std::size_t) { return true; });
}

ParityRow layer_row(const std::string& name, const std::vector<long long>& shape, const Stats& s, double tol,
                    std::string note = "") {
  ParityRow r;
  r.name = name;
  r.shape = shape_to_string(shape);
  r.max_abs = s.max_abs;
  r.rel_l2 = s.rel_l2;
  r.passed = s.rel_l2 <= tol;
  r.note = std::move(note);
  return r;
}

float iou(const Detection& a, const Detection& b, bool normalized) {
  const float off = normalized ? 0.f : 1.f;
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1) + off;
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1) + off;
  if (iw <= 0 || ih <= 0) return 0.f;
  const float inter = iw * ih;
  const float area_a = (a.x2 - a.x1 + off) * (a.y2 - a.y1 + off);
  const float area_b = (b.x2 - b.x1 + off) * (b.y2 - b.y1 + off);
  return inter / (area_a + area_b - inter);
}

// Why an unmatched detection may legitimately differ: it sits at a
// threshold, within `eps`. Empty when nothing explains it.
std::string borderline_reason(const Detection& d, const std::vector<Detection>& other_side,
                              const std::vector<Detection>& same_side, const NmsConfig& nms, double eps) {
  if (std::fabs(d.score - nms.score_threshold) <= eps) return "at the NMS score threshold";
  for (const Detection& e : other_side) {
    if (e.class_id == d.class_id && std::fabs(iou(d, e, nms.normalized) - nms.nms_threshold) <= eps)
      return "at the NMS IoU threshold";
  }
  if (nms.keep_top_k > 0 && static_cast<int>(same_side.size()) == nms.keep_top_k) {
    float lowest = 1e30f;
    for (const Detection& e : same_side) lowest = std::min(lowest, e.score);
    if (std::fabs(d.score - lowest) <= eps) return "at the keep_top_k cut";
  }
  return "";
}

std::vector<Detection> reference_detections(const Reference& ref) {
  std::vector<Detection> out;
  const ReferenceTensor* t = ref.find("nms.out");
  if (!t) return out;
  TX2_REQUIRE(t->shape.size() == 2 && (t->shape[1] == 6 || t->shape[0] == 0), ref.path, ": nms.out has shape ",
              shape_to_string(t->shape), ", expected [K, 6]");
  long long k = t->shape[0];
  if (const ReferenceTensor* num = ref.find("nms.num")) {
    TX2_REQUIRE(!num->values.empty(), ref.path, ": nms.num is empty");
    k = std::min<long long>(k, static_cast<long long>(num->values[0]));
  }
  for (long long i = 0; i < k; ++i) {
    const float* row = &t->values[static_cast<std::size_t>(i * 6)];
    if (row[0] < 0) continue;  // the static era's [[-1]] "no detections" row
    Detection d;
    d.class_id = static_cast<int>(row[0]);
    d.score = row[1];
    d.x1 = row[2];
    d.y1 = row[3];
    d.x2 = row[4];
    d.y2 = row[5];
    out.push_back(d);
  }
  return out;
}

void compare_detections(const std::vector<Detection>& ref, const std::vector<Detection>& ours, const NmsConfig& nms,
                        const ParityOptions& opt, ParityReport* r) {
  r->reference_detections = static_cast<int>(ref.size());
  r->our_detections = static_cast<int>(ours.size());
  std::vector<bool> used(ours.size(), false);
  std::vector<bool> ref_matched(ref.size(), false);
  int last_index = -1;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    int best = -1;
    float best_iou = -1;
    for (std::size_t j = 0; j < ours.size(); ++j) {
      if (used[j] || ours[j].class_id != ref[i].class_id) continue;
      const float v = iou(ref[i], ours[j], true);
      if (v > best_iou) {
        best_iou = v;
        best = static_cast<int>(j);
      }
    }
    if (best < 0) continue;
    const double delta = std::fabs(ref[i].score - ours[static_cast<std::size_t>(best)].score);
    if (best_iou >= opt.min_iou && delta <= opt.max_score_delta) {
      used[static_cast<std::size_t>(best)] = true;
      ref_matched[i] = true;
      ++r->matched;
      r->worst_iou = std::min(r->worst_iou, static_cast<double>(best_iou));
      r->worst_score_delta = std::max(r->worst_score_delta, delta);
      if (best < last_index) r->same_order = false;
      last_index = best;
    }
  }
  auto explain = [&](const Detection& d, const std::vector<Detection>& other, const std::vector<Detection>& same,
                     const char* side) {
    const std::string why = borderline_reason(d, other, same, nms, opt.borderline);
    ParityRow row;
    row.name = cat("detection only in ", side);
    row.shape = cat("class ", d.class_id);
    row.max_abs = d.score;
    row.note = cat("score ", d.score, " box [", d.x1, ", ", d.y1, ", ", d.x2, ", ", d.y2, "]",
                   why.empty() ? "" : "; " + why);
    row.passed = !why.empty();
    (why.empty() ? r->unmatched : r->borderline) += 1;
    r->rows.push_back(row);
  };
  for (std::size_t i = 0; i < ref.size(); ++i)
    if (!ref_matched[i]) explain(ref[i], ours, ref, "Paddle");
  for (std::size_t j = 0; j < ours.size(); ++j)
    if (!used[j]) explain(ours[j], ref, ours, "tx2yolo");
}

}  // namespace

const ReferenceTensor* Reference::find(const std::string& name) const {
  const auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

Reference load_reference(const std::string& path) {
  Reference ref;
  ref.path = path;
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, kMaxReferenceBytes);
  const SafetensorsLayout layout = parse_safetensors_header(bytes, path, kMaxReferenceBytes);
  ref.metadata = layout.metadata;
  const auto entries = parse_safetensors_entries(layout, path, {"F32", "U8", "I32", "I64"},
                                                 "reference files hold F32, U8, I32 and I64 tensors",
                                                 kMaxReferenceBytes);
  for (const SafetensorsEntry& e : entries) {
    ReferenceTensor t;
    t.dtype = e.dtype;
    t.shape = e.shape;
    const std::uint8_t* p = bytes.data() + layout.data_start + e.begin;
    const std::size_t n = static_cast<std::size_t>((e.end - e.begin) / static_cast<std::uint64_t>(e.itemsize));
    t.values.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (e.dtype == "F32") {
        std::memcpy(&t.values[i], p + 4 * i, 4);
      } else if (e.dtype == "U8") {
        t.values[i] = p[i];
      } else if (e.dtype == "I32") {
        std::int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        t.values[i] = static_cast<float>(v);
      } else {
        std::int64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        t.values[i] = static_cast<float>(v);
      }
    }
    ref.tensors[e.name] = std::move(t);
  }
  TX2_REQUIRE(ref.find("input") != nullptr, path, ": no \"input\" tensor; not a tx2yolo reference file");
  return ref;
}

ParityReport compare_with_reference(const std::string& model_path, const Reference& ref, const ParityOptions& opt,
                                    const cv::Mat* photo) {
  ParityReport r;
  r.model = model_path;
  r.reference = ref.path;
  const ReferenceTensor& input = *ref.find("input");
  TX2_REQUIRE(input.shape.size() == 4 && input.shape[0] == 1 && input.shape[1] == 3, ref.path,
              ": input has shape ", shape_to_string(input.shape), ", expected [1, 3, H, W]");
  r.input_h = static_cast<int>(input.shape[2]);
  r.input_w = static_cast<int>(input.shape[3]);

  DetectorOptions o;
  o.input_h = r.input_h;
  o.input_w = r.input_w;
  o.backend = opt.backend;
  o.keep_all_tensors = true;
  Detector det(model_path, o);
  r.backend = det.backend_description();
  const ModelConfig& cfg = det.config();

  // The photograph: given, or stored in the reference.
  cv::Mat bgr;
  if (photo) {
    TX2_REQUIRE(!photo->empty() && photo->type() == CV_8UC3, "compare: the image must be 8-bit BGR");
    bgr = *photo;
  } else if (const ReferenceTensor* image = ref.find("image")) {
    TX2_REQUIRE(image->dtype == "U8" && image->shape.size() == 3 && image->shape[2] == 3, ref.path,
                ": image must be U8 [h, w, 3]");
    bgr.create(static_cast<int>(image->shape[0]), static_cast<int>(image->shape[1]), CV_8UC3);
    for (std::size_t i = 0; i < image->values.size(); ++i) bgr.data[i] = static_cast<std::uint8_t>(image->values[i]);
  }
  // The original image size: the photograph's, else im_shape / scale_factor.
  int orig_h = bgr.rows, orig_w = bgr.cols;
  const ReferenceTensor* shape = ref.find("im_shape");
  const ReferenceTensor* scale = ref.find("scale_factor");
  if (shape && scale && shape->values.size() == 2 && scale->values.size() == 2) {
    const int h = static_cast<int>(std::lround(shape->values[0] / scale->values[0]));
    const int w = static_cast<int>(std::lround(shape->values[1] / scale->values[1]));
    TX2_REQUIRE(bgr.empty() || (h == orig_h && w == orig_w), "compare: the image is ", orig_w, "x", orig_h,
                " but the reference was made from a ", w, "x", h, " image");
    orig_h = h;
    orig_w = w;
  }
  TX2_REQUIRE(orig_h > 0 && orig_w > 0, ref.path,
              ": needs the photograph (--image) or im_shape and scale_factor to know the original image size");

  if (!bgr.empty()) {
    const std::vector<float> ours = det.preprocess_on_cpu(bgr);
    const Stats s = compare_values(ours.data(), input.values.data(), ours.size());
    const double min_std = std::min({cfg.preprocess.std[0], cfg.preprocess.std[1], cfg.preprocess.std[2]});
    const double level = cfg.preprocess.scale / min_std;  // one uint8 step after normalisation
    ParityRow row = layer_row("preprocess", input.shape, s, INFINITY,
                              cat("max ", s.max_abs / level, " uint8 levels from Paddle's input"));
    row.passed = s.max_abs <= level * 1.0001;
    r.rows.push_back(row);
  }

  const Detector::Trace t = det.detect_preprocessed(input.values.data(), orig_h, orig_w);

  std::set<std::string> compared(std::begin(kSpecialTensors), std::end(kSpecialTensors));
  for (const Node& n : det.model().graph().nodes) {
    const ReferenceTensor* want = ref.find(n.output);
    if (!want) continue;
    compared.insert(n.output);
    const std::vector<float> ours = det.tensor(n.output);
    TX2_REQUIRE(want->values.size() == ours.size(), ref.path, ": ", n.output, " has shape ",
                shape_to_string(want->shape), " (", want->values.size(), " values) but the model computes ",
                ours.size(), " values at ", r.input_h, "x", r.input_w);
    r.rows.push_back(layer_row(n.output, want->shape, compare_values(ours.data(), want->values.data(), ours.size()),
                               opt.max_rel_l2));
  }
  for (const auto& kv : ref.tensors)
    if (!compared.count(kv.first)) r.not_compared.push_back(kv.first);

  // Decode: boxes [M, 4] and scores (ours [C, M], Paddle's [1, M, C]). A
  // box whose objectness sits at the conf gate may be gated on one side
  // only; such boxes are counted and left out, nothing else is.
  const ReferenceTensor* boxes = ref.find("yolo_box.boxes");
  const ReferenceTensor* scores = ref.find("yolo_box.scores");
  if (boxes && scores) {
    const std::size_t m = t.boxes.size() / 4;
    const std::size_t c = cfg.classes.size();
    TX2_REQUIRE(boxes->values.size() == m * 4 && scores->values.size() == m * c, ref.path,
                ": yolo_box.boxes/scores hold ", boxes->values.size() / 4, " boxes of ",
                boxes->values.size() ? scores->values.size() / std::max<std::size_t>(1, boxes->values.size() / 4) : 0,
                " classes; the model decodes ", m, " boxes of ", c);
    std::vector<float> ours_scores(m * c);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t k = 0; k < c; ++k) ours_scores[i * c + k] = t.scores[k * m + i];
    // Objectness of every box, from our heads (level, anchor, row, col order).
    std::vector<float> objectness(m, 0.f);
    std::size_t base = 0;
    for (const HeadConfig& h : cfg.heads) {
      const std::vector<float> head = det.tensor(h.tensor);
      const std::size_t anchors = h.anchors.size();
      const std::size_t cells = head.size() / (anchors * (5 + c));
      for (std::size_t a = 0; a < anchors; ++a)
        for (std::size_t cell = 0; cell < cells && base + a * cells + cell < m; ++cell)
          objectness[base + a * cells + cell] =
              1.f / (1.f + std::exp(-head[(a * (5 + c) + 4) * cells + cell]));
      base += anchors * cells;
    }
    std::vector<bool> keep(m, true);
    int gated = 0, at_gate = 0;
    for (std::size_t i = 0; i < m; ++i) {
      bool ours_zero = true, ref_zero = true;
      for (std::size_t k = 0; k < c; ++k) {
        ours_zero = ours_zero && ours_scores[i * c + k] == 0.f;
        ref_zero = ref_zero && scores->values[i * c + k] == 0.f;
      }
      if (ours_zero == ref_zero) continue;
      keep[i] = false;
      ++gated;
      if (std::fabs(objectness[i] - cfg.decode.conf_thresh) <= opt.borderline) ++at_gate;
    }
    const std::string gate_note =
        gated == 0 ? "" : cat(gated, " box(es) gated on one side only, ", at_gate, " of them at the conf gate");
    ParityRow b = layer_row("yolo_box.boxes", boxes->shape,
                            compare_values(t.boxes.data(), boxes->values.data(), m * 4,
                                           [&](std::size_t i) { return keep[i / 4]; }),
                            opt.max_rel_l2, gate_note);
    ParityRow s = layer_row("yolo_box.scores", scores->shape,
                            compare_values(ours_scores.data(), scores->values.data(), m * c,
                                           [&](std::size_t i) { return keep[i / c]; }),
                            opt.max_rel_l2, gate_note);
    if (at_gate != gated) b.passed = s.passed = false;
    r.rows.push_back(b);
    r.rows.push_back(s);
  }

  if (ref.find("nms.out")) compare_detections(reference_detections(ref), t.detections, cfg.nms, opt, &r);
  for (const ParityRow& row : r.rows) r.passed = r.passed && row.passed;
  return r;
}

void print_parity_report(const ParityReport& r, std::FILE* out) {
  std::fprintf(out, "model %s\nreference %s\nbackend %s, input %dx%d\n\n", r.model.c_str(), r.reference.c_str(),
               r.backend.c_str(), r.input_h, r.input_w);
  std::fprintf(out, "%-52s %-18s %12s %12s  %s\n", "tensor", "shape", "max |diff|", "rel L2", "result");
  for (const ParityRow& row : r.rows) {
    std::fprintf(out, "%-52s %-18s %12.3e %12.3e  %s%s%s\n", row.name.c_str(), row.shape.c_str(), row.max_abs,
                 row.rel_l2, row.passed ? "pass" : "FAIL", row.note.empty() ? "" : "  ", row.note.c_str());
  }
  if (!r.not_compared.empty()) {
    std::string list;
    for (const std::string& n : r.not_compared) list += (list.empty() ? "" : ", ") + n;
    std::fprintf(out, "not compared (no such tensor in the model): %s\n", list.c_str());
  }
  std::fprintf(out,
               "\ndetections: Paddle %d, tx2yolo %d, matched %d (worst IoU %.6f, worst score delta %.2e, %s order), "
               "at a threshold %d, unexplained %d\n",
               r.reference_detections, r.our_detections, r.matched, r.worst_iou, r.worst_score_delta,
               r.same_order ? "same" : "different", r.borderline, r.unmatched);
  std::fprintf(out, "%s\n", r.passed ? "PASS" : "FAIL");
}

nlohmann::json parity_report_to_json(const ParityReport& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["reference"] = r.reference;
  j["backend"] = r.backend;
  j["input"] = {r.input_h, r.input_w};
  for (const ParityRow& row : r.rows) {
    j["rows"].push_back({{"name", row.name}, {"shape", row.shape}, {"max_abs", row.max_abs},
                         {"rel_l2", std::isfinite(row.rel_l2) ? nlohmann::json(row.rel_l2) : nlohmann::json("inf")},
                         {"passed", row.passed}, {"note", row.note}});
  }
  j["not_compared"] = r.not_compared;
  j["detections"] = {{"paddle", r.reference_detections}, {"tx2yolo", r.our_detections}, {"matched", r.matched},
                     {"at_threshold", r.borderline}, {"unexplained", r.unmatched}, {"worst_iou", r.worst_iou},
                     {"worst_score_delta", r.worst_score_delta}, {"same_order", r.same_order}};
  j["passed"] = r.passed;
  return j;
}

}  // namespace tx2yolo
