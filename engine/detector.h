// The Detector API: open a model file, detect objects in BGR images.
//
//   tx2yolo::DetectorOptions opt;            // input size, backend, thresholds
//   tx2yolo::Detector det("model.safetensors", opt);
//   for (const tx2yolo::Detection& d : det.detect(cv::imread("a.jpg")))
//     printf("%s %.3f\n", det.class_name(d.class_id).c_str(), d.score);
//
// Detections are Paddle's: yolo_box + multiclass_nms3 output, boxes
// (x1, y1, x2, y2) in original-image pixels, grouped by class. Errors throw
// tx2yolo::Error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "engine/tactics.h"
#include "kernels/conv2d.h"
#include "kernels/multiclass_nms.h"
#include "kernels/preprocess.h"
#include "weights/model_file.h"

namespace tx2yolo {

enum class BackendKind { kAuto, kCpu, kCuda };

constexpr int kMaxCpuThreads = 1024;
constexpr int kMaxBatch = 64;  // images per run

const char* backend_name(BackendKind b);
BackendKind backend_from_string(const std::string& s);  // auto, cpu, cuda; throws Error

// The CPU backend's convs:
//   kReference  the reference kernels (kernels/cpu), the oracle;
//   kGemm       convs with groups == 1 as OpenBLAS GEMMs and wide depthwise
//               convs by rows (kernels/cpu/conv2d_gemm.cpp), NCHW tensors;
//   kOnednn     the whole network as oneDNN primitives in a blocked channel
//               layout (engine/onednn_backend.h), where libdnnl2 loads;
//   kAuto       cpu_convs_default().
enum class CpuConvs { kAuto, kReference, kGemm, kOnednn };
const char* cpu_convs_name(CpuConvs c);              // "auto", "reference", "gemm", "onednn"
CpuConvs cpu_convs_from_string(const std::string& s);  // throws Error on anything else
// What kAuto means on this machine and build: onednn on x86-64 where
// libdnnl2 loads (verified there; docs/performance.md), else gemm where
// conv2d_cpu_gemm_default(), else reference. Loads libdnnl2 to find out.
CpuConvs cpu_convs_default();

struct DetectorOptions {
  int input_h = 0;  // 0: the model's input size; otherwise a positive multiple of 32
  int input_w = 0;
  BackendKind backend = BackendKind::kAuto;
  int threads = 0;  // CPU backend threads; 0: all cores; at most kMaxCpuThreads
  // CPU backend: how the convs run (CpuConvs above). kAuto picks
  // cpu_convs_default().
  CpuConvs cpu_convs = CpuConvs::kAuto;
  int device = 0;   // CUDA device index
  int batch = 1;    // images per network run (detect_batch); 1 to kMaxBatch
  bool debug_sync = false;  // CUDA: synchronise after every layer and name the one that fails
  bool gpu_nms = true;      // CUDA: NMS on the GPU (where it reproduces the CPU exactly)
  bool gpu_preprocess = true;  // CUDA: resize and normalise on the GPU (cv::resize within +-1 level)
  int nms_capacity = 0;     // CUDA: NMS candidate capacity, a power of two >= 2048; 0: default
  bool keep_all_tensors = false;  // CUDA: no memory reuse, so tensor() can read every layer's output
  // CUDA: replay the whole frame (upload, preprocessing, network, decode,
  // NMS, copy back) as one CUDA graph captured per image size; where that
  // is not possible (CPU preprocessing or NMS), the network alone.
  bool cuda_graph = true;
  // CUDA: how conv layers choose their kernel (engine/tactics.h): timed at
  // first use and cached (kCached), the heuristic, or timed again (kRetune).
  TacticMode tactics = TacticMode::kCached;
  std::string tactics_cache;  // the cache file; "" the default path, "none" no file
  // CUDA: FP16 activation storage, plus tensor-core convs on sm_70+ (see
  // engine/tactics.h). The CPU backend refuses kFp16.
  Precision precision = Precision::kFp32;
  // CUDA: read the input image in place from pinned host memory instead of
  // copying it to the device first (off by default; engine/cuda_backend.h).
  bool zero_copy_input = false;
  // CUDA: allow the features not verified on a GPU (engine/verification.h;
  // since 2026-12-04 the gemm128 / wmma-fp16 / gemm64-half2 / dwpw-fused
  // tactics, which ran and passed their tests but await racecheck). Off: the
  // defaults use only verified features. The
  // environment variable TX2YOLO_UNVERIFIED_KERNELS=1 does the same.
  bool unverified = false;
  // For tests and the GPU sanitizer runs (CudaBackendOptions::force_tactic):
  // with tactics kHeuristic, every conv layer that can run this kernel runs
  // it; "dwpw-fused" fuses every pair that can fuse. "": no forcing.
  std::string force_tactic;
  // Overrides of the model file's thresholds; unset keeps the model's.
  std::optional<float> conf_threshold;   // yolo_box objectness gate
  std::optional<float> score_threshold;  // NMS candidate threshold
  std::optional<float> nms_threshold;    // NMS IoU threshold
  std::optional<int> keep_top_k;
};

// A frame's times in ms. On CUDA the stages are the device's event times;
// where the whole frame ran as one CUDA graph on a CUDA older than 11.1
// (which cannot put events into a graph) only total_ms is measured and the
// three stages read 0.
struct FrameTimings {
  double preprocess_ms = 0;
  double network_ms = 0;
  double postprocess_ms = 0;
  double total_ms = 0;
  // NMS candidates the GPU path had no room for (then the result may differ
  // from the CPU's); 0 on the CPU and normally on the GPU.
  long long nms_overflow = 0;
};

class Backend;

class Detector {
 public:
  Detector(const std::string& model_path, const DetectorOptions& options);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Detects objects in an 8-bit, 3-channel BGR image (what cv::imread gives).
  std::vector<Detection> detect(const cv::Mat& bgr);
  // Detects objects in up to batch() images with one network run (images
  // may differ in size); one result per image, in order. Timings cover the
  // whole batch.
  std::vector<std::vector<Detection>> detect_batch(const std::vector<cv::Mat>& images);
  int batch() const { return batch_; }

