// conv2d_dwpw on the GPU: a depthwise conv and the pointwise conv after it in
// one kernel (formula and layouts in kernels/conv2d_dwpw.h):
//
//   mid[n, c, y, x] = round_S(act_dw(dw_bias[c] + sum_{ky,kx} dw_w[c,ky,kx] * in[n, c, iy, ix]))
//   out[n, off + co, y, x] = act_pw(pw_bias[co] + sum_c pw_w[co, c] * mid[n, c, y, x])
//
// The pointwise conv is a GEMM, C[co, pix] = sum_c A[co, c] B[c, pix], tiled
// like conv2d's gemm64: a block computes 64 output channels x 64 output
// pixels of one image with 256 threads, each a 4 x 4 register tile, over
// 16-channel steps with both operand tiles in shared memory (8.4 KB). The B
// tile is the depthwise output, computed in place of being loaded: each
// thread owns one pixel of the tile (its input origin computed once) and 4
// of the 16 channels, and sums that channel's taps from the input (read
// through the cache; neighbouring threads read neighbouring pixels). So mid
// never touches memory; the price is that every 64-channel tile of the
// output recomputes the depthwise conv of its pixels (C_out / 64 times in
// all, 9 multiply-adds per element for a 3x3). Whether that wins is
// measured: the engine uses the fused kernel for a pair only where its
// timing beats the two convs' own best kernels.
//
// Storage: activations (in, out) float or __half; mid is rounded to the
// storage type before it is used, as the unfused pair would store it.
// Arithmetic and accumulation FP32. The depthwise sum runs over the taps in
// (ky, kx) order, then adds the bias, and the pointwise sum over the
// channels in order, then adds its bias: the orders of conv2d.cu's depthwise
// and gemm64 pointwise kernels (conv2d_cpu starts from the bias instead, so
// it agrees to float rounding).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/conv2d_dwpw.h"
#include "kernels/conv2d_launch.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm_tile.cuh"

