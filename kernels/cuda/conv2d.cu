// conv2d on the GPU: the same op, params and layouts as kernels/conv2d.h.
//
//   out[n, off + co, oy, ox] = act( bias[co] + sum_{ci in group(co), ky, kx}
//        w[co, ci - g0, ky, kx] * in[n, ci, oy*sh - ph + ky, ox*sw - pw + kx] )
//
// Layouts (row-major): in [N, C_in, H_in, W_in]; weight
// [C_out, C_in/groups, K_h, K_w]; bias [C_out] or null; out
// [N, out_channels_total, H_out, W_out], channels [off, off + C_out) written.
//
// Storage: weights, bias and the split-K workspace are fp32; activations (in,
// out) are fp32 or, at FP16 storage, __half: every kernel is instantiated for
// both, loads widen to fp32 and each output is rounded to FP16 once, when it
// is stored.
//
// Kernels, all with the bias + activation epilogue fused and fp32
// accumulation (the tactics a layer chooses from, kernels/conv2d.h):
//  * conv2d_gemm: implicit GEMM per (image, group). C[m, p] = sum_k A[m, k] B[k, p]
//    with A = weight rows (m = output channel in the group, k = (ci, ky, kx)),
//    B = the input patch gathered on the fly (p = output pixel). Block tile
//    BM (m) x BN (p) x 16 (k), each thread a 4x4 register tile; operand tiles
//    in shared memory. Two tile sizes: kGemm 64x64 with 256 threads (8.5 KB
//    shared), and kGemmSmall 32x32 with 64 threads (4.3 KB), which gives
//    4x the blocks to the small late layers (a 19x19 map at 608 has 361
//    pixels: 6 blocks of 64 per output-channel tile). For pointwise convs
//    (1x1, stride 1, pad 0) B is the input itself, read contiguously. Serves
//    standard, grouped and pointwise convs.
//  * kGemmLarge ("gemm128"): the same implicit GEMM with a 128 (m) x 64 (p)
//    block tile, 128 threads each computing an 8 x 8 register tile (64
//    accumulators: four times the arithmetic per shared-memory read of the
//    4x4 tiles), k-steps of 8, and the next k-step's operands loaded into
//    registers while the current one is multiplied (two shared-memory
//    buffers, one barrier per step). Each thread stages a fixed output pixel
//    of B, so its input origin is computed once per block. 12.5 KB shared.
//    Not yet run on a GPU: the engine offers it only where unverified
//    features are allowed (engine/verification.h); the GPU tests check it.
//  * kGemmHalf2 ("gemm64-half2", FP16 storage only, sm_53 and later): the
//    64x64 GEMM with both operand tiles in FP16 in shared memory and paired
//    FP16 arithmetic: each thread's 4x4 outputs as 4x2 half2 accumulators,
//    one HFMA2 doing two multiply-adds. FP16 accumulation is bounded: after
//    each 16-wide k-step the half2 partial sums are added into FP32
//    accumulators and restarted, so at most 16 products are summed in FP16.
//    Weights are rounded to FP16 when staged. This is the TX2's FP16 path
//    (its FP16 rate is twice its FP32 rate, only through half2).
//  * split-K (kGemmSplitK): the 64x64 GEMM with the reduction k split into S
//    contiguous ranges, one block per (tile, range); each block writes its
//    raw partial sums to workspace [S, N, C_out, H_out*W_out] (fp32), and
//    conv2d_splitk_reduce adds the S partials in a fixed order (s = 0..S-1,
//    so results do not depend on scheduling), then bias + activation, into
//    `out`. S = ceil(4 * SMs / tiles), at most 16 and at most one range per 4
//    k-steps: only layers with fewer tiles than 2 per SM split at all (the
//    late, deep layers at small inputs on big GPUs; never on a TX2's 2 SMs).
//  * kCudnn ("cudnn", FP32 storage): cudnnConvolutionForward (cuDNN loaded
//    at run time, kernels/cuda/conv2d_cudnn.cpp), then
//    conv2d_bias_activation_kernel adds the bias and applies the activation
//    in place, one thread per output element (grid-stride).
//  * kCudnnFp16 ("cudnn-fp16", FP16 storage): weights_to_half_kernel rounds
//    the FP32 weights to FP16 into the workspace, cuDNN convolves FP16 data
//    with FP32 accumulation, and the same bias + activation kernel works on
//    the FP16 output (FP32 arithmetic, one rounding when it stores).
//  * conv2d_depthwise: groups == C_in == C_out. One block computes an 8 x 32
//    output tile of one channel; the input rows and columns it needs, with
//    the zero padding, are staged once in shared memory and reused by all
//    taps (a 3x3 stride-1 tile reads 10 x 34 inputs for 256 outputs).
// Accumulation order differs from the CPU reference (which starts from the
// bias), so results agree to float rounding, not bit for bit.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_launch.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv2d_cudnn.h"
#include "kernels/cuda/conv2d_patch.cuh"
#include "kernels/cuda/conv2d_wmma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm_tile.cuh"

