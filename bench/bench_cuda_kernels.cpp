// CUDA kernel microbenchmarks: every distinct conv layer shape of the
// full-width YOLOv3-MobileNetV1 (standard and separable head) at 320, 416 and
// 608, taken from the graph, each timed three ways side by side:
//   ours    - conv2d_cuda (implicit GEMM or depthwise), fp32
//   cudnn   - cudnnConvolutionForward with the algorithm cuDNN ranks first
//             (depthwise as a grouped conv), fp32 (CUDNN_FMA_MATH: no TF32),
//             plus bias+activation is
//             NOT included (ours fuses it: a slight handicap for ours)
//   cublas  - pointwise layers only, as one SGEMM [Cout x Cin] x [Cin x HW]
// Batch 1. Timing: CUDA events around each iteration (manual time), after a
// warm-up iteration. Counters: GFLOP/s (2 * MACs) and GB/s (input + weights +
// output read or written once). Without a GPU each benchmark is skipped with
// the reason. peak/copy, peak/sgemm and peak/hgemm measure the card's
// bandwidth, FP32 and FP16 tensor-core (FP16 operands, FP32 accumulation)
// ceilings. Run: build/bench/tx2yolo_bench_cuda --benchmark_min_time=0.1
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/device.h"
#include "layers/conv_layer.h"
#include "weights/architecture.h"

