// conv2d on tensor cores (the kWmmaFp16 tactic, sm_70 and later): the op,
// params, layouts and CPU reference of kernels/conv2d.h.
//
//   out[n, off + co, oy, ox] = act( bias[co] + sum_{ci in group(co), ky, kx}
//        h(w[co, ci - g0, ky, kx]) * h(in[n, ci, oy*sh - ph + ky, ox*sw - pw + kx]) )
//
// where h() rounds an FP32 value to FP16 (round to nearest even). Layouts as
// in conv2d.cu (in [N, C_in, H_in, W_in], weight [C_out, C_in/groups, K_h,
// K_w], out [N, out_channels_total, H_out, W_out] at channel offset
// out_channel_offset; weights and bias FP32); the operands are
// rounded to FP16 as they are staged in shared memory, multiplied on the
// tensor cores (WMMA m16n16k16, FP16 x FP16) and ACCUMULATED IN FP32; bias
// and activation are applied in FP32. The product of two FP16 values is exact
// in FP32, so against an FP32 reference fed the same rounded operands only
// the summation order differs.
//
// Activations are float or FP16 (__half) storage, as the caller's; with FP16
// storage the input is already FP16 and the output is rounded to FP16 once.
//
// Implicit GEMM per (image, group), as conv2d_gemm: C[m, p] = sum_k A[m, k]
// B[k, p], m = output channel, k = (ci, ky, kx), p = output pixel. Block tile
// 64 (m) x 64 (p) x 32 (k), 128 threads = 4 warps, each warp a 32 x 32 piece
// as 2 x 2 WMMA fragments. Shared memory: A 64 x 40 halves, B 32 x 72
// halves (rows padded by 8 halves for bank spread and the 32-byte alignment
// WMMA needs), C 64 x 68 floats for the epilogue: 27 KB, static.
//
// Code built for targets before sm_70 has an empty body that traps; the host
// never launches it (conv2d_wmma_available() checks the device and the
// loaded code's version).
#include "kernels/cuda/conv2d_wmma.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <atomic>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv2d_patch.cuh"
#include "kernels/cuda/cuda_check.h"