namespace tx2yolo {

namespace {

// The tiles (kernels/conv2d_launch.h, shared with the launch geometry).
constexpr int kGemmBK = conv2d_tiles::kGemmBK;
constexpr int kGemmPadA = conv2d_tiles::kGemmPadA;  // keeps float4 rows aligned and spreads banks
// Threads of a BM x BN tile: one per 4x4 register tile.
__host__ __device__ constexpr int gemm_threads(int bm, int bn) { return (bm / 4) * (bn / 4); }
static_assert(gemm_threads(64, 64) == conv2d_tiles::gemm_threads(64, 64), "one tile geometry");

// splits == 1: the whole reduction, bias + activation, into out. splits > 1:
// blockIdx.z also selects the k range; raw sums into workspace (see top).
template <bool kPointwise, int kGemmBM, int kGemmBN, typename T>
__global__ void __launch_bounds__(gemm_threads(kGemmBM, kGemmBN))
    conv2d_gemm_kernel(Conv2dParams p, const T* __restrict__ in, const float* __restrict__ weight,
                       const float* __restrict__ bias, T* __restrict__ out, int splits, int k_chunk,
                       float* __restrict__ workspace) {
  const int cin_g = p.in_channels / p.groups;
  const int cout_g = p.out_channels / p.groups;
  const int khw = p.kernel_h * p.kernel_w;
  const int K = cin_g * khw;
  const int P = p.out_h * p.out_w;
  const int split = blockIdx.z % splits;
  const int ng = blockIdx.z / splits;
  const int n = ng / p.groups;
  const int g = ng % p.groups;
  const int k_begin = split * k_chunk;
  const int k_end = min(K, k_begin + k_chunk);
  const int m0 = blockIdx.y * kGemmBM;
  const int p0 = blockIdx.x * kGemmBN;
  const long long in_plane = static_cast<long long>(p.in_h) * p.in_w;
  const T* in_g = in + (static_cast<long long>(n) * p.in_channels + static_cast<long long>(g) * cin_g) * in_plane;
  const float* w_g = weight + static_cast<long long>(g) * cout_g * K;

  __shared__ __align__(16) float As[kGemmBK][kGemmBM + kGemmPadA];
  __shared__ __align__(16) float Bs[kGemmBK][kGemmBN];

  constexpr int kGemmThreads = gemm_threads(kGemmBM, kGemmBN);
  constexpr int kLoadsB = kGemmBK * kGemmBN / kGemmThreads;  // B elements each thread stages
  const int tid = threadIdx.x;
  const int tx = tid % (kGemmBN / 4);  // 4 output pixels each
  const int ty = tid / (kGemmBN / 4);  // 4 output channels each
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  for (int k0 = k_begin; k0 < k_end; k0 += kGemmBK) {
    cuda::load_a_tile<kGemmBK, kGemmBM, kGemmBM + kGemmPadA, kGemmThreads>(As, w_g, K, m0, cout_g, k0, k_end, tid);
#pragma unroll
    for (int i = 0; i < kLoadsB; ++i) {
      const int e = tid + i * kGemmThreads;
      const int kk = e / kGemmBN, pp = e % kGemmBN;
      const int k = k0 + kk, pix = p0 + pp;
      float v = 0.f;
      if (k < k_end && pix < P) {
        if (kPointwise) {
          v = cuda::load_act(in_g + static_cast<long long>(k) * in_plane + pix);
        } else {
          const int ci = k / khw, r = k % khw;
          const int ky = r / p.kernel_w, kx = r % p.kernel_w;
          const int oy = pix / p.out_w, ox = pix % p.out_w;
          const int iy = oy * p.stride_h - p.pad_h + ky;
          const int ix = ox * p.stride_w - p.pad_w + kx;
          if (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w)
            v = cuda::load_act(in_g + static_cast<long long>(ci) * in_plane + static_cast<long long>(iy) * p.in_w + ix);
        }
      }
      Bs[kk][pp] = v;
    }
    __syncthreads();
    cuda::mma_tile_4x4(As, Bs, ty, tx, acc);
    __syncthreads();
  }

  if (splits > 1) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int m = m0 + ty * 4 + i;
      if (m >= cout_g) continue;
      float* dst = workspace + ((static_cast<long long>(split) * p.batch + n) * p.out_channels + g * cout_g + m) *
                                   static_cast<long long>(P);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int pix = p0 + tx * 4 + j;
        if (pix < P) dst[pix] = acc[i][j];
      }
    }
    return;
  }
  cuda::store_tile_4x4(p, acc, bias, out, n, g * cout_g + m0 + ty * 4, cout_g - (m0 + ty * 4), p0 + tx * 4, P);
}


