// `tx2yolo detect`: run the detector on an image, a folder, a video or a
// camera; print detections and timings; write annotated output and
// COCO-results JSON. Every output file is written under a temporary name and
// renamed into place only when complete.
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <cstdio>
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

namespace tx2yolo {

namespace {

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop = true; }

struct DetectArgs {
  std::string input;
  std::string model;
  std::string out;
  std::string json;
  std::string backend = "auto";
  std::vector<int> input_size;
  float threshold = -1.f;
  float conf_threshold = -1.f;
  float score_threshold = -1.f;
  float nms_threshold = -1.f;
  int keep_top_k = -2;
  int threads = 0;
  int max_frames = 0;
  bool quiet = false;
};

// Where the annotated output goes, decided (and checked) before any work.
enum class OutMode { kNone, kImageFile, kFolder, kVideoFile };

OutMode plan_output(const DetectArgs& a, const std::string& input, const FrameSource& src) {
  if (a.out.empty()) return OutMode::kNone;
  const std::string parent = path_dirname(a.out);
  TX2_REQUIRE(is_directory(parent), "--out ", a.out, ": folder ", parent, " does not exist");
  TX2_REQUIRE(!same_file(a.out, input), "--out ", a.out, " is the input itself; refusing to overwrite it");
  if (src.is_stream()) {
    TX2_REQUIRE(has_video_extension(a.out), "--out ", a.out,
                ": video and camera input need a video file name (.mp4, .avi, .mkv)");
    return OutMode::kVideoFile;
  }
  if (is_directory(a.out)) {
    TX2_REQUIRE(src.kind() == SourceKind::kImageFolder || !same_file(path_join(a.out, path_basename(input)), input),
                "--out ", a.out, " would overwrite the input image ", input);
    return OutMode::kFolder;
  }
  if (src.kind() == SourceKind::kImageFolder) {
    TX2_REQUIRE(!file_exists(a.out), "--out ", a.out, ": a folder of images needs an output folder");
    TX2_REQUIRE(::mkdir(a.out.c_str(), 0755) == 0, "--out ", a.out, ": cannot create the folder");
    return OutMode::kFolder;
  }
  TX2_REQUIRE(has_image_extension(a.out), "--out ", a.out,
              ": expected an image file name (.jpg, .png, .bmp, ...) or an existing folder");
  return OutMode::kImageFile;
}

void write_image_atomic(const std::string& path, const cv::Mat& image) {
  AtomicFile file(path);
  bool ok = false;
  try {
    ok = cv::imwrite(file.temp_path(), image);
  } catch (const cv::Exception& e) {
    throw Error(cat(path, ": cannot write image (", e.err, ")"));
  }
  TX2_REQUIRE(ok, path, ": cannot write image");
  file.commit();
}

int fourcc_for(const std::string& path) {
  const std::string ext = path_extension(path);
  if (ext == ".avi") return cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  return cv::VideoWriter::fourcc('m', 'p', '4', 'v');
}

int run_detect(const DetectArgs& a) {
  DetectorOptions opt;
  opt.backend = backend_from_string(a.backend);
  opt.threads = a.threads;
  if (!a.input_size.empty()) {
    opt.input_h = a.input_size[0];
    opt.input_w = a.input_size.size() > 1 ? a.input_size[1] : a.input_size[0];
    TX2_REQUIRE(opt.input_h > 0 && opt.input_w > 0, "--input-size must be positive");
  }
  if (a.conf_threshold >= 0) opt.conf_threshold = a.conf_threshold;
  if (a.score_threshold >= 0) opt.score_threshold = a.score_threshold;
  if (a.nms_threshold >= 0) opt.nms_threshold = a.nms_threshold;
  if (a.keep_top_k != -2) opt.keep_top_k = a.keep_top_k;

  const std::string model_path = a.model.empty() ? default_model_path() : a.model;
  const std::string input = a.input.empty() ? default_image_path() : a.input;
  FrameSource source(input);
  TX2_REQUIRE(a.json.empty() || is_directory(path_dirname(a.json)), "--json ", a.json, ": folder ",
              path_dirname(a.json), " does not exist");
  Detector detector(model_path, opt);
  const OutMode out_mode = plan_output(a, input, source);
  const float threshold = a.threshold >= 0 ? a.threshold : detector.config().draw_threshold;
  const auto& classes = detector.config().classes;

  std::printf("model: %s (%s head, %zu classes), input %dx%d (h x w), backend %s\n", model_path.c_str(),
              detector.config().head_type.c_str(), classes.size(), detector.input_h(), detector.input_w(),
              detector.backend_description().c_str());

  std::unique_ptr<AtomicFile> video_file;
  cv::VideoWriter video;
  nlohmann::json results = nlohmann::json::array();
  g_stop = false;
  std::signal(SIGINT, on_sigint);

  Frame frame;
  int frames = 0;
  double total_ms = 0;
  while (!g_stop && (a.max_frames <= 0 || frames < a.max_frames) && source.next(&frame)) {
    const std::vector<Detection> dets = detector.detect(frame.bgr);
    const FrameTimings& t = detector.last_timings();
    ++frames;
    total_ms += t.total_ms;
    int shown = 0;
    for (const Detection& d : dets) shown += d.score >= threshold;
    std::printf("%s %dx%d: %d detection%s >= %.2f (%zu total), %.1f ms (preprocess %.1f, network %.1f, "
                "postprocess %.1f)\n",
                frame.name.c_str(), frame.bgr.cols, frame.bgr.rows, shown, shown == 1 ? "" : "s", threshold,
                dets.size(), t.total_ms, t.preprocess_ms, t.network_ms, t.postprocess_ms);
    if (!a.quiet) {
      for (const Detection& d : dets) {
        if (d.score < threshold) continue;
        std::printf("  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", detector.class_name(d.class_id).c_str(), d.score,
                    d.x1, d.y1, d.x2, d.y2);
      }
    }
    for (const Detection& d : dets) results.push_back(detection_to_coco(d, frame.name, frame.index, classes));

    if (out_mode != OutMode::kNone) {
      cv::Mat annotated = frame.bgr.clone();
      draw_detections(annotated, dets, classes, threshold);
      if (out_mode == OutMode::kImageFile) {
        write_image_atomic(a.out, annotated);
      } else if (out_mode == OutMode::kFolder) {
        write_image_atomic(path_join(a.out, frame.name), annotated);
      } else {
        if (!video_file) {
          video_file = std::make_unique<AtomicFile>(a.out);
          const double fps = source.fps() > 0 ? source.fps() : 25.0;
          TX2_REQUIRE(video.open(video_file->temp_path(), fourcc_for(a.out), fps, annotated.size()), a.out,
                      ": cannot open a video writer (codec unavailable?)");
        }
        video.write(annotated);
      }
    }
    std::fflush(stdout);
  }
  std::signal(SIGINT, SIG_DFL);
  TX2_REQUIRE(frames > 0, input, ": no frames could be read");

  if (video_file) {
    video.release();
    video_file->commit();
  }
  if (!a.json.empty()) {
    const std::string text = results.dump(1) + "\n";
    write_file_atomic(a.json, text.data(), text.size());
  }
  std::printf("frames: %d, mean %.1f ms/frame (%.2f FPS), backend %s, input %dx%d (h x w)\n", frames,
              total_ms / frames, total_ms > 0 ? 1000.0 * frames / total_ms : 0.0, backend_name(detector.backend()),
              detector.input_h(), detector.input_w());
  if (out_mode == OutMode::kImageFile || out_mode == OutMode::kVideoFile) std::printf("wrote %s\n", a.out.c_str());
  if (out_mode == OutMode::kFolder) std::printf("wrote %d image(s) to %s\n", frames, a.out.c_str());
  if (!a.json.empty()) std::printf("wrote %s\n", a.json.c_str());
  return 0;
}

}  // namespace

