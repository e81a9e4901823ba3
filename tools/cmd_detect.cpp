// `tx2yolo detect`: run the detector on an image, a folder, a video or a
// camera; print detections and timings; write annotated output and
// COCO-results JSON. Every output file is written under a temporary name and
// renamed into place only when complete.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <cctype>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "tools/annotate.h"
#include "tools/commands.h"
#include "tools/frame_source.h"
#include "tools/live_results.h"
#include "tools/show_window.h"

namespace tx2yolo {

namespace {

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop = true; }

struct DetectArgs {
  std::string input;                // one source (the one-source path)
  std::vector<std::string> inputs;  // as given: sources, or one .streams file
  std::string model;
  std::string out;
  std::string json;
  std::string jsonl;
  std::string backend = "auto";
  std::vector<int> input_size;
  float threshold = -1.f;
  float conf_threshold = -1.f;
  float score_threshold = -1.f;
  float nms_threshold = -1.f;
  int keep_top_k = -2;
  int threads = 0;
  int max_frames = 0;
  NetworkStreamOptions network;
  bool no_drop = false;
  long long max_pixels = kDefaultMaxImagePixels;
  int device = 0;
  int nms_capacity = 0;
  bool cpu_nms = false;
  bool debug_sync = false;
  CudaRunArgs cuda;
  bool quiet = false;
  bool show = false;
};

// Refuses an output path that would overwrite the input, the model or the
// other output, or that names a folder where a file is expected. Runs before
// any work, so a bad path costs nothing.
void check_output_path(const char* option, const std::string& path, const std::string& input,
                       const std::string& model, const std::string& other, bool folder_allowed) {
  if (path.empty()) return;
  const std::string parent = path_dirname(path);
  TX2_REQUIRE(is_directory(parent), option, " ", path, ": folder ", parent, " does not exist");
  TX2_REQUIRE(!same_file(path, input), option, " ", path, " is the input itself; refusing to overwrite it");
  TX2_REQUIRE(!same_file(path, model), option, " ", path, " is the model file; refusing to overwrite it");
  TX2_REQUIRE(path != other && !same_file(path, other), option, " ", path, " is also the other output");
  TX2_REQUIRE(folder_allowed || !is_directory(path), option, " ", path, " is a folder; expected a file name");
}

// Every file `detect` writes, held under temporary names until commit():
// annotated images (one file, or a folder of them), an annotated video, and
// the JSON results (streamed record by record, so memory stays flat on a
// camera). An error anywhere before commit() leaves nothing behind.
class DetectOutputs {
 public:
  DetectOutputs(const DetectArgs& a, const std::string& input, const std::string& model, const FrameSource& src)
      : out_(a.out), json_path_(a.json), fps_(src.fps()) {
    check_output_path("--out", a.out, input, model, a.json, true);
    check_output_path("--json", a.json, input, model, a.out, false);
    mode_ = plan(a.out, input, src);
    if (!json_path_.empty()) {
      json_file_ = std::make_unique<AtomicFile>(json_path_);
      json_.open(json_file_->temp_path(), std::ios::binary | std::ios::trunc);
      TX2_REQUIRE(json_.good(), "--json ", json_path_, ": cannot open for writing");
      json_ << "[";
    }
  }

  ~DetectOutputs() {
    if (!temp_folder_.empty()) {  // not committed: remove what we wrote, then the folder
      for (const std::string& f : folder_files_) std::remove(f.c_str());
      ::rmdir(temp_folder_.c_str());
    }
  }
  DetectOutputs(const DetectOutputs&) = delete;
  DetectOutputs& operator=(const DetectOutputs&) = delete;

