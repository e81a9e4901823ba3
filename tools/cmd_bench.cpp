// `tx2yolo tune`: times every conv layer's candidate kernels on the GPU
// (TacticMode::kRetune), stores the choice in the tactics cache and prints it.
//
// `tx2yolo bench`: end-to-end timing of the Detector on one image, with
// preprocess, network, decode+NMS and end-to-end times reported separately
// (median, p90, p99 over --iterations after --warmup), and the device, the
// backend and every setting named in the output. --sweep times every
// --sizes x --batches x --precisions configuration and prints one row each.
//
// --batch N runs N copies of the image through one network run per
// iteration (times are per batch; FPS counts images). --precision fp16 stores
// the CUDA activations as FP16 and allows tensor-core convs (engine/tactics.h).
#include <algorithm>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "kernels/device.h"
#include "tools/commands.h"
#include "tools/plot.h"
#include "tools/progress.h"
#include "tools/image_read.h"

namespace tx2yolo {

namespace {

struct BenchArgs {
  std::string model;
  std::string image;
  bool synthetic = false;
  std::vector<int> input_size;
  std::string backend = "auto";
  int batch = 1;
  int iterations = 200;
  int warmup = 20;
  int threads = 0;
  int device = 0;
  CudaRunArgs cuda;
  bool show_tactics = false;
  std::string json;
  bool sweep = false;
  std::string plot;
  std::string force_tactic;
  std::vector<int> sizes = {320, 416, 608};
  std::vector<int> batches = {1, 8};
  std::vector<std::string> precisions = {"fp32"};
};

// Per conv layer: the tactic and the time of every candidate that was timed.
void print_tactics(const std::vector<LayerTactic>& tactics) {
  std::printf("%-48s %-10s %s\n", "conv layer", "tactic", "timed candidates (ms per launch)");
  for (const LayerTactic& t : tactics) {
    std::string times;
    for (const auto& m : t.ms) times += cat(m.first, " ", m.second, "  ");
    if (t.from_cache) times += "(from the cache)";
    std::printf("%-48s %-10s %s\n", t.layer.c_str(), t.tactic.c_str(), times.c_str());
  }
}

struct Stats {
  double median = 0, p90 = 0, p99 = 0, mean = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5))]; };
  s.median = pct(0.5);
  s.p90 = pct(0.9);
  s.p99 = pct(0.99);
  for (double x : v) s.mean += x / static_cast<double>(v.size());
  return s;
}

// One configuration timed: the Detector built, warmed up and run
// `iterations` times on `batch` copies of the image.
struct Measurement {
  std::string device, backend;
  int input_h = 0, input_w = 0, batch = 1;
  Precision precision = Precision::kFp32;
  std::size_t detections = 0;
  Stats pre, net, post, total;
  bool on_cuda = false;
  double device_mib = 0;  // the detector's peak device memory (CUDA)
  std::vector<LayerTactic> tactics;
  double fps() const { return batch * 1000.0 / std::max(1e-9, total.median); }
};

Measurement measure(const std::string& model, const DetectorOptions& o, const cv::Mat& image, int iterations,
                    int warmup, const std::string& label) {
  Measurement r;
  // Device memory: what the device has in use before the detector exists and
  // at its peak (after the warm-up and after the timed runs; the detector
  // allocates at construction and at the first frame, never while running).
  // The difference is the detector's; another process's allocations in the
  // meantime would count too, which the output says.
  r.on_cuda = resolve_backend(o.backend, nullptr) == BackendKind::kCuda;
  const std::size_t used_before = r.on_cuda ? cuda_used_memory(o.device) : 0;
  Detector det(model, o);
  print_detector_warnings(det);
  r.device = det.backend() == BackendKind::kCuda ? describe_cuda_device(cuda_device_info(o.device))
                                                 : cat("CPU, ", std::thread::hardware_concurrency(), " hardware threads");
  r.input_h = det.input_h();
  r.input_w = det.input_w();
  r.batch = o.batch;
  r.precision = o.precision;
  const std::vector<cv::Mat> images(static_cast<std::size_t>(o.batch), image);
  // Progress on a terminal only: the warm-up and the timed runs together.
  ProgressBar bar(label, static_cast<std::size_t>(warmup + iterations), "runs", ProgressBar::Mode::kTerminalOnly);
  for (int i = 0; i < warmup; ++i) {
    det.detect_batch(images);
    bar.update(static_cast<std::size_t>(i + 1));
  }
  std::size_t used_peak = r.on_cuda ? cuda_used_memory(o.device) : 0;
  std::vector<double> pre, net, post, total;
  for (int i = 0; i < iterations; ++i) {
    r.detections = det.detect_batch(images).front().size();
    const FrameTimings& t = det.last_timings();
    pre.push_back(t.preprocess_ms);
    net.push_back(t.network_ms);
    post.push_back(t.postprocess_ms);
    total.push_back(t.total_ms);
    bar.update(static_cast<std::size_t>(warmup + i + 1));
  }
  if (r.on_cuda) used_peak = std::max(used_peak, cuda_used_memory(o.device));
  r.device_mib = (used_peak > used_before ? used_peak - used_before : 0) / 1048576.0;
  r.pre = stats(pre);
  r.net = stats(net);
  r.post = stats(post);
  r.total = stats(total);
  r.tactics = det.layer_tactics();
  r.backend = det.backend_description();  // after the runs: it counts the frame graph's captures and replays
  return r;
}