constexpr int kL_BM = conv2d_tiles::kLargeBM, kL_BN = conv2d_tiles::kLargeBN, kL_BK = conv2d_tiles::kLargeBK,
              kL_Threads = conv2d_tiles::kLargeThreads;
constexpr int kL_PadA = conv2d_tiles::kLargePadA;  // row length 132 floats: float4-aligned, conflict-free transposed stores

template <bool kPointwise, typename T>
__global__ void __launch_bounds__(kL_Threads)
    conv2d_gemm_large_kernel(Conv2dParams p, const T* __restrict__ in, const float* __restrict__ weight,
                             const float* __restrict__ bias, T* __restrict__ out) {
  const int cin_g = p.in_channels / p.groups;
  const int cout_g = p.out_channels / p.groups;
  const int khw = p.kernel_h * p.kernel_w;
  const int K = cin_g * khw;
  const int P = p.out_h * p.out_w;
  const int n = blockIdx.z / p.groups;
  const int g = blockIdx.z % p.groups;
  const int m0 = blockIdx.y * kL_BM;
  const int p0 = blockIdx.x * kL_BN;
  const long long in_plane = static_cast<long long>(p.in_h) * p.in_w;
  const T* in_g = in + (static_cast<long long>(n) * p.in_channels + static_cast<long long>(g) * cin_g) * in_plane;
  const float* w_g = weight + static_cast<long long>(g) * cout_g * K;

  __shared__ __align__(16) float As[2][kL_BK][kL_BM + kL_PadA];
  __shared__ __align__(16) float Bs[2][kL_BK][kL_BN];

  const int tid = threadIdx.x;
  // Staging: A element (k = a_k, m = a_m + 16 i), i < 8; B element (k = b_k + 2 i, pixel b_p), i < 4.
  const int a_k = tid % kL_BK, a_m = tid / kL_BK;
  const int b_p = tid % kL_BN, b_k = tid / kL_BN;
  const int pix = p0 + b_p;
  const cuda::ConvPatch patch(p, pix);
  float ra[8], rb[4];
  const auto load = [&](int k0) {
    const int ka = k0 + a_k;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = m0 + a_m + 16 * i;
      ra[i] = (m < cout_g && ka < K) ? w_g[static_cast<long long>(m) * K + ka] : 0.f;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
      rb[i] = patch.value<kPointwise>(p, in_g, in_plane, khw, K, k0 + b_k + 2 * i, pix);
  };
  const auto store = [&](int buf) {
#pragma unroll
    for (int i = 0; i < 8; ++i) As[buf][a_k][a_m + 16 * i] = ra[i];
#pragma unroll
    for (int i = 0; i < 4; ++i) Bs[buf][b_k + 2 * i][b_p] = rb[i];
  };

  // Compute: thread (ty, tx) owns output channels ty*8 .. +8 and pixels tx*8 .. +8.
  const int ty = tid / (kL_BN / 8), tx = tid % (kL_BN / 8);
  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  load(0);
  store(0);
  __syncthreads();
  int buf = 0;
  for (int k0 = 0; k0 < K; k0 += kL_BK) {
    const bool more = k0 + kL_BK < K;
    if (more) load(k0 + kL_BK);  // in flight while this step multiplies
#pragma unroll
    for (int kk = 0; kk < kL_BK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 8]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 8 + 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 8]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 8 + 4]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] += av[i] * bv[j];
    }
    if (more) {
      store(buf ^ 1);  // the other buffer: nobody reads it during this step
      __syncthreads();
      buf ^= 1;
    }
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int m = m0 + ty * 8 + i;
    if (m >= cout_g) continue;
    const int co = g * cout_g + m;
    const float b = bias ? bias[co] : 0.f;
    T* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + co) *
                       static_cast<long long>(P);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int px = p0 + tx * 8 + j;
      if (px < P) cuda::store_act(dst + px, apply_activation(p.activation, p.alpha, acc[i][j] + b));
    }
  }
}