  void add(const Frame& frame, const std::vector<Detection>& dets, const std::vector<std::string>& classes,
           float threshold) {
    if (json_.is_open()) {
      for (const Detection& d : dets) {
        json_ << (records_++ ? ",\n " : "\n ")
              << detection_to_coco(d, frame.name, coco_image_id(frame.name, frame.index), classes,
                                   coco_category_ids(classes))
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      TX2_REQUIRE(json_.good(), "--json ", json_path_, ": write failed");
    }
    if (mode_ == Mode::kNone) return;
    cv::Mat annotated = frame.bgr.clone();
    draw_detections(annotated, dets, classes, threshold);
    switch (mode_) {
      case Mode::kImageFile:
        images_.clear();  // a single image input has one frame; keep the last
        images_.push_back(write_image(out_, annotated));
        break;
      case Mode::kExistingFolder:
        images_.push_back(write_image(path_join(out_, frame.name), annotated));
        break;
      case Mode::kNewFolder: {
        const std::string path = path_join(temp_folder_, frame.name);
        folder_files_.push_back(path);
        TX2_REQUIRE(imwrite_checked(path, annotated), out_, ": cannot write ", frame.name);
        break;
      }
      case Mode::kVideoFile:
        if (!video_file_) {
          video_file_ = std::make_unique<AtomicFile>(out_);
          TX2_REQUIRE(video_.open(video_file_->temp_path(), fourcc_for(out_), fps_ > 0 ? fps_ : 25.0,
                                  annotated.size()),
                      out_, ": cannot open a video writer (codec unavailable?)");
        }
        video_.write(annotated);
        break;
      case Mode::kNone:
        break;
    }
  }

  // Makes every output appear under its final name.
  void commit(int frames, std::FILE* text) {
    if (json_.is_open()) {
      json_ << (records_ ? "\n]\n" : "]\n");
      json_.close();
      TX2_REQUIRE(!json_.fail(), "--json ", json_path_, ": write failed");
    }
    if (video_file_) video_.release();
    if (json_file_) json_file_->commit();
    for (auto& f : images_) f->commit();
    if (video_file_) video_file_->commit();
    if (mode_ == Mode::kNewFolder) {
      TX2_REQUIRE(std::rename(temp_folder_.c_str(), out_.c_str()) == 0, "--out ", out_,
                  ": cannot move the finished folder into place");
      temp_folder_.clear();
    }
    if (mode_ == Mode::kImageFile || mode_ == Mode::kVideoFile) std::fprintf(text, "wrote %s\n", out_.c_str());
    if (mode_ == Mode::kExistingFolder || mode_ == Mode::kNewFolder)
      std::fprintf(text, "wrote %d image(s) to %s\n", frames, out_.c_str());
    if (json_file_) std::fprintf(text, "wrote %s\n", json_path_.c_str());
  }

 private:
  enum class Mode { kNone, kImageFile, kExistingFolder, kNewFolder, kVideoFile };

  Mode plan(const std::string& out, const std::string& input, const FrameSource& src) {
    if (out.empty()) return Mode::kNone;
    if (src.is_stream()) {
      TX2_REQUIRE(has_video_extension(out), "--out ", out,
                  ": video and camera input need a video file name (.mp4, .avi, .mkv)");
      return Mode::kVideoFile;
    }
    if (is_directory(out)) {
      TX2_REQUIRE(src.kind() == SourceKind::kImageFolder || !same_file(path_join(out, path_basename(input)), input),
                  "--out ", out, " would overwrite the input image ", input);
      return Mode::kExistingFolder;
    }
    if (src.kind() == SourceKind::kImageFolder) {
      TX2_REQUIRE(!file_exists(out), "--out ", out, ": a folder of images needs an output folder");
      temp_folder_ = path_join(path_dirname(out), cat(".", path_basename(out), ".partial-", ::getpid()));
      TX2_REQUIRE(::mkdir(temp_folder_.c_str(), 0755) == 0, "--out ", out, ": cannot create a folder beside it");
      return Mode::kNewFolder;
    }
    TX2_REQUIRE(has_image_extension(out), "--out ", out,
                ": expected an image file name (.jpg, .png, .bmp, ...) or an existing folder");
    return Mode::kImageFile;
  }

  static bool imwrite_checked(const std::string& path, const cv::Mat& image) {
    try {
      return cv::imwrite(path, image);
    } catch (const cv::Exception&) {
      return false;
    }
  }

  static std::unique_ptr<AtomicFile> write_image(const std::string& path, const cv::Mat& image) {
    auto file = std::make_unique<AtomicFile>(path);
    TX2_REQUIRE(imwrite_checked(file->temp_path(), image), path, ": cannot write image");
    return file;
  }

  static int fourcc_for(const std::string& path) {
    if (path_extension(path) == ".avi") return cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
    return cv::VideoWriter::fourcc('m', 'p', '4', 'v');
  }

  std::string out_;
  std::string json_path_;
  double fps_ = 0;
  Mode mode_ = Mode::kNone;
  std::unique_ptr<AtomicFile> json_file_;
  std::ofstream json_;
  long long records_ = 0;
  std::vector<std::unique_ptr<AtomicFile>> images_;
  std::string temp_folder_;
  std::vector<std::string> folder_files_;
  std::unique_ptr<AtomicFile> video_file_;
  cv::VideoWriter video_;
};

DetectorOptions detector_options(const DetectArgs& a, int batch) {
  DetectorOptions opt;
  opt.batch = batch;
  opt.backend = backend_from_string(a.backend);
  opt.threads = a.threads;
  opt.device = a.device;
  opt.debug_sync = a.debug_sync;
  apply_cuda_run_options(a.cuda, &opt);
  opt.gpu_nms = !a.cpu_nms;
  opt.nms_capacity = a.nms_capacity;
  input_size_option(a.input_size, &opt.input_h, &opt.input_w);
  if (a.conf_threshold >= 0) opt.conf_threshold = a.conf_threshold;
  if (a.score_threshold >= 0) opt.score_threshold = a.score_threshold;
  if (a.nms_threshold >= 0) opt.nms_threshold = a.nms_threshold;
  if (a.keep_top_k != -2) opt.keep_top_k = a.keep_top_k;
  return opt;
}

// One frame's summary line and, unless quiet, its detections over the threshold.
void print_frame(std::FILE* text, const Frame& frame, const std::vector<Detection>& dets, const FrameTimings& t,
                 float threshold, const Detector& detector, bool quiet) {
  int shown = 0;
  for (const Detection& d : dets) shown += d.score >= threshold;
  std::fprintf(text, "%s %dx%d: %d detection%s >= %.2f (%zu total), %.1f ms (preprocess %.1f, network %.1f, "
               "postprocess %.1f)\n",
               frame.name.c_str(), frame.bgr.cols, frame.bgr.rows, shown, shown == 1 ? "" : "s", threshold,
               dets.size(), t.total_ms, t.preprocess_ms, t.network_ms, t.postprocess_ms);
  if (!quiet) {
    for (const Detection& d : dets) {
      if (d.score < threshold) continue;
      std::fprintf(text, "  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", detector.class_name(d.class_id).c_str(), d.score,
                   d.x1, d.y1, d.x2, d.y2);
    }
  }
  if (t.nms_overflow > 0) {
    std::fprintf(stderr, "warning: %s: %lld NMS candidates did not fit the GPU capacity and were dropped; "
                 "raise --nms-capacity or use --cpu-nms for the exact result\n", frame.name.c_str(), t.nms_overflow);
  }
}

// The --jsonl writer (none without the option), after refusing a target that
// is one of the inputs, the model or another output.
std::unique_ptr<JsonlWriter> open_jsonl(const DetectArgs& a, const std::vector<std::string>& inputs,
                                        const std::string& model_path) {
  if (a.jsonl.empty()) return nullptr;
  if (a.jsonl != "-") {
    for (const std::string& input : inputs) check_output_path("--jsonl", a.jsonl, input, model_path, a.json, false);
    TX2_REQUIRE(a.jsonl != a.out && !same_file(a.jsonl, a.out), "--jsonl ", a.jsonl, " is also the --out output");
  }
  return std::make_unique<JsonlWriter>(a.jsonl);
}

// The run's wall time, from the first frame read to the last one done
// (reading, decoding, detection and the outputs; not the model's loading).
void print_wall(std::FILE* text, std::chrono::steady_clock::time_point start, int frames) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(text, "wall: %.3f s for %d frame(s), %.2f frames/s\n", s, frames, s > 0 ? frames / s : 0.0);
}

int run_detect(const DetectArgs& a) {
  const DetectorOptions opt = detector_options(a, 1);
  const std::string model_path = a.model.empty() ? default_model_path() : a.model;
  const std::string input = a.input.empty() ? default_image_path() : a.input;
  NetworkStreamOptions network = a.network;
  network.drop_oldest = !a.no_drop;
  std::unique_ptr<ShowWindows> windows;
  if (a.show) windows = std::make_unique<ShowWindows>();  // refused here, before any work, without a display
  FrameSource source(input, a.max_pixels, network);
  Detector detector(model_path, opt);
  print_detector_warnings(detector);
  DetectOutputs outputs(a, input, model_path, source);
  const std::unique_ptr<JsonlWriter> jsonl = open_jsonl(a, {input}, model_path);
  // With --jsonl - the JSON lines own standard output; the text goes to stderr.
  std::FILE* text = jsonl && jsonl->to_stdout() ? stderr : stdout;
  const float threshold = a.threshold >= 0 ? a.threshold : detector.config().draw_threshold;
  const auto& classes = detector.config().classes;

  std::fprintf(text, "model: %s (%s head, %zu classes), input %dx%d (h x w), backend %s\n", model_path.c_str(),
              detector.config().head_type.c_str(), classes.size(), detector.input_h(), detector.input_w(),
              detector.backend_description().c_str());

  g_stop = false;
  std::signal(SIGINT, on_sigint);
  Frame frame;
  FpsMeter fps;
  const auto wall_start = std::chrono::steady_clock::now();
  int frames = 0;
  double total_ms = 0;
  while (!g_stop && (a.max_frames <= 0 || frames < a.max_frames) && source.next(&frame)) {
    const std::vector<Detection> dets = detector.detect(frame.bgr);
    const FrameTimings& t = detector.last_timings();
    ++frames;
    total_ms += t.total_ms;
    print_frame(text, frame, dets, t, threshold, detector, a.quiet);
    if (jsonl) jsonl->write(input, frame.index, frame.name, frame.bgr.cols, frame.bgr.rows, dets, classes, t);
    outputs.add(frame, dets, classes, threshold);
    if (windows && !windows->show(input, frame.bgr, dets, classes, threshold, fps.tick())) g_stop = true;
    std::fflush(text);
  }
  std::signal(SIGINT, SIG_DFL);
  TX2_REQUIRE(frames > 0, input, ": no frames could be read");
  std::fprintf(text, "frames: %d, mean %.1f ms/frame (%.2f FPS), backend %s, input %dx%d (h x w)\n", frames,
              total_ms / frames, total_ms > 0 ? 1000.0 * frames / total_ms : 0.0, backend_name(detector.backend()),
              detector.input_h(), detector.input_w());
  print_wall(text, wall_start, frames);
  if (source.kind() == SourceKind::kNetwork)
    std::fprintf(text, "stream: %lld frame(s) dropped from the full queue, %d reconnect(s)\n", source.dropped_frames(),
                 source.reconnects());
  outputs.commit(frames, text);
  return 0;
}


// The sources named on the command line, with a ".streams" file (one source
// per line; blank lines and lines starting with # skipped) read in place.
std::vector<std::string> expand_sources(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const std::string& g : given) {
    if (path_extension(g) != ".streams") {
      out.push_back(g);
      continue;
    }
    TX2_REQUIRE(is_regular_file(g), g, ": no such .streams file");
    std::ifstream in(g);
    std::string line;
    int added = 0;
    while (std::getline(in, line)) {
      const auto b = line.find_first_not_of(" \t\r");
      if (b == std::string::npos || line[b] == '#') continue;
      const auto e = line.find_last_not_of(" \t\r");
      out.push_back(line.substr(b, e - b + 1));
      ++added;
    }
    TX2_REQUIRE(added > 0, g, ": names no sources (one per line)");
  }
  return out;
}

