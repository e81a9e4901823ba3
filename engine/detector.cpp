#include "engine/detector.h"

#include <chrono>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "engine/cpu_backend.h"
#include "engine/onednn_api.h"
#include "engine/onednn_backend.h"
#ifdef TX2YOLO_WITH_CUDA
#include "engine/cuda_backend.h"
#endif
#include "kernels/device.h"
#include "kernels/preprocess.h"
#include "layers/detection_output.h"

namespace tx2yolo {

const char* backend_name(BackendKind b) {
  switch (b) {
    case BackendKind::kAuto: return "auto";
    case BackendKind::kCpu: return "cpu";
    case BackendKind::kCuda: return "cuda";
  }
  return "unknown";
}

BackendKind backend_from_string(const std::string& s) {
  if (s == "auto") return BackendKind::kAuto;
  if (s == "cpu") return BackendKind::kCpu;
  if (s == "cuda") return BackendKind::kCuda;
  throw Error(cat("unknown backend '", s, "' (expected auto, cpu or cuda)"));
}

const char* cpu_convs_name(CpuConvs c) {
  switch (c) {
    case CpuConvs::kAuto: return "auto";
    case CpuConvs::kReference: return "reference";
    case CpuConvs::kGemm: return "gemm";
    case CpuConvs::kOnednn: return "onednn";
  }
  return "unknown";
}

CpuConvs cpu_convs_from_string(const std::string& s) {
  for (CpuConvs c : {CpuConvs::kAuto, CpuConvs::kReference, CpuConvs::kGemm, CpuConvs::kOnednn})
    if (s == cpu_convs_name(c)) return c;
  throw Error(cat("unknown CPU convs '", s, "' (expected auto, reference, gemm or onednn)"));
}

CpuConvs cpu_convs_default() {
#if defined(__x86_64__)
  if (onednn_available()) return CpuConvs::kOnednn;
#endif
  return conv2d_cpu_gemm_default() ? CpuConvs::kGemm : CpuConvs::kReference;
}

BackendKind resolve_backend(BackendKind requested, std::string* reason) {
  if (reason) reason->clear();
  if (requested == BackendKind::kCpu) return BackendKind::kCpu;
  const bool cuda_usable = cuda_compiled() && cuda_device_count() > 0;
  if (cuda_usable) return BackendKind::kCuda;
  if (requested == BackendKind::kCuda) {
    throw Error(cat("--backend cuda is not available: ", cuda_unavailable_reason(), "; use --backend cpu"));
  }
  if (reason) *reason = "auto: " + cuda_unavailable_reason();
  return BackendKind::kCpu;
}

struct Detector::Post {
  std::map<std::string, TensorShape> shapes;
  std::unique_ptr<DetectionOutput> output;
  std::vector<float> boxes;   // decoded [M, 4]
  std::vector<float> scores;  // decoded [C, M]
};

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace

Detector::Detector(const std::string& model_path, const DetectorOptions& options)
    : model_(std::make_unique<ModelFile>(ModelFile::load(model_path))), post_(std::make_unique<Post>()) {
  config_ = model_->config();
  input_h_ = options.input_h > 0 ? options.input_h : config_.input_h;
  input_w_ = options.input_w > 0 ? options.input_w : config_.input_w;
  validate_input_size(options.input_h < 0 ? options.input_h : input_h_,
                      options.input_w < 0 ? options.input_w : input_w_, "detector options");
  auto in_unit = [](const std::optional<float>& v, const char* what) {
    TX2_REQUIRE(!v || (*v >= 0.f && *v <= 1.f), what, " ", *v, " is outside [0, 1]");
  };
  in_unit(options.conf_threshold, "conf threshold");
  in_unit(options.score_threshold, "score threshold");
  in_unit(options.nms_threshold, "NMS threshold");
  if (options.conf_threshold) config_.decode.conf_thresh = *options.conf_threshold;
  if (options.score_threshold) config_.nms.score_threshold = *options.score_threshold;
  if (options.nms_threshold) config_.nms.nms_threshold = *options.nms_threshold;
  if (options.keep_top_k) {
    TX2_REQUIRE(*options.keep_top_k >= -1, "keep_top_k ", *options.keep_top_k, " is invalid (-1 keeps all)");
    config_.nms.keep_top_k = *options.keep_top_k;
  }
  config_.input_h = input_h_;
  config_.input_w = input_w_;
  TX2_REQUIRE(options.batch >= 1 && options.batch <= kMaxBatch, "batch ", options.batch, " is outside [1, ",
              kMaxBatch, "]");
  batch_ = options.batch;
  const int cap = options.nms_capacity;
  TX2_REQUIRE(cap == 0 || (cap >= 2048 && cap <= (1 << 24) && (cap & (cap - 1)) == 0), "NMS capacity ", cap,
              " must be a power of two from 2048 to 16777216 (0: the default)");

  post_->shapes = infer_shapes(model_->graph(), model_->weight_shapes(), input_h_, input_w_);
  check_config_against_graph(config_, model_->graph(), post_->shapes);
  post_->output = std::make_unique<DetectionOutput>(config_, post_->shapes, input_h_, input_w_);

  backend_kind_ = resolve_backend(options.backend, &backend_reason_);
  TX2_REQUIRE(options.precision == Precision::kFp32 || backend_kind_ == BackendKind::kCuda,
              "precision fp16 needs the CUDA backend (the CPU backend computes in FP32 only)",
              backend_reason_.empty() ? "" : "; ", backend_reason_);
  TX2_REQUIRE(options.force_tactic.empty() || backend_kind_ == BackendKind::kCuda, "forcing the conv kernel '",
              options.force_tactic, "' needs the CUDA backend");
#ifdef TX2YOLO_WITH_CUDA
  if (backend_kind_ == BackendKind::kCuda) {
    CudaBackendOptions cuda_options;
    cuda_options.device = options.device;
    cuda_options.debug_sync = options.debug_sync;
    cuda_options.gpu_nms = options.gpu_nms;
    cuda_options.gpu_preprocess = options.gpu_preprocess;
    cuda_options.nms_capacity = options.nms_capacity;
    cuda_options.keep_all_tensors = options.keep_all_tensors;
    cuda_options.cuda_graph = options.cuda_graph;
    cuda_options.batch = batch_;
    cuda_options.tactics = options.tactics;
    cuda_options.tactics_cache = options.tactics_cache;
    cuda_options.precision = options.precision;
    cuda_options.zero_copy_input = options.zero_copy_input;
    cuda_options.unverified = options.unverified;
    cuda_options.force_tactic = options.force_tactic;
    if (options.tactics != TacticMode::kHeuristic) cuda_options.model_sha256 = model_->sha256();
    backend_ = std::make_unique<CudaBackend>(*model_, post_->shapes, cuda_options);
  }
#endif
  if (!backend_) {
    const CpuConvs convs = options.cpu_convs == CpuConvs::kAuto ? cpu_convs_default() : options.cpu_convs;
    if (convs == CpuConvs::kOnednn)
      backend_ = std::make_unique<OnednnBackend>(*model_, post_->shapes, options.threads, batch_);
    else
      backend_ = std::make_unique<CpuBackend>(*model_, post_->shapes, options.threads, batch_,
                                              convs == CpuConvs::kGemm);
  }
  input_.assign(static_cast<std::size_t>(batch_) * 3 * input_h_ * input_w_, 0.f);
}

Detector::~Detector() = default;

std::string Detector::backend_description() const {
  return backend_reason_.empty() ? backend_->description() : backend_->description() + "; " + backend_reason_;
}

std::vector<LayerTactic> Detector::layer_tactics() const { return backend_->tactics(); }

std::vector<std::string> Detector::warnings() const { return backend_->warnings(); }

const std::string& Detector::class_name(int class_id) const {
  TX2_REQUIRE(class_id >= 0 && class_id < static_cast<int>(config_.classes.size()), "class id ", class_id,
              " is out of range (", config_.classes.size(), " classes)");
  return config_.classes[static_cast<std::size_t>(class_id)];
}

std::vector<float> Detector::tensor(const std::string& name) const {
  const auto it = post_->shapes.find(name);
  TX2_REQUIRE(it != post_->shapes.end(), "no tensor named '", name, "'");
  const float* data = backend_->output(name);
  return std::vector<float>(data, data + static_cast<std::size_t>(batch_) * it->second.numel());
}

PreprocessParams Detector::preprocess_params(int src_h, int src_w) const {
  PreprocessParams pp;
  pp.src_h = src_h;
  pp.src_w = src_w;
  pp.dst_h = input_h_;
  pp.dst_w = input_w_;
  for (int c = 0; c < 3; ++c) {
    pp.mean[c] = config_.preprocess.mean[c];
    pp.std[c] = config_.preprocess.std[c];
  }
  pp.scale = config_.preprocess.scale;
  pp.swap_rb = config_.preprocess.color == "rgb";
  return pp;
}

std::vector<float> Detector::preprocess_on_cpu(const cv::Mat& bgr) const {
  TX2_REQUIRE(!bgr.empty() && bgr.type() == CV_8UC3, "preprocess: expected an 8-bit 3-channel BGR image");
  const cv::Mat continuous = bgr.isContinuous() ? bgr : bgr.clone();
  std::vector<float> out(static_cast<std::size_t>(3) * input_h_ * input_w_);
  preprocess_cpu(preprocess_params(bgr.rows, bgr.cols), continuous.ptr<std::uint8_t>(0), out.data());
  return out;
}

namespace {
// An 8-bit image as continuous 3-channel BGR.
cv::Mat as_bgr(const cv::Mat& image) {
  TX2_REQUIRE(!image.empty(), "detect: the image is empty");
  TX2_REQUIRE(image.depth() == CV_8U, "detect: expected an 8-bit image, got OpenCV depth ", image.depth());
  cv::Mat bgr;
  if (image.channels() == 3) {
    bgr = image.isContinuous() ? image : image.clone();
  } else if (image.channels() == 1) {
    cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
  } else if (image.channels() == 4) {
    cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
  } else {
    throw Error(cat("detect: expected 1, 3 or 4 channels, got ", image.channels()));
  }
  return bgr;
}
}  // namespace

std::vector<Detection> Detector::detect(const cv::Mat& image) { return detect_batch({image}).front(); }

std::vector<std::vector<Detection>> Detector::detect_batch(const std::vector<cv::Mat>& images) {
  TX2_REQUIRE(!images.empty() && static_cast<int>(images.size()) <= batch_, "detect: ", images.size(),
              " images for a detector of batch ", batch_);
  const auto t0 = Clock::now();
  std::vector<cv::Mat> bgr;
  std::vector<PreprocessParams> pp;
  std::vector<const std::uint8_t*> pixels;
  for (const cv::Mat& image : images) {
    bgr.push_back(as_bgr(image));
    pp.push_back(preprocess_params(bgr.back().rows, bgr.back().cols));
    pixels.push_back(bgr.back().ptr<std::uint8_t>(0));
  }
  const DetectionOutput& post = *post_->output;
  std::vector<std::string> head_names;
  for (const HeadConfig& h : config_.heads) head_names.push_back(h.tensor);
  std::vector<std::vector<YoloBoxParams>> levels;
  for (const cv::Mat& b : bgr) levels.push_back(post.level_params(b.rows, b.cols));
  std::vector<std::vector<Detection>> results(images.size());

  // The whole frame on the device in one go (CUDA: one replayed graph, one
  // synchronisation), where the backend can.
  std::vector<long long> overflows;
  if (backend_->detect_frame(pp, pixels, levels, head_names, post.nms_params(), &results, &overflows)) {
    timings_.total_ms = ms_since(t0);
    timings_.nms_overflow = 0;
    for (long long o : overflows) timings_.nms_overflow += o;
    // The device's stage times where it measured them; otherwise only the
    // total is known, and the stages read 0.
    if (!backend_->device_timings(&timings_.preprocess_ms, &timings_.network_ms, &timings_.postprocess_ms))
      timings_.preprocess_ms = timings_.network_ms = timings_.postprocess_ms = 0;
    return results;
  }
  // On a device backend, preprocessing and the network are only queued here;
  // the device's own event times (below) replace these host times.
  const bool preprocessed_on_device = backend_->run_images(pp, pixels);
  if (preprocessed_on_device) {
    timings_.preprocess_ms = 0;
    timings_.network_ms = ms_since(t0);
  } else {
    const std::size_t slot = static_cast<std::size_t>(3) * input_h_ * input_w_;
    for (std::size_t i = 0; i < bgr.size(); ++i) preprocess_cpu(pp[i], pixels[i], input_.data() + i * slot);
    timings_.preprocess_ms = ms_since(t0);
    const auto t1 = Clock::now();
    backend_->run(input_.data());
    timings_.network_ms = ms_since(t1);
  }

  // Decode and NMS on the backend's device when it can (this also waits for
  // the network); else decode there or on the CPU, and NMS on the CPU.
  const auto t2 = Clock::now();
  timings_.nms_overflow = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const int image = static_cast<int>(i);
    long long overflow = 0;
    if (!backend_->detect(levels[i], head_names, post.nms_params(), image, &results[i], &overflow)) {
      post_->boxes.resize(static_cast<std::size_t>(post.num_boxes()) * 4);
      post_->scores.resize(static_cast<std::size_t>(post.num_boxes()) * post.num_classes());
      if (!backend_->decode(levels[i], head_names, image, post_->boxes.data(), post_->scores.data())) {
        std::vector<const float*> heads;
        for (const std::string& h : head_names)
          heads.push_back(backend_->output(h) + i * static_cast<std::size_t>(post_->shapes.at(h).numel()));
        post.decode_cpu(heads, bgr[i].rows, bgr[i].cols, post_->boxes.data(), post_->scores.data());
      }
      results[i] = post.nms(post_->boxes.data(), post_->scores.data());
    }
    timings_.nms_overflow += overflow;
  }
  timings_.postprocess_ms = ms_since(t2);
  timings_.total_ms = ms_since(t0);
  // A device works asynchronously: where it has its own event times, they
  // split the frame, for the stages it did itself.
  double pre = 0, net = 0, post_ms = 0;
  if (backend_->device_timings(&pre, &net, &post_ms)) {
    if (preprocessed_on_device) timings_.preprocess_ms = pre;
    timings_.network_ms = net;
    if (post_ms > 0) timings_.postprocess_ms = post_ms;
  }
  return results;
}