nlohmann::json to_json(const Measurement& m, const std::string& model, int iterations, int warmup) {
  nlohmann::json j;
  j["model"] = model;
  j["device"] = m.device;
  j["backend"] = m.backend;
  j["input"] = {m.input_h, m.input_w};
  j["batch"] = m.batch;
  j["fps_median"] = m.fps();
  j["precision"] = precision_name(m.precision);
  j["iterations"] = iterations;
  j["warmup"] = warmup;
  if (m.on_cuda) j["device_memory_peak_mib"] = m.device_mib;
  const std::pair<const char*, const Stats*> rows[] = {
      {"preprocess", &m.pre}, {"network", &m.net}, {"decode + NMS", &m.post}, {"end to end", &m.total}};
  for (const auto& r : rows)
    j["ms"][r.first] = {{"median", r.second->median}, {"p90", r.second->p90}, {"p99", r.second->p99},
                        {"mean", r.second->mean}};
  return j;
}

// --sweep: every size x batch x precision, one table row each.
int run_sweep(const BenchArgs& a, const std::string& model, const std::string& image_path, const cv::Mat& image,
              DetectorOptions o) {
  TX2_REQUIRE(a.input_size.empty() && a.batch == 1, "--sweep takes its sizes and batches from --sizes and --batches");
  if (!a.plot.empty()) {  // before any timing
    TX2_REQUIRE(image_codecs_available(), "--plot: tx2yolo-bench writes no images (no OpenCV codecs); use tx2yolo");
    TX2_REQUIRE(is_directory(path_dirname(a.plot)), "--plot ", a.plot, ": the folder ", path_dirname(a.plot),
                " does not exist");
  }
  TX2_REQUIRE(!a.sizes.empty() && !a.batches.empty() && !a.precisions.empty(), "--sweep needs at least one size, "
              "batch and precision");
  for (int size : a.sizes) validate_input_size(size, size, "--sizes");
  for (int b : a.batches) TX2_REQUIRE(b >= 1 && b <= kMaxBatch, "--batches ", b, " is outside [1, ", kMaxBatch, "]");
  std::vector<Precision> precisions;
  for (const std::string& p : a.precisions) precisions.push_back(precision_from_string(p));
  nlohmann::json all;
  all["model"] = model;
  all["rows"] = nlohmann::json::array();
  bool header = false;
  std::vector<StackedBar> bars;
  for (Precision precision : precisions)
    for (int size : a.sizes)
      for (int batch : a.batches) {
        o.input_h = o.input_w = size;
        o.batch = batch;
        o.precision = precision;
        const Measurement m =
            measure(model, o, image, a.iterations, a.warmup,
                    cat("bench ", size, "x", size, " batch ", batch, " ", precision_name(precision)));
        if (!header) {
          std::printf("tx2yolo bench --sweep: %s\ndevice: %s\nsettings: image %s (%dx%d), %d warm-up + %d timed "
                      "iterations each; medians in ms per batch\n",
                      model.c_str(), m.device.c_str(), image_path.c_str(), image.cols, image.rows, a.warmup,
                      a.iterations);
          std::printf("%-6s %-6s %-10s %11s %11s %13s %11s %10s %11s\n", "input", "batch", "precision", "preprocess",
                      "network", "decode + NMS", "end to end", "FPS", "device MiB");
          all["device"] = m.device;
          header = true;
        }
        std::printf("%-6d %-6d %-10s %11.3f %11.3f %13.3f %11.3f %10.1f %11s\n", size, batch,
                    precision_name(precision), m.pre.median, m.net.median, m.post.median, m.total.median, m.fps(),
                    m.on_cuda ? cat(static_cast<int>(m.device_mib + 0.5)).c_str() : "-");
        std::fflush(stdout);
        all["rows"].push_back(to_json(m, model, a.iterations, a.warmup));
        bars.push_back({cat(size, "x", size, " b", batch, " ", precision_name(precision)),
                        {m.pre.median / batch, m.net.median / batch, m.post.median / batch}});
      }
  if (!a.json.empty()) write_json_file(a.json, all);
  if (!a.plot.empty()) {
    write_stacked_bar_chart(a.plot, cat("tx2yolo bench --sweep: ", model, " on ", all.value("device", std::string())),
                            "median ms per image (stage medians / batch)",
                            {"preprocess", "network", "decode + NMS"}, bars);
    std::printf("wrote %s\n", a.plot.c_str());
  }
  return 0;
}