namespace {

using tx2yolo::Conv2dParams;
using tx2yolo::DeviceBuffer;

#define CUDNN_OK(call)                                                                   \
  do {                                                                                   \
    const cudnnStatus_t s_ = (call);                                                     \
    if (s_ != CUDNN_STATUS_SUCCESS)                                                      \
      throw tx2yolo::Error(tx2yolo::cat(#call, ": ", cudnnGetErrorString(s_)));         \
  } while (0)

#define CUBLAS_OK(call)                                                                           \
  do {                                                                                            \
    const cublasStatus_t s_ = (call);                                                             \
    if (s_ != CUBLAS_STATUS_SUCCESS) throw tx2yolo::Error(tx2yolo::cat(#call, ": status ", s_)); \
  } while (0)

struct Shape {
  std::string name;
  Conv2dParams p;
};

// Distinct conv shapes of the real model, from the graph (weights/architecture.h).
std::vector<Shape> model_shapes() {
  std::vector<Shape> out;
  for (const tx2yolo::ConvShape& s : tx2yolo::distinct_conv_shapes())
    out.push_back({s.name, tx2yolo::conv2d_params_for(s.node, s.in, s.out_channels, 1)});
  return out;
}

struct Buffers {
  DeviceBuffer<float> in, w, b, out;
  explicit Buffers(const Conv2dParams& p)
      : in(static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w),
        w(static_cast<std::size_t>(p.out_channels) * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w),
        b(static_cast<std::size_t>(p.out_channels)),
        out(static_cast<std::size_t>(p.out_channels) * p.out_h * p.out_w) {
    tx2yolo::cuda_fill_f32(in.data(), in.size(), 0.5f, nullptr);
    tx2yolo::cuda_fill_f32(w.data(), w.size(), 0.01f, nullptr);
    tx2yolo::cuda_fill_f32(b.data(), b.size(), 0.1f, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
  }
};

void set_counters(benchmark::State& state, const Conv2dParams& p) {
  const double flops = 2.0 * static_cast<double>(tx2yolo::conv2d_macs(p));
  const double bytes = 4.0 * (static_cast<double>(p.in_channels) * p.in_h * p.in_w +
                              static_cast<double>(p.out_channels) * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w +
                              static_cast<double>(p.out_channels) * p.out_h * p.out_w);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Times `launch` with CUDA events, one warm-up first.
template <typename Launch>
void timed(benchmark::State& state, Launch launch) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  launch();
  CUDA_CHECK(cudaDeviceSynchronize());
  for (auto _ : state) {
    CUDA_CHECK(cudaEventRecord(start));
    launch();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1000.0);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

bool skip_without_gpu(benchmark::State& state) {
  if (tx2yolo::cuda_device_count() > 0) return false;
  state.SkipWithError(tx2yolo::cuda_unavailable_reason().c_str());
  return true;
}

// One of our kernels (a tactic) on the layer's shape.
void BM_Ours(benchmark::State& state, Conv2dParams p, tx2yolo::Conv2dCudaKernel kernel) {
  if (skip_without_gpu(state)) return;
  Buffers b(p);
  DeviceBuffer<float> ws(std::max<std::size_t>(1, tx2yolo::conv2d_cuda_workspace_floats(p, kernel)));
  if (tx2yolo::conv2d_cuda_kernel_needs_fp16_storage(kernel)) {
    // FP16 activations (the half2 kernel); the FP16 input's value does not matter for timing.
    DeviceBuffer<tx2yolo::half_t> in(b.in.size()), out(b.out.size());
    CUDA_CHECK(cudaMemset(in.data(), 0, in.size() * sizeof(tx2yolo::half_t)));
    timed(state, [&] {
      tx2yolo::conv2d_cuda(p, in.data(), b.w.data(), b.b.data(), out.data(), nullptr, kernel, ws.data());
    });
  } else {
    timed(state, [&] {
      tx2yolo::conv2d_cuda(p, b.in.data(), b.w.data(), b.b.data(), b.out.data(), nullptr, kernel, ws.data());
    });
  }
  set_counters(state, p);
  state.SetLabel(tx2yolo::conv2d_cuda_kernel_name(kernel));
}

void BM_Cudnn(benchmark::State& state, Conv2dParams p) {
  if (skip_without_gpu(state)) return;
  Buffers b(p);
  cudnnHandle_t h;
  CUDNN_OK(cudnnCreate(&h));
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CUDNN_OK(cudnnCreateTensorDescriptor(&xd));
  CUDNN_OK(cudnnCreateTensorDescriptor(&yd));
  CUDNN_OK(cudnnCreateFilterDescriptor(&wd));
  CUDNN_OK(cudnnCreateConvolutionDescriptor(&cd));
  CUDNN_OK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, p.in_channels, p.in_h, p.in_w));
  CUDNN_OK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, p.out_channels, p.out_h, p.out_w));
  CUDNN_OK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, p.out_channels,
                                      p.in_channels / p.groups, p.kernel_h, p.kernel_w));
  CUDNN_OK(cudnnSetConvolution2dDescriptor(cd, p.pad_h, p.pad_w, p.stride_h, p.stride_w, 1, 1,
                                           CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_OK(cudnnSetConvolutionGroupCount(cd, p.groups));
  // Plain FP32 arithmetic, as ours: cuDNN's default math would let it use
  // TF32 tensor cores on sm_80 and later (10 mantissa bits).
  CUDNN_OK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
  int returned = 0;
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  CUDNN_OK(cudnnGetConvolutionForwardAlgorithm_v7(h, xd, wd, cd, yd, 8, &returned, perf));
  const cudnnConvolutionFwdAlgo_t algo = perf[0].algo;
  std::size_t ws_bytes = 0;
  CUDNN_OK(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, algo, &ws_bytes));
  DeviceBuffer<float> ws((ws_bytes + 3) / 4);
  const float one = 1.f, zero = 0.f;
  timed(state, [&] {
    CUDNN_OK(cudnnConvolutionForward(h, &one, xd, b.in.data(), wd, b.w.data(), cd, algo, ws.data(), ws_bytes, &zero,
                                     yd, b.out.data()));
  });
  set_counters(state, p);
  state.SetLabel(tx2yolo::cat("algo ", static_cast<int>(algo)));
  cudnnDestroyConvolutionDescriptor(cd);
  cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyTensorDescriptor(yd);
  cudnnDestroyTensorDescriptor(xd);
  cudnnDestroy(h);
}

// Pointwise conv as SGEMM: out[Cout, HW] = W[Cout, Cin] * in[Cin, HW]
// (row-major), i.e. column-major out^T = in^T * W^T.
void BM_Cublas(benchmark::State& state, Conv2dParams p) {
  if (skip_without_gpu(state)) return;
  Buffers b(p);
  cublasHandle_t h;
  CUBLAS_OK(cublasCreate(&h));
  const int m = p.out_h * p.out_w, n = p.out_channels, k = p.in_channels;
  const float one = 1.f, zero = 0.f;
  timed(state, [&] {
    CUBLAS_OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, b.in.data(), m, b.w.data(), k, &zero,
                          b.out.data(), m));
  });
  set_counters(state, p);
  cublasDestroy(h);
}

