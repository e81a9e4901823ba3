#include "engine/verification.h"

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/device.h"
#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/conv2d_cudnn.h"
#include "kernels/cuda/cuda_check.h"
#endif

namespace tx2yolo {

namespace {
// The GPU runs so far (docs/testing.md, "GPU runs so far").
constexpr const char* kH100 = "NVIDIA H100 80GB HBM3";
constexpr const char* kH200 = "NVIDIA H200";
}  // namespace

std::string VerifiedFeature::last_verification() const {
  if (!ran_on_gpu()) return "never run on a GPU";
  return checks.empty() ? cat(card, ", ", date, ", ", commit) : cat(card, ", ", date, ", ", commit, " (", checks, ")");
}

const std::vector<VerifiedFeature>& verified_features() {
  // The run of 2026-12-04 (docs/measurements/2026-12-04-h200): the GPU suite
  // with every unverified feature allowed, selftest at FP32, and
  // compute-sanitizer memcheck and initcheck over the suite (the full-width
  // models at FP32 and FP16 with the fused kernel, half2 and the frame graph
  // forced: GpuSanitized.*). racecheck ran past its time limit twice, so the
  // kernels with shared-memory code of their own that no racecheck has seen
  // stay opt-in.
  static const std::string kRun = "2026-12-04", kCommit = "a93d096";
  static const std::string kAll = "GPU tests, selftest fp32, memcheck, initcheck";
  static const std::string kNoRace =
      "racecheck not yet completed on it: cut at its time limit in both runs of 2026-12-04";
  static const std::vector<VerifiedFeature> table = {
      // Conv tactics (conv2d_cuda_kernel_name).
      {"gemm64", "conv tactic", "implicit GEMM, 64x64 tiles, FP32", kH200, kRun, kCommit, kAll, ""},
      {"gemm32", "conv tactic", "implicit GEMM, 32x32 tiles, FP32", kH200, kRun, kCommit, kAll, ""},
      {"gemm64-splitk", "conv tactic", "64x64 GEMM with the reduction split across blocks", kH200, kRun, kCommit,
       kAll, ""},
      {"depthwise", "conv tactic", "depthwise conv with shared-memory input tiles", kH200, kRun, kCommit, kAll, ""},
      {"gemm128", "conv tactic", "128x64 tiles, 8x8 per thread, double-buffered", kH200, kRun, kCommit, kAll, kNoRace},
      {"wmma-fp16", "conv tactic", "tensor cores (sm_70+), FP16 operands, FP32 accumulation", kH200, kRun, kCommit,
       "GPU tests, memcheck, initcheck", kNoRace},
      {"gemm64-half2", "conv tactic", "paired FP16 arithmetic (sm_53+), the TX2's FP16 kernel", kH200, kRun, kCommit,
       "GPU tests, memcheck, initcheck", kNoRace},
      {"cudnn", "conv tactic", "cudnnConvolutionForward (GEMM family, FMA math) + our epilogue", kH200, kRun, kCommit,
       kAll, ""},
      {"cudnn-fp16", "conv tactic",
       "cudnnConvolutionForward on FP16 data (tensor-op math, FP32 accumulation) + our epilogue", "", "", "", "",
       ""},  // written after the 2026-12-04 speed run, where FP16 lost the layers cuDNN wins at FP32
      {"dwpw-fused", "conv tactic", "depthwise + pointwise in one kernel", kH200, kRun, kCommit, kAll, kNoRace},
      // Graphs, input, precision, post-processing.
      {"timed-tactics", "tactics", "each conv layer's kernel timed at first use and cached", kH200, kRun, kCommit,
       kAll, ""},
      {"network-graph", "graph", "the network replayed as one CUDA graph", kH200, kRun, kCommit, kAll, ""},
      {"frame-graph", "graph", "upload, preprocess, network, decode + NMS of a frame as one CUDA graph", kH200, kRun,
       kCommit, kAll, ""},
      {"gpu-preprocess", "input", "resize and normalise on the GPU", kH200, kRun, kCommit, kAll, ""},
      {"zero-copy", "input", "the image read in place from pinned host memory", kH200, kRun, kCommit,
       "GPU tests, memcheck, initcheck", ""},
      {"gpu-nms", "post-processing", "decode and NMS on the GPU, the CPU's exact semantics", kH200, kRun, kCommit,
       kAll, ""},
      {"batch", "input", "several images per network run", kH200, kRun, kCommit, kAll, ""},
      {"chunked-launch", "input",
       "a batch split into several launches where one would pass grid z (batch 64 of 1024 channels)", kH200, kRun,
       kCommit, "GPU tests, memcheck, initcheck", ""},
      {"fp16", "precision", "FP16 activation storage", kH200, kRun, kCommit,
       "GPU tests, memcheck, initcheck; selftest fp16 cut at its time limit", ""},
  };
  return table;
}

const VerifiedFeature& verified_feature(const std::string& name) {
  for (const VerifiedFeature& f : verified_features())
    if (f.name == name) return f;
  throw Error(cat("no feature named '", name, "' in the verified-features table"));
}

bool unverified_allowed_by_environment() {
  static const bool allowed = [] {
    const char* v = std::getenv("TX2YOLO_UNVERIFIED_KERNELS");
    return v != nullptr && std::string(v) == "1";
  }();
  return allowed;
}

bool feature_allowed(const std::string& name, bool allow_unverified) {
  return allow_unverified || unverified_allowed_by_environment() || verified_feature(name).verified();
}

std::string feature_availability(const std::string& name, int device) {
  (void)verified_feature(name);  // a known name
  const CudaDeviceInfo info = cuda_device_info(device);  // throws without the device
#ifdef TX2YOLO_WITH_CUDA
  CUDA_CHECK(cudaSetDevice(device));
  Conv2dCudaKernel kernel = Conv2dCudaKernel::kAuto;
  if (conv2d_cuda_kernel_from_name(name, &kernel)) {
    // A 3x3 conv of 64 channels on a 32x32 map (depthwise for the depthwise kernel).
    Conv2dParams p;
    p.in_channels = p.out_channels = 64;
    p.in_h = p.in_w = 32;
    p.kernel_h = p.kernel_w = 3;
    p.pad_h = p.pad_w = 1;
    if (kernel == Conv2dCudaKernel::kDepthwise) p.groups = 64;
    finalize_conv2d_params(p);
    std::string why;
    switch (kernel) {
      case Conv2dCudaKernel::kWmmaFp16:
        return conv2d_cuda_supports(p, kernel) ? "yes" : "no: needs tensor cores (sm_70 or later)";
      case Conv2dCudaKernel::kGemmHalf2:
        return conv2d_cuda_supports(p, kernel) ? "yes" : "no: needs sm_53 or later code";
      case Conv2dCudaKernel::kCudnn:
        return conv2d_cudnn_available(&why) ? "yes" : "no: " + why;
      case Conv2dCudaKernel::kCudnnFp16:
        return conv2d_cudnn_available(&why) ? "yes, at FP16" : "no: " + why;
      case Conv2dCudaKernel::kGemmSplitK:
        return cat("yes, for layers with fewer than 2 output tiles per SM (", info.multiprocessors, " SMs)");
      default:
        return "yes";
    }
  }
  if (name == "zero-copy") {
    int can_map = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&can_map, cudaDevAttrCanMapHostMemory, device));
    return can_map ? (info.integrated ? "yes (integrated GPU)" : "yes (a discrete GPU: mapped over PCIe)")
                   : "no: the device cannot map host memory";
  }