// "s2-rtsp___cam2_554_live.mp4": where source i's annotated output goes in
// the --out folder. Videos, cameras and streams get a video file, an image
// keeps its extension, a folder of images gets a new folder.
std::string multi_output_name(std::size_t i, const std::string& input, const FrameSource& source) {
  std::string base = path_basename(input);
  if (base.empty() || source.kind() == SourceKind::kNetwork || source.kind() == SourceKind::kCamera) base = input;
  std::string clean;
  for (char c : base) clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  if (clean.size() > 48) clean = clean.substr(clean.size() - 48);
  std::string name = cat("s", i + 1, "-", clean);
  const std::string ext = path_extension(name);
  if (source.is_stream() && ext != ".mp4" && ext != ".avi" && ext != ".mkv") name += ".mp4";  // writable containers
  return name;
}

// Several sources through one detector: each round takes the next frame of
// every source still running (for network streams the newest: their queue
// holds one frame) and runs them as one batch. A source that ends or fails is
// dropped with a warning, and the others go on.
int run_detect_multi(const DetectArgs& a, const std::vector<std::string>& inputs) {
  TX2_REQUIRE(inputs.size() <= static_cast<std::size_t>(kMaxBatch), "at most ", kMaxBatch, " sources at once (",
              inputs.size(), " given)");
  TX2_REQUIRE(a.json.empty(), "--json takes one source; with several, use --jsonl (each line names its source)");
  TX2_REQUIRE(a.out.empty() || is_directory(a.out), "--out ", a.out,
              ": with several sources, an existing folder (one output per source inside it)");
  std::unique_ptr<ShowWindows> windows;
  if (a.show) windows = std::make_unique<ShowWindows>();
  const std::string model_path = a.model.empty() ? default_model_path() : a.model;
  NetworkStreamOptions network = a.network;
  network.drop_oldest = !a.no_drop;
  if (network.drop_oldest) network.queue = 1;

  struct Source {
    std::size_t number = 0;  // 1-based, as given
    std::string input;
    std::unique_ptr<FrameSource> frames;
    std::unique_ptr<DetectOutputs> outputs;
    FpsMeter fps;
    int count = 0;
    bool running = true;
  };
  std::vector<Source> sources;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Source s;
    s.number = i + 1;
    s.input = inputs[i];
    try {
      s.frames = std::make_unique<FrameSource>(inputs[i], a.max_pixels, network);
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: source %zu: %s; skipped\n", s.number, e.what());
      continue;
    }
    sources.push_back(std::move(s));
  }
  TX2_REQUIRE(!sources.empty(), "none of the ", inputs.size(), " sources could be opened");
  Detector detector(model_path, detector_options(a, static_cast<int>(sources.size())));
  print_detector_warnings(detector);
  for (Source& s : sources) {
    DetectArgs one = a;
    if (!a.out.empty()) one.out = path_join(a.out, multi_output_name(s.number - 1, s.input, *s.frames));
    s.outputs = std::make_unique<DetectOutputs>(one, s.input, model_path, *s.frames);
  }
  const std::unique_ptr<JsonlWriter> jsonl = open_jsonl(a, inputs, model_path);
  std::FILE* text = jsonl && jsonl->to_stdout() ? stderr : stdout;
  const float threshold = a.threshold >= 0 ? a.threshold : detector.config().draw_threshold;
  const auto& classes = detector.config().classes;
  std::fprintf(text, "model: %s (%s head, %zu classes), input %dx%d (h x w), backend %s, %zu sources in a batch\n",
               model_path.c_str(), detector.config().head_type.c_str(), classes.size(), detector.input_h(),
               detector.input_w(), detector.backend_description().c_str(), sources.size());

  g_stop = false;
  std::signal(SIGINT, on_sigint);
  const auto wall_start = std::chrono::steady_clock::now();
  int rounds = 0;
  double total_ms = 0;
  while (!g_stop && (a.max_frames <= 0 || rounds < a.max_frames)) {
    std::vector<Source*> taken;
    std::vector<Frame> frames;
    for (Source& s : sources) {
      if (!s.running) continue;
      Frame f;
      bool ok = false;
      try {
        ok = s.frames->next(&f);
      } catch (const Error& e) {
        std::fprintf(stderr, "warning: source %zu: %s; it stops, the others go on\n", s.number, e.what());
      }
      if (!ok) {
        s.running = false;
        continue;
      }
      taken.push_back(&s);
      frames.push_back(std::move(f));
    }
    if (taken.empty()) break;
    std::vector<cv::Mat> images;
    for (const Frame& f : frames) images.push_back(f.bgr);
    const std::vector<std::vector<Detection>> results = detector.detect_batch(images);
    const FrameTimings& t = detector.last_timings();  // the whole batch's
    ++rounds;
    total_ms += t.total_ms;
    for (std::size_t k = 0; k < taken.size(); ++k) {
      Source& s = *taken[k];
      ++s.count;
      Frame shown = frames[k];
      shown.name = cat("[", s.number, "] ", frames[k].name);
      print_frame(text, shown, results[k], t, threshold, detector, a.quiet);
      if (jsonl) jsonl->write(s.input, frames[k].index, frames[k].name, frames[k].bgr.cols, frames[k].bgr.rows,
                              results[k], classes, t);
      s.outputs->add(frames[k], results[k], classes, threshold);
      if (windows && !windows->show(cat("[", s.number, "] ", s.input), frames[k].bgr, results[k], classes, threshold,
                                    s.fps.tick()))
        g_stop = true;
    }
    std::fflush(text);
  }
  std::signal(SIGINT, SIG_DFL);
  TX2_REQUIRE(rounds > 0, "no frames could be read from any source");
  std::fprintf(text, "rounds: %d, mean %.1f ms per batch, backend %s, input %dx%d (h x w)\n", rounds,
               total_ms / rounds, backend_name(detector.backend()), detector.input_h(), detector.input_w());
  int all_frames = 0;
  for (const Source& s : sources) all_frames += s.count;
  print_wall(text, wall_start, all_frames);
  for (Source& s : sources) {
    std::fprintf(text, "source %zu (%s): %d frame(s)", s.number, s.input.c_str(), s.count);
    if (s.frames->kind() == SourceKind::kNetwork)
      std::fprintf(text, ", %lld dropped for newer ones, %d reconnect(s)", s.frames->dropped_frames(),
                   s.frames->reconnects());
    std::fprintf(text, "\n");
  }
  for (Source& s : sources)
    if (s.count > 0) s.outputs->commit(s.count, text);
  return 0;
}
}  // namespace

