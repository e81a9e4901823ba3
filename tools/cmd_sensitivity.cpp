// `tx2yolo sensitivity`: the paper's per-layer sensitivity analysis. Each
// prunable layer is pruned alone at each ratio (0.1 .. 0.9 by default), the
// model is evaluated with `tx2yolo eval`'s metric, and the relative mAP loss
// (baseline - pruned) / baseline is tabulated (JSON, CSV) and plotted (PNG,
// one curve per layer). With --max-loss, each layer gets the largest ratio
// whose loss stays within it (linearly interpolated between measured ratios,
// as PaddleSlim's get_ratios_by_loss does), capped at --max-ratio (0.7, the
// paper's cap), written as a RATIOS file for `tx2yolo convert --prune`.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/image_read.h"
#include "tools/commands.h"
#include "convert/converter.h"
#include "convert/prune.h"
#include "eval/voc_eval.h"
#include "tools/plot.h"
#include "tools/progress.h"
#include "weights/json_guard.h"

namespace tx2yolo {

namespace {

struct SensitivityArgs {
  std::string checkpoint;
  std::string voc;
  std::string split = "test";
  std::string config;
  std::string labels;
  std::string defaults;
  std::string criterion = "l1";
  std::vector<std::string> layers;
  bool include_backbone = false;
  double step = 0.1;
  double max_ratio_tested = 0.9;
  std::size_t limit = 0;
  std::string backend = "auto";
  std::string metric = "11point";
  std::string output;
  double max_loss = -1;
  double cap = 0.7;
  int threads = 0;
  bool resume = false;
  std::string cpu_convs = "auto";
};

struct Point {
  double ratio;
  bool valid;  // false: the ratio rounds to 0 or all filters for this layer
  double map;
  double loss;
};

double run_eval(const std::string& model, const VocDataset& ds, const SensitivityArgs& a, int input_h, int input_w) {
  DetectorOptions o;
  o.backend = backend_from_string(a.backend);
  o.threads = a.threads;
  o.cpu_convs = cpu_convs_from_string(a.cpu_convs);
  o.input_h = input_h;
  o.input_w = input_w;
  Detector det(model, o);
  const VocEvalResult r = evaluate_on_voc(det, ds, a.limit);
  return a.metric == "11point" ? r.eleven_point.map : r.area.map;
}

// Largest ratio whose loss is within max_loss, interpolated to the next
// measured point, capped; 0 when even the smallest ratio loses too much.
double ratio_for_loss(const std::vector<Point>& pts, double max_loss, double cap) {
  std::vector<Point> v;
  for (const Point& p : pts)
    if (p.valid) v.push_back(p);
  for (std::size_t i = v.size(); i-- > 0;) {
    if (v[i].loss > max_loss) continue;
    double r = v[i].ratio;
    if (i + 1 < v.size() && v[i + 1].loss != v[i].loss)
      r = v[i].ratio + (max_loss - v[i].loss) * (v[i + 1].ratio - v[i].ratio) / (v[i + 1].loss - v[i].loss);
    return std::min(r, cap);
  }
  return 0;
}

void write_plot(const std::string& path, const std::map<std::string, std::vector<Point>>& table,
                const std::vector<std::string>& order, const std::string& title) {
  const int w = 1100, h = 640, left = 70, right = 360, top = 50, bottom = 60;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  double lo = 0, hi = 0.05;
  for (const auto& kv : table)
    for (const Point& p : kv.second)
      if (p.valid) {
        lo = std::min(lo, p.loss);
        hi = std::max(hi, p.loss);
      }
  const AxisTicks ticks = even_ticks(lo, hi, 10);  // the loss axis
  lo = ticks.lo;
  hi = ticks.hi;
  const int pw = w - left - right, ph = h - top - bottom;
  auto px = [&](double r) { return left + static_cast<int>(r * pw); };
  auto py = [&](double l) { return top + static_cast<int>((hi - l) / (hi - lo) * ph); };
  const cv::Scalar grey(200, 200, 200), black(0, 0, 0);
  for (int i = 0; i <= 10; ++i) {
    cv::line(img, {px(i / 10.0), top}, {px(i / 10.0), top + ph}, grey);
    cv::putText(img, cat(i / 10.0).substr(0, 3), {px(i / 10.0) - 10, top + ph + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                black);
  }
  for (int i = 0; i <= ticks.intervals; ++i) {
    const double l = lo + ticks.step * i;
    cv::line(img, {left, py(l)}, {left + pw, py(l)}, grey);
    char label[32];
    std::snprintf(label, sizeof label, "%.*f%%", ticks.decimals(100), 100 * l);
    cv::putText(img, label, {5, py(l) + 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4, black);
  }
  cv::rectangle(img, {left, top}, {left + pw, top + ph}, black);
  cv::putText(img, title, {left, 30}, cv::FONT_HERSHEY_SIMPLEX, 0.6, black);
  cv::putText(img, "pruned ratio", {left + pw / 2 - 40, h - 15}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black);
  for (std::size_t k = 0; k < order.size(); ++k) {
    cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(static_cast<int>(180 * k / std::max<std::size_t>(1, order.size())), 220, 200));
    cv::Mat bgr;
    cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
    const cv::Scalar color(bgr.at<cv::Vec3b>(0, 0)[0], bgr.at<cv::Vec3b>(0, 0)[1], bgr.at<cv::Vec3b>(0, 0)[2]);
    cv::Point prev(px(0), py(0));
    for (const Point& p : table.at(order[k])) {
      if (!p.valid) continue;
      const cv::Point q(px(p.ratio), py(p.loss));
      cv::line(img, prev, q, color, 2, cv::LINE_AA);
      cv::circle(img, q, 3, color, -1, cv::LINE_AA);
      prev = q;
    }
    const int ly = top + 14 + static_cast<int>(k) * 16;
    if (ly < h - 10) {
      cv::line(img, {left + pw + 15, ly - 4}, {left + pw + 40, ly - 4}, color, 2);
      std::string name = order[k];
      if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
      cv::putText(img, name, {left + pw + 45, ly}, cv::FONT_HERSHEY_SIMPLEX, 0.38, black);
    }
  }
  write_png(path, img);
}

// The settings a progress file must share with a run that resumes it.
nlohmann::json run_settings(const SensitivityArgs& a, const paddle::ConvertResult& full, std::size_t images,
                            const std::vector<double>& ratios) {
  return {{"checkpoint_sha256", full.provenance.value("source_sha256", std::string())},
          {"dataset", a.voc},
          {"split", a.split},
          {"images", images},
          {"metric", a.metric},
          {"criterion", a.criterion},
          {"input_size", {full.config.input_h, full.config.input_w}},
          {"classes", full.config.classes},
          {"ratios", ratios}};
}

nlohmann::json point_json(const Point& p) {
  return {{"ratio", p.ratio},
          {"map", p.valid ? nlohmann::json(p.map) : nlohmann::json(nullptr)},
          {"loss", p.valid ? nlohmann::json(p.loss) : nlohmann::json(nullptr)}};
}

// A progress file's baseline and measured layers, after checking that it was
// made with the same settings (a difference is refused, naming it).
double read_progress(const std::string& path, const nlohmann::json& settings,
                     std::map<std::string, std::vector<Point>>* table) {
  TX2_REQUIRE(is_regular_file(path), "--resume: ", path, " not found (a run writes it after its baseline and after "
              "each layer)");
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, 64u << 20);
  const nlohmann::json j = parse_json_checked(std::string(bytes.begin(), bytes.end()), path);
  try {
    const nlohmann::json& old = j.at("settings");
    for (const auto& kv : settings.items())
      TX2_REQUIRE(old.contains(kv.key()) && old.at(kv.key()) == kv.value(), "--resume: ", path,
                  " was made with another ", kv.key(), " (", old.contains(kv.key()) ? old.at(kv.key()).dump() : "none",
                  ", now ", kv.value().dump(), "); run without --resume to start over");
    for (const auto& layer : j.at("layers").items()) {
      std::vector<Point> pts;
      for (const nlohmann::json& p : layer.value()) {
        Point q{p.at("ratio").get<double>(), !p.at("map").is_null(), 0, 0};
        if (q.valid) {
          q.map = p.at("map").get<double>();
          q.loss = p.at("loss").get<double>();
        }
        pts.push_back(q);
      }
      (*table)[layer.key()] = pts;
    }
    return j.at("baseline_map").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("--resume: ", path, ": not a sensitivity progress file (", e.what(), ")"));
  }
}

void write_progress(const std::string& path, const nlohmann::json& settings, double baseline,
                    const std::map<std::string, std::vector<Point>>& table) {
  nlohmann::json j;
  j["settings"] = settings;
  j["baseline_map"] = baseline;
  j["layers"] = nlohmann::json::object();
  for (const auto& kv : table)
    for (const Point& p : kv.second) j["layers"][kv.first].push_back(point_json(p));
  write_json_file(path, j);
}

int run_sensitivity(const SensitivityArgs& a) {
  TX2_REQUIRE(!a.output.empty(), "sensitivity: -o/--output (a file name prefix) is required");
  TX2_REQUIRE(a.step > 0 && a.step < 1, "--step ", a.step, " is outside (0, 1)");
  TX2_REQUIRE(a.max_ratio_tested > 0 && a.max_ratio_tested < 1, "--max-tested-ratio ", a.max_ratio_tested,
              " is outside (0, 1)");
  TX2_REQUIRE(a.max_ratio_tested >= a.step, "--max-tested-ratio ", a.max_ratio_tested, " is below --step ", a.step,
              ": no ratio would be tested");
  TX2_REQUIRE(a.cap > 0 && a.cap < 1, "--max-ratio ", a.cap, " is outside (0, 1)");
  TempDirectory tmp;
  paddle::ConvertOptions base;
  base.input = a.checkpoint;
  base.config = a.config;
  base.labels = a.labels;
  base.defaults = a.defaults;
  base.criterion = a.criterion;
  paddle::prune_criterion_from_string(a.criterion);
  const paddle::ConvertResult full = paddle::convert_checkpoint(base);

  // Everything the user named is checked before the first evaluation: the
  // layers (against this checkpoint), the ratios, the dataset.
  std::vector<std::string> layers;
  for (const std::string& name : a.layers) {
    const std::string node = paddle::resolve_prunable_layer(full.mapped, name, "--layers");
    TX2_REQUIRE(std::find(layers.begin(), layers.end(), node) == layers.end(), "--layers: ", name,
                " is listed twice");
    layers.push_back(node);
  }
  if (layers.empty()) layers = paddle::default_prunable_layers(full.mapped, a.include_backbone);
  std::vector<double> ratios;
  for (int i = 1; i * a.step <= a.max_ratio_tested + 1e-9; ++i) ratios.push_back(std::round(i * a.step * 1e6) / 1e6);
  const VocDataset ds = read_voc_dataset(a.voc, a.split, full.config.classes);
  const std::size_t images = a.limit > 0 ? std::min(a.limit, ds.images.size()) : ds.images.size();
  const nlohmann::json settings = run_settings(a, full, images, ratios);
  const std::string progress = a.output + ".progress.json";

  std::map<std::string, std::vector<Point>> table;
  double baseline = -1;
  if (a.resume) {
    std::map<std::string, std::vector<Point>> done;
    baseline = read_progress(progress, settings, &done);
    for (const std::string& layer : layers)
      if (done.count(layer)) table[layer] = done[layer];
    std::fprintf(stderr, "sensitivity: resuming %s: baseline and %zu of %zu layers already measured\n",
                 progress.c_str(), table.size(), layers.size());
  }
  const std::size_t jobs = (baseline < 0 ? 1 : 0) + (layers.size() - table.size()) * ratios.size();
  std::fprintf(stderr, "sensitivity: %zu layers x %zu ratios on %zu images of %s/%s (%s mAP, criterion %s)\n",
               layers.size(), ratios.size(), images, a.voc.c_str(), a.split.c_str(), a.metric.c_str(),
               a.criterion.c_str());
  ProgressBar bar("sensitivity", jobs, "evaluations");
  std::size_t done = 0;
  if (baseline < 0) {
    const std::string base_model = tmp.file("baseline.safetensors");
    write_model_file(base_model, full.mapped.arch.graph, full.config, full.provenance, full.tensors);
    baseline = run_eval(base_model, ds, a, full.config.input_h, full.config.input_w);
    bar.update(++done);
    write_progress(progress, settings, baseline, table);
  }

  for (const std::string& layer : layers) {
    if (table.count(layer)) continue;
    std::vector<Point> pts;
    for (double r : ratios) {
      Point p{r, true, 0, 0};
      paddle::ConvertOptions o = base;
      o.prune_ratios = {{layer, r}};
      try {
        const paddle::ConvertResult pr = paddle::convert_checkpoint(o);
        const std::string model = tmp.file("pruned.safetensors");
        write_model_file(model, pr.mapped.arch.graph, pr.config, pr.provenance, pr.tensors);
        p.map = run_eval(model, ds, a, full.config.input_h, full.config.input_w);
        p.loss = baseline > 0 ? (baseline - p.map) / baseline : 0;
      } catch (const Error& e) {
        const std::string what = e.what();
        if (what.find("rounds to") == std::string::npos) throw;
        p.valid = false;  // this ratio removes no filter, or all of them
      }
      pts.push_back(p);
      bar.update(++done);
    }
    table[layer] = pts;
    write_progress(progress, settings, baseline, table);  // a stopped run resumes from here
  }

  nlohmann::json j;
  j["checkpoint"] = a.checkpoint;
  j["dataset"] = a.voc;
  j["split"] = a.split;
  j["images"] = images;
  j["metric"] = a.metric;
  j["criterion"] = a.criterion;
  j["baseline_map"] = baseline;
  j["loss"] = "(baseline_map - map) / baseline_map";
  std::string csv = "layer,ratio,map,loss\n";
  for (const std::string& layer : layers) {
    for (const Point& p : table[layer]) {
      j["layers"][layer].push_back(point_json(p));
      csv += p.valid ? cat(layer, ",", p.ratio, ",", p.map, ",", p.loss, "\n") : cat(layer, ",", p.ratio, ",,\n");
    }
  }
  std::string chosen;
  if (a.max_loss >= 0) {
    for (const std::string& layer : layers) {
      const double r = ratio_for_loss(table[layer], a.max_loss, a.cap);
      j["chosen_ratios"][layer] = r;
      if (r > 0) chosen += cat(layer, " ", r, "\n");
    }
    j["max_loss"] = a.max_loss;
    j["max_ratio"] = a.cap;
  }
  write_json_file(a.output + ".json", j);
  write_file_atomic(a.output + ".csv", csv.data(), csv.size());
  write_plot(a.output + ".png", table, layers,
             cat("sensitivity (", a.criterion, "): relative ", a.metric, " mAP loss vs pruned ratio; baseline mAP ",
                 baseline));
  std::printf("baseline mAP (%s): %.4f\n", a.metric.c_str(), baseline);
  std::printf("%-52s", "layer \\ ratio");
  for (double r : ratios) std::printf(" %7.2f", r);
  std::printf("\n");
  for (const std::string& layer : layers) {
    std::printf("%-52s", layer.c_str());
    for (const Point& p : table[layer]) p.valid ? std::printf(" %6.1f%%", 100 * p.loss) : std::printf(" %7s", "-");
    std::printf("\n");
  }
  std::printf("wrote %s.json, %s.csv, %s.png\n", a.output.c_str(), a.output.c_str(), a.output.c_str());
  if (a.max_loss >= 0) {
    const std::string path = a.output + ".ratios.txt";
    const std::string text = "# tx2yolo sensitivity: largest ratio per layer with relative " + a.metric +
                             " mAP loss <= " + cat(a.max_loss) + ", capped at " + cat(a.cap) + "\n" + chosen;
    write_file_atomic(path, text.data(), text.size());
    std::printf("wrote %s (use: tx2yolo convert ... --prune %s)\n", path.c_str(), path.c_str());
    // The same ratios for PaddleSlim (scripts/paddle/finetune_pruned.py), with the filters they keep.
    std::map<std::string, double> chosen_map;
    for (const std::string& layer : layers) {
      const double r = j["chosen_ratios"][layer].get<double>();
      if (r > 0) chosen_map[layer] = r;
    }
    if (!chosen_map.empty()) {
      paddle::ConvertOptions o = base;
      o.prune_ratios = chosen_map;
      try {
        const paddle::ConvertResult pr = paddle::convert_checkpoint(o);
        write_json_file(a.output + ".paddleslim.json", pr.paddleslim);
        std::printf("wrote %s.paddleslim.json (for PaddleSlim: scripts/paddle/finetune_pruned.py)\n",
                    a.output.c_str());
      } catch (const Error& e) {  // a chosen ratio that removes no filter or all of them
        std::fprintf(stderr, "warning: no %s.paddleslim.json: %s\n", a.output.c_str(), e.what());
      }
    }
  }
  return 0;
}

}  // namespace

