// The "cudnn" conv2d tactic: see kernels/cuda/conv2d_cudnn.h for the formula,
// the layouts and the loading. Algorithms offered: cuDNN's GEMM family only
// (IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM, GEMM), which sum the same products
// in FP32 as the hand-written kernels. Winograd and FFT transform the
// operands and round differently (relative errors near 1e-5 instead of
// 1e-7), so they are not offered: detections must match Paddle's. The FP16
// tactic (cudnn-fp16) keeps the GEMM family too, with tensor-op math allowed:
// FP16 operands multiply exactly into FP32 accumulators, as in wmma-fp16.
#include "kernels/cuda/conv2d_cudnn.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"

#ifdef TX2YOLO_HAVE_CUDNN_H
#include <cudnn.h>
#include <dlfcn.h>
#endif

namespace tx2yolo {

#ifdef TX2YOLO_HAVE_CUDNN_H
namespace {

constexpr std::size_t kMaxWorkspaceBytes = std::size_t{256} << 20;

// The few cuDNN entry points the tactic uses, resolved from the library.
struct CudnnApi {
  std::string why;  // non-empty: unusable, and why
  std::string soname;
  decltype(&cudnnGetErrorString) GetErrorString = nullptr;
  decltype(&cudnnCreate) Create = nullptr;
  decltype(&cudnnSetStream) SetStream = nullptr;
  decltype(&cudnnCreateTensorDescriptor) CreateTensorDescriptor = nullptr;
  decltype(&cudnnSetTensor4dDescriptor) SetTensor4dDescriptor = nullptr;
  decltype(&cudnnCreateFilterDescriptor) CreateFilterDescriptor = nullptr;
  decltype(&cudnnSetFilter4dDescriptor) SetFilter4dDescriptor = nullptr;
  decltype(&cudnnCreateConvolutionDescriptor) CreateConvolutionDescriptor = nullptr;
  decltype(&cudnnSetConvolution2dDescriptor) SetConvolution2dDescriptor = nullptr;
  decltype(&cudnnSetConvolutionGroupCount) SetConvolutionGroupCount = nullptr;
  decltype(&cudnnSetConvolutionMathType) SetConvolutionMathType = nullptr;
  decltype(&cudnnGetConvolutionForwardAlgorithmMaxCount) GetConvolutionForwardAlgorithmMaxCount = nullptr;
  decltype(&cudnnGetConvolutionForwardAlgorithm_v7) GetConvolutionForwardAlgorithm_v7 = nullptr;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) GetConvolutionForwardWorkspaceSize = nullptr;
  decltype(&cudnnConvolutionForward) ConvolutionForward = nullptr;
};

const CudnnApi& api() {
  static const CudnnApi loaded = [] {
    CudnnApi a;
    const char* off = std::getenv("TX2YOLO_NO_CUDNN");
    if (off != nullptr && std::string(off) == "1") {
      a.why = "TX2YOLO_NO_CUDNN=1";
      return a;
    }
    // The major version of the header this was compiled with: the API and
    // its structs are those of that version.
    a.soname = cat("libcudnn.so.", CUDNN_MAJOR);
    void* lib = dlopen(a.soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = dlerror();
      a.why = cat(a.soname, " not loaded (", e ? e : "no reason given", ")");
      return a;
    }
    // Kept loaded for the life of the process (handles outlive every user).
    auto resolve = [&](auto& fn, const char* name) {
      if (!a.why.empty()) return;
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (fn == nullptr) a.why = cat(a.soname, " has no ", name);
    };
    resolve(a.GetErrorString, "cudnnGetErrorString");
    resolve(a.Create, "cudnnCreate");
    resolve(a.SetStream, "cudnnSetStream");
    resolve(a.CreateTensorDescriptor, "cudnnCreateTensorDescriptor");
    resolve(a.SetTensor4dDescriptor, "cudnnSetTensor4dDescriptor");
    resolve(a.CreateFilterDescriptor, "cudnnCreateFilterDescriptor");
    resolve(a.SetFilter4dDescriptor, "cudnnSetFilter4dDescriptor");
    resolve(a.CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor");
    resolve(a.SetConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor");
    resolve(a.SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount");
    resolve(a.SetConvolutionMathType, "cudnnSetConvolutionMathType");
    resolve(a.GetConvolutionForwardAlgorithmMaxCount, "cudnnGetConvolutionForwardAlgorithmMaxCount");
    resolve(a.GetConvolutionForwardAlgorithm_v7, "cudnnGetConvolutionForwardAlgorithm_v7");
    resolve(a.GetConvolutionForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize");
    resolve(a.ConvolutionForward, "cudnnConvolutionForward");
    return a;
  }();
  return loaded;
}

void check(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS) throw Error(cat("cuDNN ", what, ": ", api().GetErrorString(status)));
}

int current_device() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// One handle per device, shared by every thread: `mutex` is held from
// cudnnSetStream to the end of the call that uses it. Made on first use
// (outside any stream capture: conv2d_cudnn_workspace_floats makes it) and
// never destroyed: tearing it down at exit would race the CUDA runtime's own
// teardown.
struct Handle {
  cudnnHandle_t h = nullptr;
  std::mutex mutex;
};

Handle& handle() {
  static std::mutex mutex;
  static std::map<int, Handle> handles;
  const int device = current_device();
  std::lock_guard<std::mutex> lock(mutex);
  Handle& entry = handles[device];  // std::map: references stay valid
  if (entry.h == nullptr) check(api().Create(&entry.h), "cudnnCreate");
  return entry;
}

// One shape's descriptors and algorithm on one device.
struct Plan {
  bool ok = false;
  std::string why;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  std::size_t workspace_bytes = 0;
};

// (device, precision (0 FP32, 1 FP16), batch, C_in, H, W, C_out, Kh, Kw, strides, pads, groups)
using PlanKey = std::tuple<int, int, int, int, int, int, int, int, int, int, int, int, int, int>;

bool gemm_family(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
}

Plan make_plan(const Conv2dParams& p, bool fp16) {
  const CudnnApi& a = api();
  const cudnnDataType_t data = fp16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  Plan plan;
  check(a.CreateTensorDescriptor(&plan.x), "cudnnCreateTensorDescriptor");
  check(a.CreateTensorDescriptor(&plan.y), "cudnnCreateTensorDescriptor");
  check(a.CreateFilterDescriptor(&plan.w), "cudnnCreateFilterDescriptor");
  check(a.CreateConvolutionDescriptor(&plan.conv), "cudnnCreateConvolutionDescriptor");
  check(a.SetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NCHW, data, p.batch, p.in_channels, p.in_h, p.in_w),
        "cudnnSetTensor4dDescriptor(x)");
  check(a.SetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NCHW, data, p.batch, p.out_channels, p.out_h, p.out_w),
        "cudnnSetTensor4dDescriptor(y)");
  check(a.SetFilter4dDescriptor(plan.w, data, CUDNN_TENSOR_NCHW, p.out_channels, p.in_channels / p.groups,
                                p.kernel_h, p.kernel_w),
        "cudnnSetFilter4dDescriptor");
  check(a.SetConvolution2dDescriptor(plan.conv, p.pad_h, p.pad_w, p.stride_h, p.stride_w, 1, 1,
                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),  // FP32 accumulation
        "cudnnSetConvolution2dDescriptor");
  check(a.SetConvolutionGroupCount(plan.conv, p.groups), "cudnnSetConvolutionGroupCount");
  // FP32: FMA math, no TF32. FP16: tensor cores allowed (FP16 operands, as
  // they already are; no down-conversion of FP32 data is involved).
  check(a.SetConvolutionMathType(plan.conv, fp16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
        "cudnnSetConvolutionMathType");
  Handle& h = handle();
  std::lock_guard<std::mutex> lock(h.mutex);
  int ask = 0;
  check(a.GetConvolutionForwardAlgorithmMaxCount(h.h, &ask), "cudnnGetConvolutionForwardAlgorithmMaxCount");
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(std::max(ask, 1)));
  int returned = 0;
  check(a.GetConvolutionForwardAlgorithm_v7(h.h, plan.x, plan.w, plan.conv, plan.y, static_cast<int>(perf.size()),
                                            &returned, perf.data()),
        "cudnnGetConvolutionForwardAlgorithm_v7");
  // cuDNN's ranking, best first; the first usable one of the GEMM family.
  for (int i = 0; i < returned && !plan.ok; ++i) {
    // FP32: the descriptor's FMA math is what runs, so a ranking made for
    // tensor-op math does not apply. FP16: tensor-op or default math, never
    // one that converts operands.
    if (perf[i].status != CUDNN_STATUS_SUCCESS || !gemm_family(perf[i].algo) ||
        perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION || (!fp16 && perf[i].mathType == CUDNN_TENSOR_OP_MATH))
      continue;
    std::size_t bytes = 0;
    if (a.GetConvolutionForwardWorkspaceSize(h.h, plan.x, plan.w, plan.conv, plan.y, perf[i].algo, &bytes) !=
            CUDNN_STATUS_SUCCESS ||
        bytes > kMaxWorkspaceBytes)
      continue;
    plan.ok = true;
    plan.algo = perf[i].algo;
    plan.workspace_bytes = bytes;
  }
  if (!plan.ok)
    plan.why = cat("no GEMM-family ", fp16 ? "FP16" : "FMA", " algorithm within ", kMaxWorkspaceBytes >> 20,
                   " MiB of workspace");
  return plan;
}

// The plan for p on the current device, made once.
const Plan& plan_for(const Conv2dParams& p, bool fp16 = false) {
  static std::mutex mutex;
  static std::map<PlanKey, Plan> plans;  // never erased: the descriptors live as long as the process
  const PlanKey key{current_device(), fp16 ? 1 : 0, p.batch,    p.in_channels, p.in_h,  p.in_w,  p.out_channels,
                    p.kernel_h,       p.kernel_w,   p.stride_h, p.stride_w,    p.pad_h, p.pad_w, p.groups};
  std::lock_guard<std::mutex> lock(mutex);
  const auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  // A cuDNN that fails here (no memory for a handle, a sub-library that
  // does not load) means no cudnn tactic for this shape, never a failure of
  // the detector; the plan remembers why.
  Plan plan;
  try {
    plan = make_plan(p, fp16);
  } catch (const Error& e) {
    plan = Plan{};
    plan.why = e.what();
  }
  return plans.emplace(key, plan).first->second;
}

// A channel slice of a batch > 1 output is not one packed tensor.
bool sliced_batch(const Conv2dParams& p) { return p.batch > 1 && p.out_channels_total != p.out_channels; }

}  // namespace

int conv2d_cudnn_header_major() { return CUDNN_MAJOR; }

bool conv2d_cudnn_available(std::string* why) {
  const CudnnApi& a = api();
  if (why) *why = a.why;
  return a.why.empty();
}

namespace {
// Whether a plan exists for p on the current device; false without a usable
// device (cudaGetDevice fails), which no plan can run on.
bool plannable(const Conv2dParams& p, bool fp16) {
  if (!conv2d_cudnn_available() || sliced_batch(p)) return false;
  try {
    return plan_for(p, fp16).ok;
  } catch (const Error&) {
    return false;
  }
}
}  // namespace

bool conv2d_cudnn_supports(const Conv2dParams& p) { return plannable(p, false); }

std::size_t conv2d_cudnn_workspace_floats(const Conv2dParams& p) {
  if (!conv2d_cudnn_supports(p)) return 0;
  handle();  // made now, outside any stream capture
  return (plan_for(p).workspace_bytes + sizeof(float) - 1) / sizeof(float);
}

void conv2d_cudnn(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out,
                  cudaStream_t stream, float* workspace) {
  std::string why;
  TX2_REQUIRE(conv2d_cudnn_available(&why), "conv2d_cuda: the cudnn tactic is unavailable: ", why);
  TX2_REQUIRE(!sliced_batch(p), "conv2d_cuda: the cudnn tactic cannot write a channel slice at batch ", p.batch);
  const Plan& plan = plan_for(p);
  TX2_REQUIRE(plan.ok, "conv2d_cuda: the cudnn tactic cannot run this shape: ", plan.why);
  TX2_REQUIRE(plan.workspace_bytes == 0 || workspace != nullptr, "conv2d_cuda: the cudnn tactic needs ",
              plan.workspace_bytes, " bytes of workspace");
  const CudnnApi& a = api();
  Handle& h = handle();
  std::lock_guard<std::mutex> lock(h.mutex);
  check(a.SetStream(h.h, stream), "cudnnSetStream");
  // At batch 1 the output slice is one packed [C_out, Ho, Wo] tensor.
  float* y = out + static_cast<std::size_t>(p.out_channel_offset) * p.out_h * p.out_w;
  const float one = 1.f, zero = 0.f;
  check(a.ConvolutionForward(h.h, &one, plan.x, in, plan.w, weight, plan.conv, plan.algo, workspace,
                             plan.workspace_bytes, &zero, plan.y, y),
        "cudnnConvolutionForward");
  if (bias != nullptr || p.activation != Activation::kNone) conv2d_bias_activation_cuda(p, bias, out, stream);
}

namespace {
constexpr std::size_t kFp16WeightsAlign = 256;  // bytes: where the FP16 weights start in the workspace
std::size_t fp16_weights_offset(const Plan& plan) {
  return (plan.workspace_bytes + kFp16WeightsAlign - 1) / kFp16WeightsAlign * kFp16WeightsAlign;
}
std::size_t weight_count(const Conv2dParams& p) {
  return static_cast<std::size_t>(p.out_channels) * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
}
}  // namespace

bool conv2d_cudnn_fp16_supports(const Conv2dParams& p) { return plannable(p, true); }

std::size_t conv2d_cudnn_fp16_workspace_floats(const Conv2dParams& p) {
  if (!conv2d_cudnn_fp16_supports(p)) return 0;
  handle();  // made now, outside any stream capture
  const std::size_t bytes = fp16_weights_offset(plan_for(p, true)) + weight_count(p) * sizeof(half_t);
  return (bytes + sizeof(float) - 1) / sizeof(float);
}

void conv2d_cudnn_fp16(const Conv2dParams& p, const half_t* in, const float* weight, const float* bias, half_t* out,
                       cudaStream_t stream, float* workspace) {
  std::string why;
  TX2_REQUIRE(conv2d_cudnn_available(&why), "conv2d_cuda: the cudnn-fp16 tactic is unavailable: ", why);
  TX2_REQUIRE(!sliced_batch(p), "conv2d_cuda: the cudnn-fp16 tactic cannot write a channel slice at batch ",
              p.batch);
  const Plan& plan = plan_for(p, true);
  TX2_REQUIRE(plan.ok, "conv2d_cuda: the cudnn-fp16 tactic cannot run this shape: ", plan.why);
  TX2_REQUIRE(workspace != nullptr, "conv2d_cuda: the cudnn-fp16 tactic needs a workspace for its FP16 weights");
  char* base = reinterpret_cast<char*>(workspace);
  half_t* w16 = reinterpret_cast<half_t*>(base + fp16_weights_offset(plan));
  conv2d_weights_to_half_cuda(weight, weight_count(p), w16, stream);
  const CudnnApi& a = api();
  Handle& h = handle();
  {
    std::lock_guard<std::mutex> lock(h.mutex);
    check(a.SetStream(h.h, stream), "cudnnSetStream");
    half_t* y = out + static_cast<std::size_t>(p.out_channel_offset) * p.out_h * p.out_w;
    // With FP16 data the scaling factors are still FP32 (cuDNN's rule for
    // every data type but double).
    const float one = 1.f, zero = 0.f;
    check(a.ConvolutionForward(h.h, &one, plan.x, in, plan.w, w16, plan.conv, plan.algo,
                               plan.workspace_bytes > 0 ? workspace : nullptr, plan.workspace_bytes, &zero, plan.y, y),
          "cudnnConvolutionForward");
  }
  if (bias != nullptr || p.activation != Activation::kNone) conv2d_bias_activation_cuda(p, bias, out, stream);
}

#else  // built without cudnn.h

int conv2d_cudnn_header_major() { return 0; }

bool conv2d_cudnn_available(std::string* why) {
  if (why) *why = "built without cudnn.h";
  return false;
}
bool conv2d_cudnn_supports(const Conv2dParams&) { return false; }
std::size_t conv2d_cudnn_workspace_floats(const Conv2dParams&) { return 0; }
void conv2d_cudnn(const Conv2dParams&, const float*, const float*, const float*, float*, cudaStream_t, float*) {
  throw Error("conv2d_cuda: the cudnn tactic is unavailable: built without cudnn.h");
}
bool conv2d_cudnn_fp16_supports(const Conv2dParams&) { return false; }
std::size_t conv2d_cudnn_fp16_workspace_floats(const Conv2dParams&) { return 0; }
void conv2d_cudnn_fp16(const Conv2dParams&, const half_t*, const float*, const float*, half_t*, cudaStream_t,
                       float*) {
  throw Error("conv2d_cuda: the cudnn-fp16 tactic is unavailable: built without cudnn.h");
}

#endif

}  // namespace tx2yolo
