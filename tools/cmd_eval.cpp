// `tx2yolo eval`: detection accuracy on a VOC-format dataset with
// PaddleDetection's VOC metric (eval/voc_metric.h): per-class AP and mAP,
// VOC07 11-point and area, IoU 0.5, difficult objects ignored; or on a COCO
// annotation file with the COCO metric (eval/coco_metric.h): AP at IoU
// .50:.95, AP50, AP75, small/medium/large, and the recalls.
//
//   tx2yolo eval --model M --voc DIR [--split test] [--input-size H [W]]
//                [--backend auto|cpu|cuda] [--precision fp32|fp16]
//                [--detections results.json] [--ap-json ap.json]
//   tx2yolo eval --model M --coco instances.json --images DIR [...]
//   tx2yolo eval --coco instances.json --results results.json   (no model)
#include <cstdio>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "tools/commands.h"
#include "eval/coco_metric.h"
#include "eval/voc_eval.h"
#include "tools/image_read.h"
#include "tools/progress.h"

namespace tx2yolo {

namespace {

struct EvalArgs {
  std::string model;
  std::string voc;
  std::string coco;
  std::string images;
  std::string results;
  std::string split = "test";
  std::vector<int> input_size;
  std::string backend = "auto";
  std::string precision = "fp32";
  std::string detections_json;
  std::string ap_json;
  int threads = 0;
  int device = 0;
  bool unverified = false;
  std::string cpu_convs = "auto";
};

DetectorOptions detector_options(const EvalArgs& a);

void print_coco_stats(const CocoStats& s) {
  const char* rows[12] = {"IoU=0.50:0.95 area=   all maxDets=100", "IoU=0.50      area=   all maxDets=100",
                          "IoU=0.75      area=   all maxDets=100", "IoU=0.50:0.95 area= small maxDets=100",
                          "IoU=0.50:0.95 area=medium maxDets=100", "IoU=0.50:0.95 area= large maxDets=100",
                          "IoU=0.50:0.95 area=   all maxDets=  1", "IoU=0.50:0.95 area=   all maxDets= 10",
                          "IoU=0.50:0.95 area=   all maxDets=100", "IoU=0.50:0.95 area= small maxDets=100",
                          "IoU=0.50:0.95 area=medium maxDets=100", "IoU=0.50:0.95 area= large maxDets=100"};
  for (int i = 0; i < 12; ++i)
    std::printf("%-9s %s [ %s ] = %.4f\n", CocoStats::name(i), i < 6 ? "Average Precision (AP)" : "Average Recall (AR)   ",
                rows[i], s.stats[static_cast<std::size_t>(i)]);
}

// --coco: with --results, the given detections; else the model's on every
// image of the annotation file (DIR/file_name), classes mapped onto the
// annotation file's categories in id order (PaddleDetection's clsid2catid).
int run_coco_eval(const EvalArgs& a) {
  TX2_REQUIRE(a.voc.empty(), "eval: give --voc or --coco, not both");
  const CocoDataset gt = read_coco_annotations(a.coco);
  std::vector<CocoBox> results;
  nlohmann::json table;
  table["annotations"] = a.coco;
  if (!a.results.empty()) {
    TX2_REQUIRE(a.model.empty() && a.images.empty(), "eval --results evaluates a results file: no --model or --images");
    results = read_coco_results(a.results, gt);
    table["results"] = a.results;
    std::fprintf(stderr, "eval: %zu detections of %s on %zu images, %zu categories\n", results.size(),
                 a.results.c_str(), gt.images.size(), gt.categories.size());
  } else {
    TX2_REQUIRE(!a.model.empty() && !a.images.empty(), "eval --coco needs --model and --images DIR (or --results)");
    TX2_REQUIRE(is_directory(a.images), "--images ", a.images, ": no such folder");
    Detector det(a.model, detector_options(a));
    print_detector_warnings(det);
    const std::vector<std::string>& classes = det.config().classes;
    TX2_REQUIRE(classes.size() == gt.categories.size(), a.coco, " has ", gt.categories.size(),
                " categories but the model has ", classes.size(), " classes");
    std::fprintf(stderr, "eval: %zu images of %s, %zu categories, input %dx%d, %s\n", gt.images.size(),
                 a.coco.c_str(), gt.categories.size(), det.input_h(), det.input_w(),
                 det.backend_description().c_str());
    ProgressBar bar("eval", gt.images.size(), "images");
    std::size_t done = 0;
    for (const CocoImage& im : gt.images) {
      const cv::Mat image = read_image(path_join(a.images, im.file_name));
      TX2_REQUIRE(im.width <= 0 || im.height <= 0 || (image.cols == im.width && image.rows == im.height),
                  path_join(a.images, im.file_name), ": the image is ", image.cols, "x", image.rows, " but ", a.coco,
                  " says ", im.width, "x", im.height);
      for (const Detection& d : det.detect(image)) {
        CocoBox b;
        b.id = static_cast<long long>(results.size()) + 1;
        b.image_id = im.id;
        b.category_id = gt.categories[static_cast<std::size_t>(d.class_id)].id;
        b.bbox[0] = d.x1;
        b.bbox[1] = d.y1;
        b.bbox[2] = static_cast<double>(d.x2) - d.x1;
        b.bbox[3] = static_cast<double>(d.y2) - d.y1;
        b.area = b.bbox[2] * b.bbox[3];
        b.score = d.score;
        results.push_back(b);
      }
      bar.update(++done);
    }
    table["model"] = a.model;
    table["images"] = a.images;
    table["input_size"] = {det.input_h(), det.input_w()};
    table["backend"] = det.backend_description();
  }
  const CocoStats s = coco_evaluate(gt, results);
  print_coco_stats(s);
  for (int i = 0; i < 12; ++i) table["coco"][CocoStats::name(i)] = s.stats[static_cast<std::size_t>(i)];
  if (!a.detections_json.empty()) {
    nlohmann::json out = nlohmann::json::array();
    for (const CocoBox& b : results)
      out.push_back({{"image_id", b.image_id}, {"category_id", b.category_id},
                     {"bbox", {b.bbox[0], b.bbox[1], b.bbox[2], b.bbox[3]}}, {"score", b.score}});
    write_json_file(a.detections_json, out);
  }
  if (!a.ap_json.empty()) write_json_file(a.ap_json, table);
  return 0;
}

DetectorOptions detector_options(const EvalArgs& a) {
  DetectorOptions o;
  input_size_option(a.input_size, &o.input_h, &o.input_w);
  o.backend = backend_from_string(a.backend);
  o.threads = a.threads;
  o.device = a.device;
  o.precision = precision_from_string(a.precision);
  o.unverified = a.unverified;
  o.cpu_convs = cpu_convs_from_string(a.cpu_convs);
  return o;
}

int run_eval(const EvalArgs& a) {
  for (const std::string* out : {&a.detections_json, &a.ap_json}) {
    TX2_REQUIRE(out->empty() || !is_directory(*out), *out, ": is a folder, expected a file name");
  }
  if (!a.coco.empty()) return run_coco_eval(a);
  TX2_REQUIRE(!a.voc.empty(), "eval: give --voc DIR or --coco instances.json");
  TX2_REQUIRE(!a.model.empty(), "eval --voc needs --model");
  TX2_REQUIRE(a.results.empty() && a.images.empty(), "--results and --images go with --coco");
  Detector det(a.model, detector_options(a));
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
      "eval", "Evaluate a model on a VOC-format dataset with PaddleDetection's VOC metric (per-class AP, mAP), or on "
              "a COCO annotation file with the COCO metric (as pycocotools)");
  cmd->add_option("--model", args->model, "Model file");
  cmd->add_option("--voc", args->voc, "VOC dataset folder (Annotations/, JPEGImages/, ImageSets/Main/)");
  cmd->add_option("--coco", args->coco, "COCO annotation file (instances_*.json): the COCO metric");
  cmd->add_option("--images", args->images, "--coco: the folder of the annotation file's images");
  cmd->add_option("--results", args->results,
                  "--coco: evaluate this COCO results file (image_id, category_id, bbox, score) instead of a model");
  cmd->add_option("--split", args->split, "Split list in ImageSets/Main/")->capture_default_str();
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32")->expected(1, 2);
  cmd->add_option("--backend", args->backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--precision", args->precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_flag("--unverified", args->unverified, kUnverifiedHelp);
  cmd->add_option("--detections", args->detections_json, "Write every detection as COCO-results JSON");
  cmd->add_option("--ap-json", args->ap_json, "Write the AP table as JSON");
  cmd->add_option("--threads", args->threads,
                  "CPU threads (0: all cores; on the onednn path, all cores or 1, whichever measures faster)");
  add_cpu_convs_option(cmd, &args->cpu_convs);
  cmd->add_option("--device", args->device, "CUDA device index");
  return [args] { return run_eval(*args); };
}

}  // namespace tx2yolo