CommandRunner add_sensitivity_command(CLI::App& app) {
  auto args = std::make_shared<SensitivityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity", "Per-layer pruning sensitivity on a VOC dataset: prune each layer alone at each ratio, evaluate, "
                     "tabulate and plot the mAP loss, and choose ratios for an allowed loss");
  cmd->add_option("checkpoint", args->checkpoint, "Paddle checkpoint (any format tx2yolo convert reads)")->required();
  cmd->add_option("--voc", args->voc, "VOC dataset folder")->required();
  cmd->add_option("-o,--output", args->output,
                  "Output prefix: writes PREFIX.json, .csv, .png (and .ratios.txt), and PREFIX.progress.json after "
                  "each layer (for --resume)")
      ->required();
  cmd->add_option("--split", args->split, "Split list in ImageSets/Main/")->capture_default_str();
  cmd->add_option("--config", args->config, "PaddleDetection config, as for tx2yolo convert");
  cmd->add_option("--labels", args->labels, "Class names file, as for tx2yolo convert");
  cmd->add_option("--defaults", args->defaults, "voc or coco: PaddleDetection's published values, as for tx2yolo convert")
      ->check(CLI::IsMember({"voc", "coco"}));
  cmd->add_option("--criterion", args->criterion, "l1, l0 or fpgm")
      ->check(CLI::IsMember({"l1", "l0", "fpgm"}))
      ->capture_default_str();
  cmd->add_option("--layers", args->layers, "Layers to analyse (default: the 18 detection-block convs)")
      ->delimiter(',');
  cmd->add_flag("--include-backbone", args->include_backbone, "Also analyse the stem and backbone pointwise convs");
  cmd->add_option("--step", args->step, "Ratio step")->capture_default_str();
  cmd->add_option("--max-tested-ratio", args->max_ratio_tested, "Largest ratio tested")->capture_default_str();
  cmd->add_option("--limit", args->limit, "Use only the first N images (0: all)");
  cmd->add_option("--metric", args->metric, "11point or integral")
      ->check(CLI::IsMember({"11point", "integral"}))
      ->capture_default_str();
  cmd->add_option("--max-loss", args->max_loss, "Choose per-layer ratios for this relative mAP loss (e.g. 0.01)")
      ->check(unit_interval());
  cmd->add_flag("--resume", args->resume,
                "Continue a stopped run: reuse the baseline and every layer measured in PREFIX.progress.json (same "
                "checkpoint, dataset and settings), measure the rest");
  cmd->add_option("--max-ratio", args->cap, "Cap on the chosen ratios")->capture_default_str();
  cmd->add_option("--backend", args->backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--threads", args->threads, "CPU threads (0: all cores)");
  add_cpu_convs_option(cmd, &args->cpu_convs);
  return [args] { return run_sensitivity(*args); };
}

}  // namespace tx2yolo