// The card's two ceilings, measured: device memory bandwidth (a 512 MiB
// device-to-device copy, counting bytes read plus written) and FP32 FMA
// throughput (a 8192^3 cuBLAS SGEMM in plain FP32: CUBLAS_DEFAULT_MATH, no
// TF32). gpu-check's table states each kernel as a fraction of these.
void BM_PeakCopy(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const std::size_t n = std::size_t(128) << 20;  // floats: 512 MiB
  DeviceBuffer<float> a(n), b(n);
  tx2yolo::cuda_fill_f32(a.data(), n, 0.5f, nullptr);
  timed(state, [&] { CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), n * 4, cudaMemcpyDeviceToDevice)); });
  state.counters["GB/s"] = benchmark::Counter(2.0 * n * 4 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_PeakSgemm(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int n = 8192;
  DeviceBuffer<float> a(std::size_t(n) * n), b(std::size_t(n) * n), c(std::size_t(n) * n);
  tx2yolo::cuda_fill_f32(a.data(), a.size(), 0.5f, nullptr);
  tx2yolo::cuda_fill_f32(b.data(), b.size(), 0.25f, nullptr);
  cublasHandle_t h;
  CUBLAS_OK(cublasCreate(&h));
  CUBLAS_OK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  const float one = 1.f, zero = 0.f;
  timed(state, [&] {
    CUBLAS_OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), n, b.data(), n, &zero, c.data(), n));
  });
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * double(n) * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  cublasDestroy(h);
}

// The FP16 ceiling the tensor-core kernels are held against: a 8192^3 cuBLAS
// GEMM with FP16 operands and FP32 accumulation and output (what wmma-fp16
// and cudnn-fp16 compute), tensor-op math allowed. Operands are 1.06 (every
// byte 0x3C), not zeros, which some cards multiply faster.
void BM_PeakHgemm(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int n = 8192;
  DeviceBuffer<tx2yolo::half_t> a(std::size_t(n) * n), b(std::size_t(n) * n);
  DeviceBuffer<float> c(std::size_t(n) * n);
  CUDA_CHECK(cudaMemset(a.data(), 0x3C, a.size() * sizeof(tx2yolo::half_t)));
  CUDA_CHECK(cudaMemset(b.data(), 0x3C, b.size() * sizeof(tx2yolo::half_t)));
  cublasHandle_t h;
  CUBLAS_OK(cublasCreate(&h));
  const float one = 1.f, zero = 0.f;
#if CUDART_VERSION >= 11000
  const cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
#else
  CUBLAS_OK(cublasSetMathMode(h, CUBLAS_TENSOR_OP_MATH));
  const cudaDataType_t compute = CUDA_R_32F;
#endif
  timed(state, [&] {
    CUBLAS_OK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), CUDA_R_16F, n, b.data(), CUDA_R_16F,
                           n, &zero, c.data(), CUDA_R_32F, n, compute, CUBLAS_GEMM_DEFAULT));
  });
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * double(n) * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  cublasDestroy(h);
}

bool is_pointwise(const Conv2dParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.groups == 1;
}

const bool registered = [] {
  benchmark::RegisterBenchmark("peak/copy", BM_PeakCopy)->UseManualTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("peak/sgemm", BM_PeakSgemm)->UseManualTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("peak/hgemm", BM_PeakHgemm)->UseManualTime()->Unit(benchmark::kMicrosecond);
  for (const Shape& s : model_shapes()) {
    for (tx2yolo::Conv2dCudaKernel k : tx2yolo::kConv2dCudaTactics) {
      if (!tx2yolo::conv2d_cuda_supports(s.p, k)) continue;
      benchmark::RegisterBenchmark(("ours-" + std::string(tx2yolo::conv2d_cuda_kernel_name(k)) + "/" + s.name).c_str(),
                                   BM_Ours, s.p, k)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark(("cudnn/" + s.name).c_str(), BM_Cudnn, s.p)->UseManualTime()->Unit(benchmark::kMicrosecond);
    if (is_pointwise(s.p))
      benchmark::RegisterBenchmark(("cublas/" + s.name).c_str(), BM_Cublas, s.p)->UseManualTime()->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
