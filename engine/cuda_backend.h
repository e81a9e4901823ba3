// CudaBackend: runs the graph with the hand-written CUDA kernels.
//  * Weights are uploaded once into one device allocation.
//  * Activations live in one arena planned from tensor liveness
//    (engine/memory_plan.h); concat is zero-copy where the plan allows.
//  * Everything runs on one stream with no host synchronisation between
//    layers; the decoded boxes and scores are copied back once per frame.
//  * Batch (options.batch): every kernel runs over the whole batch; decode
//    and NMS run per image. In the frame graph the images' decode + NMS run
//    one after another in the graph with one synchronisation for all;
//    outside it each image has its own copy back and synchronisation.
//  * Every launch is checked. With debug_sync, the stream is synchronised
//    after each layer and a failure names that layer.
//  * Decode and NMS run on the GPU (MulticlassNmsCuda, the CPU's exact
//    semantics) and only the detections come back; where the NMS settings
//    are outside what the GPU path reproduces, the decoded boxes come back
//    and the CPU runs NMS.
//  * Preprocessing (upload of the uint8 image, cubic resize, normalise, NCHW)
//    runs on the GPU too; run() takes an already preprocessed input instead.
//  * CUDA graphs (cuda_graph, default on), two of them:
//    - the whole frame (detect_frame): for each image of the batch, the
//      upload from its pinned staging buffer and the preprocessing; the
//      network; for each image, decode + NMS and the copy of its detections
//      into pinned host memory; and (CUDA 11.1+) the four stage events. It
//      is captured once for each set of image sizes and settings and
//      replayed with one cudaGraphLaunch and one synchronisation per frame;
//      between frames the host only copies the images into the staging
//      buffers and reads the detections. Written 2026-11-28 without a GPU:
//      not yet run on one.
//    - the network alone (run(), run_images(), and detect_frame's fallback):
//      every conv, upsample and non-elided concat, captured at the first
//      run. Run on H100 and H200 (tests/engine/gpu_backend.cpp).
//    The backend's shapes and arena addresses never change, so a capture
//    stays valid while its key does. debug_sync turns both off (it needs a
//    sync after each layer). If a capture or instantiation fails, the
//    backend says why in description() and runs the launches directly.
//  * Tactics (options.tactics): each conv layer runs the fastest of the
//    kernels that apply to it (the hand-written gemm64, gemm32,
//    gemm64-splitk, depthwise and, at FP16, wmma-fp16 and gemm64-half2; and
//    cuDNN's, where libcudnn loads at run time, at FP32 storage),
//    timed with events on this device at construction, on the arena's real
//    buffers, and remembered in the tactics cache (engine/tactics.h) so the
//    next run on the same GPU, CUDA, model, size, batch and precision skips
//    the timing. Timed tactics, the cudnn tactic among them, were verified
//    on an H200 on 2026-12-04 (engine/verification.h). cuBLAS is not a
//    candidate.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/memory_plan.h"
#include "layers/layer.h"
#include "weights/model_file.h"

namespace tx2yolo {

struct CudaBackendOptions {
  int device = 0;
  bool debug_sync = false;
  bool alias_concat = true;
  bool keep_all_tensors = false;  // no memory reuse: every tensor readable after run()
  bool gpu_nms = true;            // NMS on the GPU where it can match the CPU exactly
  bool gpu_preprocess = true;     // resize and normalise on the GPU (cv::resize within +-1 level)
  int nms_capacity = 0;           // candidate capacity of the GPU NMS; 0: kDefaultNmsCapacity
  bool cuda_graph = true;         // replay the network as one captured CUDA graph (off with debug_sync)
  int batch = 1;                  // images per run
  // Conv kernel choice (engine/tactics.h): timed at first use and cached by
  // default. tactics_cache: the cache file ("" the default path, "none" no
  // file); model_sha256 keys the cache entry (without it nothing is cached).
  TacticMode tactics = TacticMode::kCached;
  std::string tactics_cache;
  std::string model_sha256;
  // kFp16: activations stored as FP16 (half the memory traffic), arithmetic
  // FP32, and on sm_70+ the conv layers may use the FP16 tensor-core kernel.
  Precision precision = Precision::kFp32;
  // The input image read in place from its page-locked staging buffer
  // instead of copied to the device first (kernels/preprocess.h). Off by
  // default: whether it is faster on a Jetson is not measured (the iGPU does
  // not cache pinned host memory, and the cubic resize reads each source
  // pixel several times). Where the device cannot map host memory it stays
  // off and description() says so.
  bool zero_copy_input = false;
  // Allow the features not verified on a GPU (engine/verification.h);
  // off, only verified ones are used, and precision fp16 or zero-copy input
  // are refused with the reason.
  bool unverified = false;
  // For tests, with tactics kHeuristic only: every conv layer that can run
  // this kernel (a conv2d_cuda_kernel_name) runs it, the rest the
  // heuristic's; "dwpw-fused" fuses every depthwise + pointwise pair that
  // can fuse. "" (the default): no forcing.
  std::string force_tactic;
};

class CudaBackend : public Backend {
 public:
  CudaBackend(const ModelFile& model, const std::map<std::string, TensorShape>& shapes,
              const CudaBackendOptions& options);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  int batch() const override;
  void run(const float* input) override;
  bool run_images(const std::vector<PreprocessParams>& params, const std::vector<const std::uint8_t*>& bgr) override;
  const float* output(const std::string& name) const override;
  bool decode(const std::vector<YoloBoxParams>& levels, const std::vector<std::string>& heads, int image,
              float* boxes, float* scores) override;
  bool detect(const std::vector<YoloBoxParams>& levels, const std::vector<std::string>& heads,
              const MulticlassNmsParams& nms, int image, std::vector<Detection>* out, long long* overflow) override;
  bool detect_frame(const std::vector<PreprocessParams>& params, const std::vector<const std::uint8_t*>& bgr,
                    const std::vector<std::vector<YoloBoxParams>>& levels, const std::vector<std::string>& heads,
                    const MulticlassNmsParams& nms, std::vector<std::vector<Detection>>* out,
                    std::vector<long long>* overflow) override;
  bool device_timings(double* preprocess_ms, double* network_ms, double* postprocess_ms) const override;
  std::string description() const override;
  std::vector<LayerTactic> tactics() const override;
  std::vector<std::string> warnings() const override;

  const MemoryPlan& memory_plan() const { return plan_; }
  // True once the network runs as a replayed CUDA graph.
  bool uses_cuda_graph() const;
  // True once detect_frame() replays the whole frame as one CUDA graph.
  bool uses_frame_graph() const;
  std::size_t weight_bytes() const { return weight_bytes_; }

  struct Impl;  // opaque: the device state, defined in cuda_backend_impl.h

 private:
  void run_layers();
  void enqueue_layers();
  struct FrameGraph;
  void enqueue_frame(const FrameGraph& f, bool capturing, const std::function<void(int)>& mark);
  void launch_network();
  void choose_tactics();
  bool find_fusable_pairs(const Graph& graph, const std::map<std::string, TensorShape>& shapes);
  std::unique_ptr<Impl> impl_;
  MemoryPlan plan_;
  std::size_t weight_bytes_ = 0;
};

}  // namespace tx2yolo