// kGemmHalf2: see the top of this file. T is always __half here.
constexpr int kH_BM = conv2d_tiles::kHalf2BM, kH_BN = conv2d_tiles::kHalf2BN, kH_BK = conv2d_tiles::kHalf2BK,
              kH_Threads = conv2d_tiles::kHalf2Threads, kH_Pad = conv2d_tiles::kHalf2Pad;

template <bool kPointwise>
__global__ void __launch_bounds__(kH_Threads)
    conv2d_gemm_half2_kernel(Conv2dParams p, const __half* __restrict__ in, const float* __restrict__ weight,
                             const float* __restrict__ bias, __half* __restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 530
  const int cin_g = p.in_channels / p.groups;
  const int cout_g = p.out_channels / p.groups;
  const int khw = p.kernel_h * p.kernel_w;
  const int K = cin_g * khw;
  const int P = p.out_h * p.out_w;
  const int n = blockIdx.z / p.groups;
  const int g = blockIdx.z % p.groups;
  const int m0 = blockIdx.y * kH_BM;
  const int p0 = blockIdx.x * kH_BN;
  const long long in_plane = static_cast<long long>(p.in_h) * p.in_w;
  const __half* in_g = in + (static_cast<long long>(n) * p.in_channels + static_cast<long long>(g) * cin_g) * in_plane;
  const float* w_g = weight + static_cast<long long>(g) * cout_g * K;

  __shared__ __align__(16) __half As[kH_BK][kH_BM + kH_Pad];
  __shared__ __align__(16) __half Bs[kH_BK][kH_BN + kH_Pad];

  const int tid = threadIdx.x;
  const int tx = tid % (kH_BN / 4);  // 4 output pixels each
  const int ty = tid / (kH_BN / 4);  // 4 output channels each
  // Staging: A element (k = tid % 16, m = tid / 16 + 16 i), B element (k = tid / 64 + 4 i, pixel tid % 64), i < 4.
  const int a_k = tid % kH_BK, a_m = tid / kH_BK;
  const int b_p = tid % kH_BN, b_k = tid / kH_BN;
  const int pix = p0 + b_p;
  const cuda::ConvPatch patch(p, pix);
  const __half zero = __float2half_rn(0.f);

  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  for (int k0 = 0; k0 < K; k0 += kH_BK) {
    const int ka = k0 + a_k;
#pragma unroll
    for (int i = 0; i < kH_BM * kH_BK / kH_Threads; ++i) {
      const int mm = a_m + i * (kH_Threads / kH_BK);
      const int m = m0 + mm;
      As[a_k][mm] = __float2half_rn((m < cout_g && ka < K) ? w_g[static_cast<long long>(m) * K + ka] : 0.f);
    }
#pragma unroll
    for (int i = 0; i < kH_BK * kH_BN / kH_Threads; ++i) {
      const int kk = b_k + i * (kH_Threads / kH_BN);
      // FP16 in, FP16 out: the widening in between is exact.
      Bs[kk][b_p] = __float2half_rn(patch.value<kPointwise>(p, in_g, in_plane, khw, K, k0 + kk, pix));
    }
    __syncthreads();
    // At most 16 products summed in FP16, then promoted.
    __half2 h[4][2];
#pragma unroll
    for (int i = 0; i < 4; ++i) h[i][0] = h[i][1] = __half2half2(zero);
#pragma unroll
    for (int kk = 0; kk < kH_BK; ++kk) {
      const __half2* brow = reinterpret_cast<const __half2*>(&Bs[kk][tx * 4]);
      const __half2 b01 = brow[0], b23 = brow[1];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const __half2 a = __half2half2(As[kk][ty * 4 + i]);
        h[i][0] = __hfma2(a, b01, h[i][0]);
        h[i][1] = __hfma2(a, b23, h[i][1]);
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      acc[i][0] += __low2float(h[i][0]);
      acc[i][1] += __high2float(h[i][0]);
      acc[i][2] += __low2float(h[i][1]);
      acc[i][3] += __high2float(h[i][1]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty * 4 + i;
    if (m >= cout_g) continue;
    const int co = g * cout_g + m;
    const float b = bias ? bias[co] : 0.f;
    __half* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + co) *
                            static_cast<long long>(P);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int px = p0 + tx * 4 + j;
      if (px < P) dst[px] = __float2half_rn(apply_activation(p.activation, p.alpha, acc[i][j] + b));
    }
  }
#else
  __trap();  // never launched: half2_compute_capability() is 0 for this code
#endif
}