namespace tx2yolo {

namespace {

// The tiles (kernels/conv2d_launch.h, shared with the launch geometry).
constexpr int kDpBM = conv2d_tiles::kDwPwBM;  // output channels per block
constexpr int kDpBN = conv2d_tiles::kDwPwBN;  // output pixels per block
constexpr int kDpBK = conv2d_tiles::kDwPwBK;  // depthwise channels per step
constexpr int kDpThreads = conv2d_tiles::kDwPwThreads;  // 256
constexpr int kDpPadA = conv2d_tiles::kDwPwPadA;  // float4-aligned rows, spread banks

__device__ __forceinline__ float round_to_storage(float v, const float*) { return v; }
__device__ __forceinline__ float round_to_storage(float v, const __half*) {
  return __half2float(__float2half_rn(v));
}

// kKernel: the depthwise kernel's size when it is square and known at
// compile time (3: the taps unroll), else 0 (read from dw).
template <int kKernel, typename T>
__global__ void __launch_bounds__(kDpThreads)
    conv2d_dwpw_kernel(Conv2dParams dw, Conv2dParams pw, const T* __restrict__ in, const float* __restrict__ dw_w,
                       const float* __restrict__ dw_b, const float* __restrict__ pw_w,
                       const float* __restrict__ pw_b, T* __restrict__ out) {
  const int C = dw.out_channels;  // the pointwise reduction
  const int P = dw.out_h * dw.out_w;
  const int kh = kKernel > 0 ? kKernel : dw.kernel_h;
  const int kw = kKernel > 0 ? kKernel : dw.kernel_w;
  const int khw = kh * kw;
  const int n = blockIdx.z;
  const int m0 = blockIdx.y * kDpBM;
  const int p0 = blockIdx.x * kDpBN;
  const long long in_plane = static_cast<long long>(dw.in_h) * dw.in_w;
  const T* in_n = in + static_cast<long long>(n) * C * in_plane;

  __shared__ __align__(16) float As[kDpBK][kDpBM + kDpPadA];
  __shared__ __align__(16) float Bs[kDpBK][kDpBN];

  const int tid = threadIdx.x;
  const int tx = tid % (kDpBN / 4);  // 4 output pixels each
  const int ty = tid / (kDpBN / 4);  // 4 output channels each
  // The B element this thread stages: pixel bp of the tile, channels bk + 4i.
  const int bp = tid % kDpBN;
  const int bk = tid / kDpBN;  // 0..3
  const int pix = p0 + bp;
  const bool pix_ok = pix < P;
  const int oy = pix_ok ? pix / dw.out_w : 0, ox = pix_ok ? pix % dw.out_w : 0;
  const int iy0 = oy * dw.stride_h - dw.pad_h, ix0 = ox * dw.stride_w - dw.pad_w;

  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  for (int k0 = 0; k0 < C; k0 += kDpBK) {
    cuda::load_a_tile<kDpBK, kDpBM, kDpBM + kDpPadA, kDpThreads>(As, pw_w, C, m0, pw.out_channels, k0, C, tid);
#pragma unroll
    for (int i = 0; i < kDpBK / 4; ++i) {
      const int kk = bk + 4 * i;
      const int c = k0 + kk;
      float v = 0.f;
      if (pix_ok && c < C) {
        const T* plane = in_n + static_cast<long long>(c) * in_plane;
        const float* w = dw_w + static_cast<long long>(c) * khw;
        float s = 0.f;
#pragma unroll
        for (int ky = 0; ky < kh; ++ky) {
          const int iy = iy0 + ky;
          if (iy < 0 || iy >= dw.in_h) continue;
#pragma unroll
          for (int kx = 0; kx < kw; ++kx) {
            const int ix = ix0 + kx;
            if (ix < 0 || ix >= dw.in_w) continue;
            s += w[ky * kw + kx] * cuda::load_act(plane + static_cast<long long>(iy) * dw.in_w + ix);
          }
        }
        v = round_to_storage(apply_activation(dw.activation, dw.alpha, s + (dw_b ? dw_b[c] : 0.f)), in);
      }
      Bs[kk][bp] = v;
    }
    __syncthreads();
    cuda::mma_tile_4x4(As, Bs, ty, tx, acc);
    __syncthreads();
  }
  cuda::store_tile_4x4(pw, acc, pw_b, out, n, m0 + ty * 4, pw.out_channels - (m0 + ty * 4), p0 + tx * 4, P);
}

template <typename T>
void launch(const Conv2dDwPwParams& p, const T* in, const float* dw_w, const float* dw_b, const float* pw_w,
            const float* pw_b, T* out, cudaStream_t stream) {
  std::string why;
  TX2_REQUIRE(conv2d_dwpw_fusable(p.dw, p.pw, &why), "conv2d_dwpw_cuda: ", why);
  const LaunchGeometry g = conv2d_dwpw_geometry(p);
  TX2_REQUIRE(g.fits && g.launches == 1, "conv2d_dwpw_cuda: launch does not fit: ", g.fits ? "batch too large" : g.why);
  const dim3 grid(static_cast<unsigned>(g.grid_x), static_cast<unsigned>(g.grid_y), static_cast<unsigned>(g.grid_z));
  if (p.dw.kernel_h == 3 && p.dw.kernel_w == 3) {
    conv2d_dwpw_kernel<3, T><<<grid, kDpThreads, 0, stream>>>(p.dw, p.pw, in, dw_w, dw_b, pw_w, pw_b, out);
    CUDA_CHECK_LAUNCH("conv2d_dwpw_kernel<3x3>");
  } else {
    conv2d_dwpw_kernel<0, T><<<grid, kDpThreads, 0, stream>>>(p.dw, p.pw, in, dw_w, dw_b, pw_w, pw_b, out);
    CUDA_CHECK_LAUNCH("conv2d_dwpw_kernel");
  }
}

}  // namespace

void conv2d_dwpw_cuda(const Conv2dDwPwParams& p, const float* in, const float* dw_w, const float* dw_b,
                      const float* pw_w, const float* pw_b, float* out, cudaStream_t stream) {
  launch(p, in, dw_w, dw_b, pw_w, pw_b, out, stream);
}

void conv2d_dwpw_cuda(const Conv2dDwPwParams& p, const half_t* in, const float* dw_w, const float* dw_b,
                      const float* pw_w, const float* pw_b, half_t* out, cudaStream_t stream) {
  launch(p, reinterpret_cast<const __half*>(in), dw_w, dw_b, pw_w, pw_b, reinterpret_cast<__half*>(out), stream);
}

}  // namespace tx2yolo