std::string default_model_path() { return path_join(TX2YOLO_DATA_DIR, "models/demo.safetensors"); }
std::string default_image_path() { return path_join(TX2YOLO_DATA_DIR, "assets/demo.jpg"); }

CommandRunner add_detect_command(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* cmd = app.add_subcommand("detect", "Detect objects in an image, a folder, a video or a camera");
  cmd->add_option("input", args->input,
                  "Image file, folder of images, video file, camera index (0) or GStreamer pipeline "
                  "(default: the bundled demo image)");
  cmd->add_option("-m,--model", args->model, "Model file (default: the bundled demo model)");
  cmd->add_option("-o,--out", args->out,
                  "Annotated output: an image file, a folder (for folder input), or a video file "
                  "(.mp4/.avi) for video and camera input");
  cmd->add_option("--json", args->json, "Write all detections as COCO-results JSON to this file");
  cmd->add_option("-t,--threshold", args->threshold,
                  "Score threshold for printing and drawing (default: the model's draw_threshold)")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--input-size", args->input_size,
                  "Network input size: H, or H W; multiples of 32 (default: the model's)")
      ->expected(1, 2);
  cmd->add_option("-b,--backend", args->backend, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--threads", args->threads, "CPU backend threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--conf-threshold", args->conf_threshold, "Override the yolo_box objectness gate")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--score-threshold", args->score_threshold, "Override the NMS score threshold")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--nms-threshold", args->nms_threshold, "Override the NMS IoU threshold")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--keep-top-k", args->keep_top_k, "Override NMS keep_top_k (-1 keeps all)")
      ->check(CLI::Range(-1, 1 << 24));
  cmd->add_option("--max-frames", args->max_frames, "Stop after this many frames (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-q,--quiet", args->quiet, "Print only the per-frame summary lines");
  return [args]() { return run_detect(*args); };
}

}  // namespace tx2yolo