// out[n, off + co, pix] = act(bias[co] + sum_{s = 0..S-1} ws[s, n, co, pix]).
template <typename T>
__global__ void __launch_bounds__(256) conv2d_splitk_reduce_kernel(Conv2dParams p, int splits, const float* __restrict__ workspace,
                                            const float* __restrict__ bias, T* __restrict__ out) {
  const long long P = static_cast<long long>(p.out_h) * p.out_w;
  const long long per_split = static_cast<long long>(p.batch) * p.out_channels * P;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < per_split;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    float sum = 0.f;
    for (int s = 0; s < splits; ++s) sum += workspace[s * per_split + i];
    int co = 0;
    const long long o = cuda::slice_element(p, P, i, &co);
    cuda::store_act(out + o, apply_activation(p.activation, p.alpha, sum + (bias ? bias[co] : 0.f)));
  }
}

// The cudnn tactic's epilogue, in place on the output slice:
// out[n, off + co, pix] = act(out[n, off + co, pix] + bias[co]).
template <typename T>
__global__ void __launch_bounds__(256) conv2d_bias_activation_kernel(Conv2dParams p, const float* __restrict__ bias,
                                                                     T* __restrict__ out) {
  const long long P = static_cast<long long>(p.out_h) * p.out_w;
  const long long count = static_cast<long long>(p.batch) * p.out_channels * P;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    int co = 0;
    T* o = out + cuda::slice_element(p, P, i, &co);
    cuda::store_act(o, apply_activation(p.activation, p.alpha, cuda::load_act(o) + (bias ? bias[co] : 0.f)));
  }
}

__global__ void __launch_bounds__(256) weights_to_half_kernel(const float* __restrict__ w, long long count,
                                                              __half* __restrict__ out) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(w[i]);
}

constexpr int kDwTileH = conv2d_tiles::kDepthwiseTileH;
constexpr int kDwTileW = conv2d_tiles::kDepthwiseTileW;
constexpr int kDwThreads = conv2d_tiles::kDepthwiseThreads;
constexpr int kDwMaxKernel = conv2d_tiles::kDepthwiseMaxKernel;

template <typename T>
__global__ void __launch_bounds__(kDwThreads)
    conv2d_depthwise_kernel(Conv2dParams p, const T* __restrict__ in, const float* __restrict__ weight,
                            const float* __restrict__ bias, T* __restrict__ out) {
  extern __shared__ float tile[];  // [tile_rows][tile_cols]
  const int tile_rows = (kDwTileH - 1) * p.stride_h + p.kernel_h;
  const int tile_cols = (kDwTileW - 1) * p.stride_w + p.kernel_w;
  const int nc = blockIdx.z;  // n * C + c
  const int c = nc % p.in_channels;
  const int n = nc / p.in_channels;
  const int oy0 = blockIdx.y * kDwTileH;
  const int ox0 = blockIdx.x * kDwTileW;
  const int iy0 = oy0 * p.stride_h - p.pad_h;
  const int ix0 = ox0 * p.stride_w - p.pad_w;
  const T* src = in + static_cast<long long>(nc) * p.in_h * p.in_w;

  for (int e = threadIdx.x; e < tile_rows * tile_cols; e += kDwThreads) {
    const int r = e / tile_cols, col = e % tile_cols;
    const int iy = iy0 + r, ix = ix0 + col;
    tile[e] = (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w) ? cuda::load_act(src + static_cast<long long>(iy) * p.in_w + ix)
                                                                 : 0.f;
  }
  __shared__ float wk[kDwMaxKernel * kDwMaxKernel];
  const int taps = p.kernel_h * p.kernel_w;
  if (threadIdx.x < taps) wk[threadIdx.x] = weight[static_cast<long long>(c) * taps + threadIdx.x];
  __syncthreads();

  const int ty = threadIdx.x / kDwTileW, tx = threadIdx.x % kDwTileW;
  const int oy = oy0 + ty, ox = ox0 + tx;
  if (oy >= p.out_h || ox >= p.out_w) return;
  float acc = 0.f;
  const float* t = tile + (ty * p.stride_h) * tile_cols + tx * p.stride_w;
  for (int ky = 0; ky < p.kernel_h; ++ky)
    for (int kx = 0; kx < p.kernel_w; ++kx) acc += wk[ky * p.kernel_w + kx] * t[ky * tile_cols + kx];
  const float b = bias ? bias[c] : 0.f;
  cuda::store_act(out + ((static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + c) * p.out_h + oy) *
                              p.out_w + ox,
                  apply_activation(p.activation, p.alpha, acc + b));
}

// Split-K's S for `p` on the current device (1: no gain from splitting), from
// the plan in kernels/conv2d.h.
int splitk_splits(const Conv2dParams& p) {
  int device = 0, sms = 0;
  // No device (a benchmark registering its cases on a machine without one):
  // nothing to split for. The error is cleared, not left for the next check.
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 1;
  }
  return conv2d_splitk_splits(p, sms);
}