CommandRunner add_detect_command(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* cmd = app.add_subcommand("detect", "Detect objects in an image, a folder, a video or a camera");
  cmd->add_option("input", args->inputs,
                  "Image file, folder of images, video file, camera index (0), GStreamer pipeline, or network "
                  "stream (rtsp://, rtmp://, http(s)://) (default: the bundled demo image). Several sources, or a "
                  ".streams file of one source per line, run together: the next frame of each in one batch");
  cmd->add_option("-m,--model", args->model, "Model file (default: the bundled demo model)");
  cmd->add_option("-o,--out", args->out,
                  "Annotated output: an image file, a folder (for folder input), or a video file "
                  "(.mp4/.avi) for video and camera input");
  cmd->add_option("--json", args->json, "Write all detections as COCO-results JSON to this file");
  cmd->add_option("--jsonl", args->jsonl,
                  "Write one JSON line per frame as it is done (source, frame, time, detections, stage "
                  "times), flushed: a file to follow live, or - for standard output (the text then goes "
                  "to stderr)");
  cmd->add_option("-t,--threshold", args->threshold,
                  "Score threshold for printing and drawing (default: the model's draw_threshold)")
      ->check(unit_interval());
  cmd->add_option("--input-size", args->input_size,
                  "Network input size: H, or H W; multiples of 32 (default: the model's)")
      ->expected(1, 2);
  cmd->add_option("--device", args->device, "CUDA device index")->check(CLI::Range(0, 64));
  cmd->add_option("--max-pixels", args->max_pixels,
                  "Refuse images of more pixels than this, read from the header before decoding")
      ->check(CLI::Range(1LL, 1LL << 30))
      ->capture_default_str();
  cmd->add_flag("--cpu-nms", args->cpu_nms, "CUDA: run NMS on the CPU instead of the GPU");
  cmd->add_option("--nms-capacity", args->nms_capacity,
                  "CUDA: NMS candidate capacity, a power of two >= 2048 (default 32768)")
      ->check(CLI::Range(2048, 1 << 24));
  cmd->add_flag("--debug-sync", args->debug_sync,
                "CUDA: synchronise after every layer and name the one that fails (slower)");
  add_cuda_run_options(cmd, &args->cuda);
  cmd->add_option("-b,--backend", args->backend, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--threads", args->threads,
                  "CPU backend threads (default: all cores; on the onednn path, all cores or 1, whichever measures "
                  "faster)")
      ->check(CLI::Range(0, kMaxCpuThreads));
  cmd->add_option("--conf-threshold", args->conf_threshold, "Override the yolo_box objectness gate")
      ->check(unit_interval());
  cmd->add_option("--score-threshold", args->score_threshold, "Override the NMS score threshold")
      ->check(unit_interval());
  cmd->add_option("--nms-threshold", args->nms_threshold, "Override the NMS IoU threshold")
      ->check(unit_interval());
  cmd->add_option("--keep-top-k", args->keep_top_k, "Override NMS keep_top_k (-1 keeps all)")
      ->check(CLI::Range(-1, 1 << 24));
  cmd->add_option("--max-frames", args->max_frames, "Stop after this many frames (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--reconnect", args->network.reconnect,
                  "Network streams: reopen a lost stream up to N times in a row, waiting 0.5 s to 8 s between "
                  "tries (default 0: the run ends when the stream does)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--queue", args->network.queue,
                  "Network streams: frames held between capture and inference; when full the oldest is dropped")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_flag("--no-drop", args->no_drop,
                "Network streams: never drop a frame; capture waits for inference (a slow run falls behind)");
  cmd->add_flag("--show", args->show,
                "Show the annotated frames in a window per source, with the frames per second (needs a display; "
                "q or Esc stops)");
  cmd->add_flag("-q,--quiet", args->quiet, "Print only the per-frame summary lines");
  return [args]() {
    const std::vector<std::string> inputs = expand_sources(args->inputs);
    if (inputs.size() > 1) return run_detect_multi(*args, inputs);
    DetectArgs one = *args;
    one.input = inputs.empty() ? std::string() : inputs[0];
    return run_detect(one);
  };
}

}  // namespace tx2yolo