int run_bench(const BenchArgs& a) {
  TX2_REQUIRE(a.batch >= 1 && a.batch <= kMaxBatch, "--batch ", a.batch, " is outside [1, ", kMaxBatch, "]");
  TX2_REQUIRE(a.iterations >= 1 && a.iterations <= 1000000, "--iterations ", a.iterations, " is outside [1, 1000000]");
  TX2_REQUIRE(a.warmup >= 0, "--warmup ", a.warmup, " is negative");
  const std::string model = a.model.empty() ? default_model_path() : a.model;
  TX2_REQUIRE(!(a.synthetic && !a.image.empty()), "--synthetic and --image exclude each other");
  const std::string image_path =
      a.synthetic ? "synthetic scene" : a.image.empty() ? default_image_path() : a.image;
  const cv::Mat image = a.synthetic ? synthetic_scene(640, 480) : read_image(image_path);
  DetectorOptions o;
  input_size_option(a.input_size, &o.input_h, &o.input_w);
  o.backend = backend_from_string(a.backend);
  o.threads = a.threads;
  o.device = a.device;
  apply_cuda_run_options(a.cuda, &o);
  o.batch = a.batch;
  if (!a.force_tactic.empty()) {
    TX2_REQUIRE(o.tactics == TacticMode::kHeuristic, "--force-tactic needs --tactics heuristic");
    o.force_tactic = a.force_tactic;
  }
  if (a.sweep) return run_sweep(a, model, image_path, image, o);
  TX2_REQUIRE(a.plot.empty(), "--plot draws the results of --sweep; add --sweep");

  const Measurement m = measure(model, o, image, a.iterations, a.warmup, "bench");
  std::printf("tx2yolo bench: %s\n", model.c_str());
  std::printf("device: %s\nbackend: %s\n", m.device.c_str(), m.backend.c_str());
  const char* precision = o.precision == Precision::kFp16 ? "FP16 storage" : "FP32";
  std::printf("settings: input %dx%d, batch %d, %s, image %s (%dx%d), %d warm-up + %d timed iterations, "
              "%zu detections per image\n",
              m.input_h, m.input_w, a.batch, precision, image_path.c_str(), image.cols, image.rows, a.warmup,
              a.iterations, m.detections);
  std::printf("%-22s %10s %10s %10s %10s\n", a.batch == 1 ? "stage (ms)" : "stage (ms per batch)", "median", "p90",
              "p99", "mean");
  const std::pair<const char*, const Stats*> rows[] = {
      {"preprocess", &m.pre}, {"network", &m.net}, {"decode + NMS", &m.post}, {"end to end", &m.total}};
  for (const auto& r : rows)
    std::printf("%-22s %10.3f %10.3f %10.3f %10.3f\n", r.first, r.second->median, r.second->p90, r.second->p99,
                r.second->mean);
  std::printf("end to end: %.1f FPS (median; images per second)\n", m.fps());
  if (a.show_tactics) {
    if (m.tactics.empty()) {
      std::printf("tactics: none (the %s backend has one kernel per op)\n",
                  m.on_cuda ? "cuda" : "cpu");
    } else {
      print_tactics(m.tactics);
    }
  }
  if (m.on_cuda)
    std::printf("device memory: %.1f MiB peak for the detector (cudaMemGetInfo, in use after minus before; "
                "includes allocator rounding and any other process's allocations meanwhile)\n",
                m.device_mib);
  if (!a.json.empty()) write_json_file(a.json, to_json(m, model, a.iterations, a.warmup));
  return 0;
}

}  // namespace