#if CUDART_VERSION < 11010
  if (name == "frame-graph")
    return "only with --unverified: built with CUDA < 11.1, whose frame graph (no stage events inside it) has "
           "never run on a GPU";
#endif
  return "yes";
#else
  (void)info;
  return "no: this build has no CUDA backend";
#endif
}

std::string verified_features_for_device(int device) {
  const CudaDeviceInfo info = cuda_device_info(device);
  std::string s = cat("device ", device, ": ", describe_cuda_device(info), "\n");
  s += cat("unverified features: ",
           unverified_allowed_by_environment() ? "allowed (TX2YOLO_UNVERIFIED_KERNELS=1)" : "off (--unverified allows them)",
           "\n\n");
  char line[512];
  std::snprintf(line, sizeof(line), "%-15s %-15s %-46s %-8s %s\n", "feature", "kind", "last verified on a GPU",
                "default", "on this device");
  s += line;
  for (const VerifiedFeature& f : verified_features()) {
    std::snprintf(line, sizeof(line), "%-15s %-15s %-46s %-8s %s\n", f.name.c_str(), f.kind.c_str(),
                  f.last_verification().c_str(), f.verified() ? "on" : "off",
                  feature_availability(f.name, device).c_str());
    s += line;
  }
  return s;
}

std::string verified_features_markdown() {
  std::string s =
      "| feature | kind | what | last run on a GPU (card, date, commit; what passed) | without `--unverified` |\n"
      "|---|---|---|---|---|\n";
  for (const VerifiedFeature& f : verified_features()) {
    s += cat("| `", f.name, "` | ", f.kind, " | ", f.what, " | ",
             f.ran_on_gpu() ? f.last_verification() : std::string("**never run on a GPU**"), " | ",
             f.verified() ? std::string("allowed")
                          : f.held_back.empty() ? std::string("off: `--unverified`")
                                                : cat("off: `--unverified` (", f.held_back, ")"),
             " |\n");
  }
  return s;
}

}  // namespace tx2yolo