// The grid of one launch (kernels/conv2d_launch.h), which must fit.
dim3 grid_of(const LaunchGeometry& g) {
  TX2_REQUIRE(g.fits, "conv2d_cuda: launch does not fit: ", g.why);
  return dim3(static_cast<unsigned>(g.grid_x), static_cast<unsigned>(g.grid_y), static_cast<unsigned>(g.grid_z));
}

template <int BM, int BN, typename T>
void launch_gemm(const Conv2dParams& p, const LaunchGeometry& g, bool pointwise, const T* in, const float* weight,
                 const float* bias, T* out, cudaStream_t stream, int splits, float* workspace) {
  const dim3 grid = grid_of(g);
  constexpr int threads = gemm_threads(BM, BN);
  const int chunk = conv2d_splitk_chunk(p, splits);
  if (pointwise) {
    conv2d_gemm_kernel<true, BM, BN, T><<<grid, threads, 0, stream>>>(p, in, weight, bias, out, splits, chunk, workspace);
    CUDA_CHECK_LAUNCH("conv2d_gemm_kernel<pointwise>");
  } else {
    conv2d_gemm_kernel<false, BM, BN, T><<<grid, threads, 0, stream>>>(p, in, weight, bias, out, splits, chunk, workspace);
    CUDA_CHECK_LAUNCH("conv2d_gemm_kernel");
  }
  if (splits > 1) {
    const long long n = static_cast<long long>(p.batch) * p.out_channels * p.out_h * p.out_w;
    const int blocks = static_cast<int>(std::min<long long>(cuda::ceil_div_ll(n, 256), 4096));
    conv2d_splitk_reduce_kernel<T><<<blocks, 256, 0, stream>>>(p, splits, workspace, bias, out);
    CUDA_CHECK_LAUNCH("conv2d_splitk_reduce_kernel");
  }
}

}  // namespace

namespace {
// The current device's compute capability (e.g. 62) when the half2 kernel's
// code loaded for it is sm_53+ code (half2 arithmetic), else 0. A build whose
// targets are all older has the trapping empty body, never to be chosen.
int half2_compute_capability() {
  static std::atomic<int> cache[64];
  return cuda::device_cc_if_code_at_least(reinterpret_cast<const void*>(conv2d_gemm_half2_kernel<false>), 53, cache);
}
}  // namespace

bool conv2d_cuda_supports(const Conv2dParams& p, Conv2dCudaKernel kernel) {
  // No candidate that cannot launch: the same geometry the launchers use.
  if (!conv2d_cuda_geometry(p, kernel, kernel == Conv2dCudaKernel::kGemmSplitK ? splitk_splits(p) : 1).fits)
    return false;
  const bool depthwise_shape = p.groups == p.in_channels && p.groups == p.out_channels;
  switch (kernel) {
    case Conv2dCudaKernel::kAuto:
    case Conv2dCudaKernel::kGemm:
    case Conv2dCudaKernel::kGemmSmall:
      return true;
    case Conv2dCudaKernel::kGemmSplitK:
      return splitk_splits(p) > 1;
    case Conv2dCudaKernel::kGemmLarge:
      return true;
    case Conv2dCudaKernel::kWmmaFp16:
      return conv2d_wmma_available();
    case Conv2dCudaKernel::kGemmHalf2:
      return half2_compute_capability() >= 53;
    case Conv2dCudaKernel::kCudnn:
      return conv2d_cudnn_supports(p);
    case Conv2dCudaKernel::kCudnnFp16:
      return conv2d_cudnn_fp16_supports(p);
    case Conv2dCudaKernel::kDepthwise:
      return depthwise_shape && p.kernel_h <= kDwMaxKernel && p.kernel_w <= kDwMaxKernel &&
             conv2d_cuda_geometry(p, kernel).fits;
  }
  return false;
}

Conv2dCudaKernel conv2d_cuda_choose(const Conv2dParams& p, bool allow_fp16) {
  if (conv2d_cuda_supports(p, Conv2dCudaKernel::kDepthwise)) return Conv2dCudaKernel::kDepthwise;
  if (allow_fp16 && conv2d_cuda_supports(p, Conv2dCudaKernel::kWmmaFp16)) return Conv2dCudaKernel::kWmmaFp16;
  // half2 only where FP16 runs at full rate: sm_53, sm_60, sm_62 (the TX2) and
  // later chips; sm_61 (GeForce 10xx) does FP16 at 1/64 of its FP32 rate.
  const int cc = half2_compute_capability();
  if (allow_fp16 && cc != 0 && cc != 61) return Conv2dCudaKernel::kGemmHalf2;
  return Conv2dCudaKernel::kGemm;
}