Detector::Trace Detector::detect_preprocessed(const float* input, int orig_h, int orig_w) {
  TX2_REQUIRE(orig_h > 0 && orig_w > 0, "detect_preprocessed: original size ", orig_h, "x", orig_w, " is not positive");
  TX2_REQUIRE(batch_ == 1, "detect_preprocessed: needs a detector of batch 1, not ", batch_);
  backend_->run(input);
  const DetectionOutput& post = *post_->output;
  const std::vector<YoloBoxParams> levels = post.level_params(orig_h, orig_w);
  std::vector<std::string> head_names;
  for (const HeadConfig& h : config_.heads) head_names.push_back(h.tensor);
  Trace t;
  t.boxes.resize(static_cast<std::size_t>(post.num_boxes()) * 4);
  t.scores.resize(static_cast<std::size_t>(post.num_boxes()) * post.num_classes());
  if (!backend_->decode(levels, head_names, 0, t.boxes.data(), t.scores.data())) {
    std::vector<const float*> heads;
    for (const std::string& h : head_names) heads.push_back(backend_->output(h));
    post.decode_cpu(heads, orig_h, orig_w, t.boxes.data(), t.scores.data());
  }
  long long overflow = 0;
  if (!backend_->detect(levels, head_names, post.nms_params(), 0, &t.detections, &overflow) || overflow > 0)
    t.detections = post.nms(t.boxes.data(), t.scores.data());
  return t;
}

}  // namespace tx2yolo
