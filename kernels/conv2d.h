// conv2d: 2-D cross-correlation with groups, optional bias and a fused
// activation. One params struct serves the CPU reference (kernels/cpu) and the
// CUDA kernels (kernels/cuda, a later issue).
//
//   out[n, co, oy, ox] = act( bias[co] + sum_{ci in group(co), ky, kx}
//        w[co, ci - g0, ky, kx] * in[n, ci, oy*sh - ph + ky, ox*sw - pw + kx] )
//   with zero padding outside the input, g0 = group(co) * (C_in / groups).
//
// Layouts (row-major, fp32):
//   in     [N, C_in, H_in, W_in]
//   weight [C_out, C_in / groups, K_h, K_w]   (Paddle's layout)
//   bias   [C_out] or null
//   out    [N, out_channels_total, H_out, W_out]; this op writes channels
//          [out_channel_offset, out_channel_offset + C_out). That lets a
//          producer write straight into its slice of a concat buffer.
//   H_out = floor((H_in + 2*ph - K_h) / sh) + 1, likewise W_out.
//
// groups == 1: standard conv. groups == C_in == C_out: depthwise.
// K = 1, stride 1, pad 0, groups 1: pointwise.
#pragma once

#include "core/activation.h"
#include "core/half.h"

#include <string>

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tx2yolo {

struct Conv2dParams {
  int batch = 1;
  int in_channels = 0;
  int in_h = 0;
  int in_w = 0;
  int out_channels = 0;
  int kernel_h = 1;
  int kernel_w = 1;
  int stride_h = 1;
  int stride_w = 1;
  int pad_h = 0;
  int pad_w = 0;
  int groups = 1;
  Activation activation = Activation::kNone;
  float alpha = 0.f;  // leaky_relu slope
  int out_h = 0;      // filled by finalize_conv2d_params
  int out_w = 0;
  int out_channel_offset = 0;
  int out_channels_total = 0;  // 0 means out_channels
};

// Output extent of a convolution: floor((in + 2*pad - kernel) / stride) + 1.
int conv_output_extent(int in, int kernel, int stride, int pad);

// Checks the params (positive sizes, groups dividing both channel counts,
// output slice inside out_channels_total, non-empty output) and fills out_h,
// out_w and out_channels_total. Throws Error with the offending values.
void finalize_conv2d_params(Conv2dParams& p);

// Multiply-accumulate count of one forward pass.
long long conv2d_macs(const Conv2dParams& p);

// The split-K plan of the CUDA kGemmSplitK tactic (plain arithmetic, so that
// it is tested without a GPU). The reduction k = C_in/groups * K_h * K_w is
// split into S ranges of whole 16-wide k-steps; S = ceil(4 * SMs / tiles),
// at most 16 and at most one range per 4 k-steps, and 1 (no split) when the
// layer already has 2 or more 64x64 output tiles per SM. No range is empty.
constexpr int kConv2dGemmStepK = 16;
int conv2d_splitk_splits(const Conv2dParams& p, int multiprocessors);
// Each range's length in k (a multiple of kConv2dGemmStepK).
int conv2d_splitk_chunk(const Conv2dParams& p, int splits);

// CPU reference. Multithreaded over output channels on the calling thread's
// share of the pool (core/thread_pool.h). `p` must have been finalized.
void conv2d_cpu(const Conv2dParams& p, const float* in, const float* weight, const float* bias,
                float* out);

// The fast CPU path (kernels/cpu/conv2d_gemm.cpp): the same conv as OpenBLAS
// GEMMs on the thread pool, for groups == 1 (depthwise layers keep the
// reference). Agrees with conv2d_cpu within tolerance::kConvFp32. Available
// where the build found OpenBLAS (libopenblas-dev); otherwise it throws.
bool conv2d_cpu_gemm_available();
// Whether the CPU backend uses it by default: where it is available and the
// build is for x86-64, the CPUs it has been verified on. On aarch64 it has
// passed its tests only under emulation (qemu), so there it stays opt-in
// until it has run on a board.
bool conv2d_cpu_gemm_default();
void conv2d_cpu_gemm(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out);
// How conv2d_cpu_gemm splits a layer into tasks (kernels/cpu/conv2d_gemm.cpp):
// bands of output rows, or slices of output channels over the whole map.
// kAuto picks the one that makes OpenBLAS pack fewer floats, from the layer's
// shape and the thread count (not the batch).
enum class Conv2dGemmSplit { kAuto, kRows, kChannels };
Conv2dGemmSplit conv2d_cpu_gemm_auto_split(const Conv2dParams& p, int threads);
// conv2d_cpu_gemm with the split forced (for tests and the choice bench).
void conv2d_cpu_gemm_split(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out,
                           Conv2dGemmSplit split);
// The fast CPU path's depthwise kernel (kernels/cpu/conv2d_depthwise_rows.cpp):
// groups == C_in == C_out, kernel width up to 16, any stride and padding;
// each output row finished in L1 before the next, in branch-free loops the
// compiler vectorises on any target. Agrees with conv2d_cpu within
// tolerance::kConvFp32 (the same summation order; only contraction into
// fused multiply-adds may differ). Needs no library.
bool conv2d_cpu_depthwise_rows_supports(const Conv2dParams& p);
// Where the fast path uses it rather than the reference: output rows of at
// least 32 columns. Measured on x86 (AMD EPYC, AVX-512, 2026-12-04, the
// separable model's depthwise layers at 320 and 608, 1 and 2 threads, with
// the AVX-512 clone of the row loops): 1.1x to 2.5x faster than the
// reference at 38 to 304 columns; at 19 and 20 columns between 0.84x and
// 1.12x, at 10 columns 0.6x, so narrower maps keep the reference
// (docs/performance.md, "The fast CPU convs";
// docs/measurements/2026-12-04-cpu/split/).
constexpr int kConv2dCpuDepthwiseRowsMinWidth = 32;
bool conv2d_cpu_depthwise_rows_preferred(const Conv2dParams& p);
void conv2d_cpu_depthwise_rows(const Conv2dParams& p, const float* in, const float* weight, const float* bias,
                               float* out);

// The CUDA kernels (kernels/cuda/conv2d.cu), the tactics a layer chooses
// from: kGemm (implicit GEMM, 64x64 tiles), kGemmSmall (32x32 tiles, more
// blocks for small maps), kGemmSplitK (64x64 tiles with the reduction
// dimension split across blocks, then a reduce + epilogue kernel; for layers
// with few output tiles and a long reduction, on GPUs with many SMs; needs a
// workspace), kDepthwise (groups == C_in == C_out, kernel <= 7), and
// kWmmaFp16: the implicit GEMM on tensor cores (sm_70 and later) with the
// operands rounded to FP16 and FP32 accumulation (kernels/cuda/conv2d_wmma.cu),
// a candidate only when FP16 precision is asked for. All others compute in
// FP32. kAuto, the heuristic without timing, picks depthwise where it
// applies and kGemm otherwise.
//
// kGemmLarge ("gemm128": 128x64 tiles, 8x8 per thread, double-buffered).
//
// Which of these have run on a GPU, and so which the engine's defaults may
// use, is engine/verification.h's table; this layer offers every kernel the
// device can run.
//
// kGemmHalf2 ("gemm64-half2", sm_53+, FP16 activation storage only): the
// 64x64 GEMM with FP16 operand tiles and paired FP16 arithmetic (half2), at
// most 16 products summed in FP16 before each promotion to FP32
// accumulators: the TX2's FP16 kernel.
//
// kCudnn ("cudnn", FP32 activation storage only): cudnnConvolutionForward
// with FMA math (cuDNN's GEMM-family algorithms only) and then a bias +
// activation kernel; offered where cuDNN can be loaded at run time (see
// kernels/cuda/conv2d_cudnn.h).
//
// kCudnnFp16 ("cudnn-fp16", FP16 activation storage only): the same with
// FP16 data (the FP32 weights rounded to FP16 into the workspace at each
// call), FP32 accumulation and tensor-op math where the device has tensor
// cores; the conv's result is rounded to FP16, then the bias and activation
// are applied in FP32 and rounded again. Written after the 2026-12-04 speed
// run (docs/performance.md) without a GPU: never run on one.
enum class Conv2dCudaKernel {
  kAuto, kGemm, kGemmSmall, kGemmSplitK, kDepthwise, kWmmaFp16, kGemmLarge, kGemmHalf2, kCudnn, kCudnnFp16
};
// Every tactic, in the order they are timed.
constexpr Conv2dCudaKernel kConv2dCudaTactics[] = {
    Conv2dCudaKernel::kGemm,      Conv2dCudaKernel::kGemmSmall, Conv2dCudaKernel::kGemmLarge,
    Conv2dCudaKernel::kGemmSplitK, Conv2dCudaKernel::kDepthwise, Conv2dCudaKernel::kWmmaFp16,
    Conv2dCudaKernel::kGemmHalf2, Conv2dCudaKernel::kCudnn,      Conv2dCudaKernel::kCudnnFp16};
// Whether `kernel` rounds its operands to FP16 (a candidate at FP16 precision only).
constexpr bool conv2d_cuda_kernel_is_fp16(Conv2dCudaKernel kernel) {
  return kernel == Conv2dCudaKernel::kWmmaFp16 || kernel == Conv2dCudaKernel::kGemmHalf2 ||
         kernel == Conv2dCudaKernel::kCudnnFp16;
}
// Whether `kernel` runs only on FP16 activation storage (the half_t overload).
constexpr bool conv2d_cuda_kernel_needs_fp16_storage(Conv2dCudaKernel kernel) {
  return kernel == Conv2dCudaKernel::kGemmHalf2 || kernel == Conv2dCudaKernel::kCudnnFp16;
}
// Whether `kernel` is one of cuDNN's (which may refuse at run time a shape
// it planned, and launches kernels of its own).
constexpr bool conv2d_cuda_kernel_is_cudnn(Conv2dCudaKernel kernel) {
  return kernel == Conv2dCudaKernel::kCudnn || kernel == Conv2dCudaKernel::kCudnnFp16;
}
// Whether `kernel` runs only on FP32 activation storage (the float overload).
constexpr bool conv2d_cuda_kernel_needs_fp32_storage(Conv2dCudaKernel kernel) {
  return kernel == Conv2dCudaKernel::kCudnn;
}

// "gemm64", "gemm32", "gemm128", "gemm64-splitk", "depthwise", "wmma-fp16",
// "gemm64-half2", "cudnn", "cudnn-fp16" ("auto" for kAuto), and
// back (false for an unknown name).
const char* conv2d_cuda_kernel_name(Conv2dCudaKernel kernel);
bool conv2d_cuda_kernel_from_name(const std::string& name, Conv2dCudaKernel* kernel);

#ifdef TX2YOLO_WITH_CUDA
// Whether `kernel` can run `p` on the current device (split-K only where the
// current device has enough SMs to gain from splitting).
bool conv2d_cuda_supports(const Conv2dParams& p, Conv2dCudaKernel kernel);
// The heuristic: depthwise where it applies; otherwise, when fp16 is allowed
// (which implies FP16 activation storage), the tensor-core kernel where the
// device has tensor cores, else the half2 kernel (sm_53+); else kGemm.
Conv2dCudaKernel conv2d_cuda_choose(const Conv2dParams& p, bool allow_fp16 = false);
// The device workspace `kernel` needs for `p` on the current device, in
// floats (0 for all but kGemmSplitK and the cuDNN tactics).
std::size_t conv2d_cuda_workspace_floats(const Conv2dParams& p, Conv2dCudaKernel kernel);

// Device pointers; `p` must have been finalized. `workspace` holds at least
// conv2d_cuda_workspace_floats(p, kernel) floats (may be null when that is 0).
// Checks the launch.
void conv2d_cuda(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out,
                 cudaStream_t stream, Conv2dCudaKernel kernel = Conv2dCudaKernel::kAuto,
                 float* workspace = nullptr);
// The same with FP16 activation storage (core/half.h): `in` and `out` are
// FP16, the weights, bias, workspace and all arithmetic FP32; each output is
// rounded to FP16 once, when it is stored.
void conv2d_cuda(const Conv2dParams& p, const half_t* in, const float* weight, const float* bias, half_t* out,
                 cudaStream_t stream, Conv2dCudaKernel kernel = Conv2dCudaKernel::kAuto,
                 float* workspace = nullptr);
#endif

}  // namespace tx2yolo
