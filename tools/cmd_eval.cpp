// `tx2yolo eval`: detection accuracy on a VOC-format dataset with
// PaddleDetection's VOC metric (eval/voc_metric.h): per-class AP and mAP,
// VOC07 11-point and area, IoU 0.5, difficult objects ignored.
//
//   tx2yolo eval --model M --voc DIR [--split test] [--input-size H [W]]
//                [--backend auto|cpu|cuda] [--precision fp32|fp16]
//                [--detections results.json] [--ap-json ap.json]
#include <cstdio>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "tools/commands.h"
#include "eval/voc_eval.h"
#include "tools/progress.h"

namespace tx2yolo {

namespace {

struct EvalArgs {
  std::string model;
  std::string voc;
  std::string split = "test";
  std::vector<int> input_size;
  std::string backend = "auto";
  std::string precision = "fp32";
  std::string detections_json;
  std::string ap_json;
  int threads = 0;
  int device = 0;
  bool unverified = false;
};

int run_eval(const EvalArgs& a) {
  for (const std::string* out : {&a.detections_json, &a.ap_json}) {
    TX2_REQUIRE(out->empty() || !is_directory(*out), *out, ": is a folder, expected a file name");
  }
  DetectorOptions o;
  input_size_option(a.input_size, &o.input_h, &o.input_w);
  o.backend = backend_from_string(a.backend);
  o.threads = a.threads;
  o.device = a.device;
  o.precision = precision_from_string(a.precision);
  o.unverified = a.unverified;
  Detector det(a.model, o);
  print_detector_warnings(det);
  const VocDataset ds = read_voc_dataset(a.voc, a.split, det.config().classes);
  std::fprintf(stderr, "eval: %zu images of %s/%s (%d without objects skipped), %zu classes, input %dx%d, %s\n",
               ds.images.size(), a.voc.c_str(), a.split.c_str(), ds.skipped_empty, ds.classes.size(), det.input_h(),
               det.input_w(), det.backend_description().c_str());

  ProgressBar bar("eval", ds.images.size(), "images");
  const VocEvalResult ev = evaluate_on_voc(det, ds, 0, [&](std::size_t done, std::size_t) { bar.update(done); });
  nlohmann::json results = nlohmann::json::array();
  for (const auto& id : ev.detections) {
    const Detection& d = id.second;
    // COCO results: image_id is the position in the split list (as
    // PaddleDetection numbers VOC images), category_id the class index.
    results.push_back({{"image_id", id.first}, {"file_name", ds.images[static_cast<std::size_t>(id.first)].id + ".jpg"},
                       {"category_id", d.class_id}, {"bbox", {d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1}},
                       {"score", d.score}});
  }

  nlohmann::json table;
  table["model"] = a.model;
  table["dataset"] = a.voc;
  table["split"] = a.split;
  table["images"] = ds.images.size();
  table["input_size"] = {det.input_h(), det.input_w()};
  table["backend"] = det.backend_description();
  table["overlap_thresh"] = 0.5;
  table["evaluate_difficult"] = false;
  const VocMapResult& eleven = ev.eleven_point;
  const VocMapResult& area = ev.area;
  std::printf("%-24s %8s %8s %12s %12s\n", "class", "objects", "dets", "AP (11pt)", "AP (area)");
  for (std::size_t c = 0; c < eleven.classes.size(); ++c) {
    const ClassAp& e = eleven.classes[c];
    if (e.ground_truth == 0) {
      std::printf("%-24s %8d %8d %12s %12s\n", e.name.c_str(), 0, e.detections, "-", "-");
    } else {
      std::printf("%-24s %8d %8d %12.4f %12.4f\n", e.name.c_str(), e.ground_truth, e.detections, e.ap,
                  area.classes[c].ap);
    }
  }
  std::printf("mAP (VOC07 11-point, IoU 0.5): %.4f\nmAP (area, IoU 0.5):           %.4f\n", eleven.map, area.map);
  for (const VocMapResult* r : {&eleven, &area}) {
    nlohmann::json per;
    for (const ClassAp& c : r->classes) {
      per[c.name] = {{"ap", c.ground_truth > 0 ? nlohmann::json(c.ap) : nlohmann::json(nullptr)},
                     {"objects", c.ground_truth}, {"detections", c.detections}};
    }
    table[r->map_type] = {{"mAP", r->map}, {"per_class", per}};
  }
  if (!a.detections_json.empty()) write_json_file(a.detections_json, results);
  if (!a.ap_json.empty()) write_json_file(a.ap_json, table);
  return 0;
}

}  // namespace

CommandRunner add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a model on a VOC-format dataset with PaddleDetection's VOC metric (per-class AP, mAP)");
  cmd->add_option("--model", args->model, "Model file")->required();
  cmd->add_option("--voc", args->voc, "VOC dataset folder (Annotations/, JPEGImages/, ImageSets/Main/)")->required();
  cmd->add_option("--split", args->split, "Split list in ImageSets/Main/")->capture_default_str();
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32")->expected(1, 2);
  cmd->add_option("--backend", args->backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--precision", args->precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_flag("--unverified", args->unverified, kUnverifiedHelp);
  cmd->add_option("--detections", args->detections_json, "Write every detection as COCO-results JSON");
  cmd->add_option("--ap-json", args->ap_json, "Write the AP table as JSON");
  cmd->add_option("--threads", args->threads, "CPU threads (0: all cores)");
  cmd->add_option("--device", args->device, "CUDA device index");
  return [args] { return run_eval(*args); };
}

}  // namespace tx2yolo