CommandRunner add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time preprocess, network, decode+NMS and end to end (median, p90, p99) on one image");
  cmd->add_option("--model", args->model, "Model file (default: the bundled demo model)");
  cmd->add_option("--image", args->image, "Image (default: the bundled demo image)");
  cmd->add_flag("--synthetic", args->synthetic,
                "Time on a drawn 640x480 scene instead of an image file (tx2yolo-bench reads no files)");
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32")->expected(1, 2);
  cmd->add_option("--backend", args->backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--batch", args->batch, "Images per network run (1 to 64)")->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "Timed iterations")->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Warm-up iterations")->capture_default_str();
  cmd->add_option("--threads", args->threads,
                  "CPU threads (0: all cores; on the onednn path, all cores or 1, whichever measures faster)");
  cmd->add_option("--device", args->device, "CUDA device index");
  cmd->add_option("--json", args->json, "Also write the results as JSON");
  add_cuda_run_options(cmd, &args->cuda);
  cmd->add_flag("--show-tactics", args->show_tactics, "Print the kernel each conv layer runs");
  cmd->add_option("--force-tactic", args->force_tactic,
                  "CUDA, with --tactics heuristic: run this conv kernel on every layer it supports (e.g. "
                  "gemm64-half2 to time the TX2's FP16 path on a card with tensor cores); for measurement only");
  cmd->add_flag("--sweep", args->sweep,
                "Time every --sizes x --batches x --precisions configuration, one table row each (JSON: all rows)");
  cmd->add_option("--plot", args->plot,
                  "--sweep: also draw each configuration's stage times per image as a PNG (the tx2yolo CLI only)");
  cmd->add_option("--sizes", args->sizes, "--sweep: input sizes, multiples of 32")->delimiter(',')->capture_default_str();
  cmd->add_option("--batches", args->batches, "--sweep: batch sizes")->delimiter(',')->capture_default_str();
  cmd->add_option("--precisions", args->precisions, "--sweep: fp32 and/or fp16 (CUDA)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "fp16"}))
      ->capture_default_str();
  return [args] { return run_bench(*args); };
}

namespace {

struct TuneArgs {
  std::string model;
  std::string precision = "fp32";
  std::vector<int> input_size;
  int batch = 1;
  int device = 0;
  std::string tactics_cache;
  bool unverified = false;
};

int run_tune(const TuneArgs& a) {
  TX2_REQUIRE(cuda_compiled() && cuda_device_count() > 0, "tune needs a CUDA device: ", cuda_unavailable_reason());
  DetectorOptions o;
  input_size_option(a.input_size, &o.input_h, &o.input_w);
  o.backend = BackendKind::kCuda;
  o.device = a.device;
  o.batch = a.batch;
  o.tactics = TacticMode::kRetune;
  o.precision = precision_from_string(a.precision);
  o.unverified = a.unverified;
  o.tactics_cache = a.tactics_cache.empty() ? default_tactic_cache_path() : a.tactics_cache;
  TX2_REQUIRE(!o.tactics_cache.empty() && o.tactics_cache != "none",
              "tune: no cache file to write (pass --tactics-cache FILE, or set HOME)");
  const std::string model = a.model.empty() ? default_model_path() : a.model;
  const Detector det(model, o);
  print_detector_warnings(det);
  std::printf("tx2yolo tune: %s\ndevice: %s\nsettings: input %dx%d, batch %d, %s\nbackend: %s\n", model.c_str(),
              describe_cuda_device(cuda_device_info(a.device)).c_str(), det.input_h(), det.input_w(), a.batch,
              precision_name(o.precision),
              det.backend_description().c_str());
  print_tactics(det.layer_tactics());
  return 0;
}

}  // namespace

CommandRunner add_tune_command(CLI::App& app) {
  auto args = std::make_shared<TuneArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tune", "Time every conv layer's CUDA kernels on this GPU and store the fastest in the tactics cache");
  cmd->add_option("--model", args->model, "Model file (default: the bundled demo model)");
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32")->expected(1, 2);
  cmd->add_option("--batch", args->batch, "Images per network run (1 to 64)")->check(CLI::Range(1, kMaxBatch));
  cmd->add_option("--device", args->device, "CUDA device index")->check(CLI::Range(0, 64));
  cmd->add_option("--precision", args->precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_option("--tactics-cache", args->tactics_cache, "Cache file (default ~/.cache/tx2yolo/tactics.json)");
  cmd->add_flag("--unverified", args->unverified, kUnverifiedHelp);
  return [args] { return run_tune(*args); };
}

}  // namespace tx2yolo