std::size_t conv2d_cuda_workspace_floats(const Conv2dParams& p, Conv2dCudaKernel kernel) {
  if (kernel == Conv2dCudaKernel::kCudnn) return conv2d_cudnn_workspace_floats(p);
  if (kernel == Conv2dCudaKernel::kCudnnFp16) return conv2d_cudnn_fp16_workspace_floats(p);
  if (kernel != Conv2dCudaKernel::kGemmSplitK) return 0;
  const int splits = splitk_splits(p);
  if (splits < 2) return 0;
  return static_cast<std::size_t>(splits) * p.batch * p.out_channels * p.out_h * p.out_w;
}

namespace {

void launch_gemm_half2(const Conv2dParams&, const LaunchGeometry&, const float*, const float*, const float*, float*,
                       cudaStream_t) {
  throw Error("conv2d_cuda: the gemm64-half2 kernel runs on FP16 activation storage only");
}

void launch_gemm_half2(const Conv2dParams& p, const LaunchGeometry& g, const __half* in, const float* weight,
                       const float* bias, __half* out, cudaStream_t stream) {
  const dim3 grid = grid_of(g);
  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_h == 0 && p.pad_w == 0;
  if (pointwise) {
    conv2d_gemm_half2_kernel<true><<<grid, kH_Threads, 0, stream>>>(p, in, weight, bias, out);
    CUDA_CHECK_LAUNCH("conv2d_gemm_half2_kernel<pointwise>");
  } else {
    conv2d_gemm_half2_kernel<false><<<grid, kH_Threads, 0, stream>>>(p, in, weight, bias, out);
    CUDA_CHECK_LAUNCH("conv2d_gemm_half2_kernel");
  }
}

}  // namespace

void conv2d_bias_activation_cuda(const Conv2dParams& p, const float* bias, float* out, cudaStream_t stream) {
  const long long count = static_cast<long long>(p.batch) * p.out_channels * p.out_h * p.out_w;
  conv2d_bias_activation_kernel<float><<<cuda::grid_for(count, 256), 256, 0, stream>>>(p, bias, out);
  CUDA_CHECK_LAUNCH("conv2d_bias_activation_kernel");
}

void conv2d_bias_activation_cuda(const Conv2dParams& p, const float* bias, half_t* out, cudaStream_t stream) {
  const long long count = static_cast<long long>(p.batch) * p.out_channels * p.out_h * p.out_w;
  conv2d_bias_activation_kernel<__half>
      <<<cuda::grid_for(count, 256), 256, 0, stream>>>(p, bias, reinterpret_cast<__half*>(out));
  CUDA_CHECK_LAUNCH("conv2d_bias_activation_kernel<half>");
}

void conv2d_weights_to_half_cuda(const float* w, std::size_t count, half_t* out, cudaStream_t stream) {
  const long long n = static_cast<long long>(count);
  weights_to_half_kernel<<<cuda::grid_for(n, 256), 256, 0, stream>>>(w, n, reinterpret_cast<__half*>(out));
  CUDA_CHECK_LAUNCH("weights_to_half_kernel");
}