namespace tx2yolo {

namespace {

// The tiles (kernels/conv2d_launch.h, shared with the launch geometry).
constexpr int kBM = conv2d_tiles::kWmmaBM, kBN = conv2d_tiles::kWmmaBN, kBK = conv2d_tiles::kWmmaBK;
constexpr int kThreads = conv2d_tiles::kWmmaThreads;
constexpr int kLdA = conv2d_tiles::kWmmaLdA;  // halves
constexpr int kLdB = conv2d_tiles::kWmmaLdB;  // halves
constexpr int kLdC = conv2d_tiles::kWmmaLdC;  // floats

template <bool kPointwise, typename T>
__global__ void __launch_bounds__(kThreads)
    conv2d_wmma_kernel(Conv2dParams p, const T* __restrict__ in, const float* __restrict__ weight,
                       const float* __restrict__ bias, T* __restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
  using namespace nvcuda;
  __shared__ __align__(32) __half As[kBM * kLdA];
  __shared__ __align__(32) __half Bs[kBK * kLdB];
  __shared__ __align__(32) float Cs[kBM * kLdC];

  const int cin_g = p.in_channels / p.groups;
  const int cout_g = p.out_channels / p.groups;
  const int khw = p.kernel_h * p.kernel_w;
  const int K = cin_g * khw;
  const int P = p.out_h * p.out_w;
  const int n = blockIdx.z / p.groups;
  const int g = blockIdx.z % p.groups;
  const int m0 = blockIdx.y * kBM;
  const int p0 = blockIdx.x * kBN;
  const long long in_plane = static_cast<long long>(p.in_h) * p.in_w;
  const T* in_g = in + (static_cast<long long>(n) * p.in_channels + static_cast<long long>(g) * cin_g) * in_plane;
  const float* w_g = weight + static_cast<long long>(g) * cout_g * K;

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int warp_m = (warp / 2) * 32, warp_n = (warp % 2) * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  // Each thread stages the same k column of A (16 output channels, 4 apart)
  // and the same pixel of B (16 k rows, 2 apart) at every step, so the
  // pixel's input origin is computed once, outside the k loop.
  const int a_k = tid % kBK, a_m = tid / kBK;
  const int b_p = tid % kBN, b_k = tid / kBN;
  const int pix = p0 + b_p;
  const cuda::ConvPatch patch(p, pix);

  for (int k0 = 0; k0 < K; k0 += kBK) {
    const int ka = k0 + a_k;
#pragma unroll 4
    for (int i = 0; i < kBM * kBK / kThreads; ++i) {
      const int mm = a_m + i * (kThreads / kBK);
      const int m = m0 + mm;
      As[mm * kLdA + a_k] = __float2half_rn((m < cout_g && ka < K) ? w_g[static_cast<long long>(m) * K + ka] : 0.f);
    }
#pragma unroll 4
    for (int i = 0; i < kBK * kBN / kThreads; ++i) {
      const int kk = b_k + i * (kThreads / kBN);
      Bs[kk * kLdB + b_p] = __float2half_rn(patch.value<kPointwise>(p, in_g, in_plane, khw, K, k0 + kk, pix));
    }
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < kBK; ks += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], As + (warp_m + 16 * i) * kLdA + ks, kLdA);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs + ks * kLdB + warp_n + 16 * j, kLdB);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(Cs + (warp_m + 16 * i) * kLdC + warp_n + 16 * j, acc[i][j], kLdC, wmma::mem_row_major);
  __syncthreads();
  // Epilogue: bias + activation in FP32; each thread one pixel column, rows strided.
  if (!patch.valid) return;
  for (int mm = b_k; mm < kBM; mm += kThreads / kBN) {
    const int m = m0 + mm;
    if (m >= cout_g) break;
    const int co = g * cout_g + m;
    const float v = Cs[mm * kLdC + b_p] + (bias ? bias[co] : 0.f);
    cuda::store_act(out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + co) * P + pix,
                    apply_activation(p.activation, p.alpha, v));
  }
#else
  __trap();  // never launched: conv2d_wmma_available() is false for this code
#endif
}

}  // namespace

bool conv2d_wmma_available() {
  // Tensor cores, and sm_70+ code loaded for them (common.cuh).
  static std::atomic<int> cache[64];
  return cuda::device_cc_if_code_at_least(reinterpret_cast<const void*>(conv2d_wmma_kernel<false, float>), 70,
                                          cache) != 0;
}

template <typename T>
void conv2d_wmma_cuda(const Conv2dParams& p, const LaunchGeometry& g, const T* in, const float* weight,
                      const float* bias, T* out, cudaStream_t stream) {
  TX2_REQUIRE(conv2d_wmma_available(), "conv2d_cuda: the FP16 tensor-core kernel needs sm_70 or later");
  TX2_REQUIRE(g.fits, "conv2d_cuda: tensor-core launch does not fit: ", g.why);
  const dim3 grid(static_cast<unsigned>(g.grid_x), static_cast<unsigned>(g.grid_y), static_cast<unsigned>(g.grid_z));
  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_h == 0 && p.pad_w == 0;
  if (pointwise) {
    conv2d_wmma_kernel<true, T><<<grid, kThreads, 0, stream>>>(p, in, weight, bias, out);
    CUDA_CHECK_LAUNCH("conv2d_wmma_kernel<pointwise>");
  } else {
    conv2d_wmma_kernel<false, T><<<grid, kThreads, 0, stream>>>(p, in, weight, bias, out);
    CUDA_CHECK_LAUNCH("conv2d_wmma_kernel");
  }
}

template void conv2d_wmma_cuda<float>(const Conv2dParams&, const LaunchGeometry&, const float*, const float*,
                                      const float*, float*, cudaStream_t);
template void conv2d_wmma_cuda<__half>(const Conv2dParams&, const LaunchGeometry&, const __half*, const float*,
                                       const float*, __half*, cudaStream_t);

}  // namespace tx2yolo