  // For parity checks against a reference (batch 1 only): runs the network
  // on an input that is already preprocessed ([3, H, W] at this detector's input size)
  // for an original image of orig_h x orig_w, and returns the decoded boxes
  // [M, 4] and scores [C, M] (always decoded, on the CPU unless the backend
  // decodes) beside the detections (NMS as detect() does it).
  struct Trace {
    std::vector<float> boxes;
    std::vector<float> scores;
    std::vector<Detection> detections;
  };
  Trace detect_preprocessed(const float* input, int orig_h, int orig_w);
  // The CPU preprocessing of detect() alone: [3, H, W] at the input size.
  std::vector<float> preprocess_on_cpu(const cv::Mat& bgr) const;

  const ModelFile& model() const { return *model_; }
  // The model's config with the options' overrides applied.
  const ModelConfig& config() const { return config_; }
  int input_h() const { return input_h_; }
  int input_w() const { return input_w_; }
  BackendKind backend() const { return backend_kind_; }
  // e.g. "cpu (2 threads)", with why when `auto` chose it:
  // "cpu (2 threads); auto: no CUDA device present".
  std::string backend_description() const;
  const FrameTimings& last_timings() const { return timings_; }
  // The kernel each conv layer runs (CUDA; empty on the CPU backend).
  std::vector<LayerTactic> layer_tactics() const;
  // One line each, for the user (the CLI prints them as "warning: ..."):
  // e.g. conv kernels that disagreed with the reference kernel on this device.
  std::vector<std::string> warnings() const;
  const std::string& class_name(int class_id) const;

  // A tensor of the last run, by name, [batch, C, H, W]: the graph outputs
  // always; every layer's output on the CPU backend, and on CUDA with
  // keep_all_tensors.
  std::vector<float> tensor(const std::string& name) const;
  // The preprocessed input of the last detect(), [batch, 3, H, W], when it
  // was preprocessed on the CPU (not updated by GPU preprocessing).
  const std::vector<float>& input_tensor() const { return input_; }

 private:
  PreprocessParams preprocess_params(int src_h, int src_w) const;
  std::unique_ptr<ModelFile> model_;
  ModelConfig config_;
  int input_h_ = 0;
  int input_w_ = 0;
  int batch_ = 1;
  BackendKind backend_kind_ = BackendKind::kCpu;
  std::string backend_reason_;
  std::unique_ptr<Backend> backend_;
  std::vector<float> input_;
  FrameTimings timings_;
  struct Post;
  std::unique_ptr<Post> post_;
};

// The backend a request resolves to in this build on this machine. For
// `auto`, *reason (when given) says why; a `cuda` request that cannot be met
// throws Error saying why.
BackendKind resolve_backend(BackendKind requested, std::string* reason);

}  // namespace tx2yolo