namespace {

void launch_cudnn(const Conv2dParams& p, Conv2dCudaKernel kernel, const float* in, const float* weight,
                  const float* bias, float* out, cudaStream_t stream, float* workspace) {
  TX2_REQUIRE(kernel == Conv2dCudaKernel::kCudnn, "conv2d_cuda: the cudnn-fp16 tactic runs on FP16 activation "
              "storage only");
  conv2d_cudnn(p, in, weight, bias, out, stream, workspace);
}

void launch_cudnn(const Conv2dParams& p, Conv2dCudaKernel kernel, const __half* in, const float* weight,
                  const float* bias, __half* out, cudaStream_t stream, float* workspace) {
  TX2_REQUIRE(kernel == Conv2dCudaKernel::kCudnnFp16, "conv2d_cuda: the cudnn tactic runs on FP32 activation "
              "storage only");
  conv2d_cudnn_fp16(p, reinterpret_cast<const half_t*>(in), weight, bias, reinterpret_cast<half_t*>(out), stream,
                    workspace);
}

// T: the activation storage (float, or __half at FP16 storage).
template <typename T>
void conv2d_cuda_impl(const Conv2dParams& p, const T* in, const float* weight, const float* bias, T* out,
                      cudaStream_t stream, Conv2dCudaKernel kernel, float* workspace) {
  if (kernel == Conv2dCudaKernel::kAuto) kernel = conv2d_cuda_choose(p);
  TX2_REQUIRE(conv2d_cuda_supports(p, kernel), "conv2d_cuda: the ", conv2d_cuda_kernel_name(kernel),
              " kernel cannot run ", p.in_channels, "->", p.out_channels, " g", p.groups, " k", p.kernel_h, "x",
              p.kernel_w, " at ", p.out_h, "x", p.out_w, " on this device");
  TX2_REQUIRE(p.out_h > 0 && p.out_w > 0 && p.out_channels_total >= p.out_channels,
              "conv2d_cuda: params were not finalized");
  if (conv2d_cuda_kernel_is_cudnn(kernel)) {
    launch_cudnn(p, kernel, in, weight, bias, out, stream, workspace);
    return;
  }
  if (kernel == Conv2dCudaKernel::kGemmSplitK)
    TX2_REQUIRE(workspace != nullptr, "conv2d_cuda: the split-K kernel needs a workspace");
  const int splits = kernel == Conv2dCudaKernel::kGemmSplitK ? splitk_splits(p) : 1;
  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_h == 0 && p.pad_w == 0;
  // One launch per chunk of images that fits grid z (kernels/conv2d_launch.h),
  // the pointers moved along the batch; the split-K workspace is reused by
  // each chunk in stream order.
  const LaunchGeometry whole = conv2d_cuda_geometry(p, kernel, splits);
  TX2_REQUIRE(whole.fits, "conv2d_cuda: the ", conv2d_cuda_kernel_name(kernel), " kernel cannot launch: ", whole.why);
  const long long in_image = static_cast<long long>(p.in_channels) * p.in_h * p.in_w;
  const long long out_image = static_cast<long long>(p.out_channels_total) * p.out_h * p.out_w;
  for (int n0 = 0; n0 < p.batch; n0 += whole.images_per_launch) {
    Conv2dParams q = p;
    q.batch = std::min(whole.images_per_launch, p.batch - n0);
    const LaunchGeometry g = conv2d_cuda_geometry(q, kernel, splits);
    const T* q_in = in + n0 * in_image;
    T* q_out = out + n0 * out_image;
    switch (kernel) {
      case Conv2dCudaKernel::kWmmaFp16:
        conv2d_wmma_cuda(q, g, q_in, weight, bias, q_out, stream);
        break;
      case Conv2dCudaKernel::kGemmHalf2:
        launch_gemm_half2(q, g, q_in, weight, bias, q_out, stream);
        break;
      case Conv2dCudaKernel::kDepthwise:
        conv2d_depthwise_kernel<T><<<grid_of(g), kDwThreads, g.dynamic_shared_bytes, stream>>>(q, q_in, weight, bias,
                                                                                                q_out);
        CUDA_CHECK_LAUNCH("conv2d_depthwise_kernel");
        break;
      case Conv2dCudaKernel::kGemmLarge:
        if (pointwise) {
          conv2d_gemm_large_kernel<true, T><<<grid_of(g), kL_Threads, 0, stream>>>(q, q_in, weight, bias, q_out);
          CUDA_CHECK_LAUNCH("conv2d_gemm_large_kernel<pointwise>");
        } else {
          conv2d_gemm_large_kernel<false, T><<<grid_of(g), kL_Threads, 0, stream>>>(q, q_in, weight, bias, q_out);
          CUDA_CHECK_LAUNCH("conv2d_gemm_large_kernel");
        }
        break;
      case Conv2dCudaKernel::kGemmSmall:
        launch_gemm<32, 32>(q, g, pointwise, q_in, weight, bias, q_out, stream, 1, nullptr);
        break;
      default:  // kGemm, kGemmSplitK
        launch_gemm<64, 64>(q, g, pointwise, q_in, weight, bias, q_out, stream, splits,
                            splits > 1 ? workspace : nullptr);
        break;
    }
  }
}

}  // namespace

void conv2d_cuda(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out,
                 cudaStream_t stream, Conv2dCudaKernel kernel, float* workspace) {
  conv2d_cuda_impl(p, in, weight, bias, out, stream, kernel, workspace);
}

void conv2d_cuda(const Conv2dParams& p, const half_t* in, const float* weight, const float* bias, half_t* out,
                 cudaStream_t stream, Conv2dCudaKernel kernel, float* workspace) {
  conv2d_cuda_impl(p, reinterpret_cast<const __half*>(in), weight, bias, reinterpret_cast<__half*>(out), stream,
                   kernel, workspace);
}

}  // namespace tx2yolo
