// The pieces of the 4x4-per-thread register-tiled GEMM shared by conv2d's
// gemm64/gemm32 kernels (kernels/cuda/conv2d.cu) and the fused depthwise +
// pointwise kernel (kernels/cuda/conv2d_dwpw.cu), and the output-slice
// indexing of conv2d's element-wise epilogues. C++14, included from .cu
// only. A block computes BM (output channels, m) x BN (pixels, p) with
// (BM/4) x (BN/4) threads; thread (ty, tx) owns rows ty*4.. and pixels tx*4..
// Operand tiles in shared memory, k-major: As[k][m] (A = weights, row-major
// [M, K] in global memory), Bs[k][p].
#pragma once

#include "kernels/conv2d.h"
#include "kernels/cuda/common.cuh"

namespace tx2yolo {
namespace cuda {

// As[kk][mm] = A[m0 + mm][k0 + kk] for the BM x BK tile, 0 where the row is
// >= m_end or the column >= k_end; lda is A's row length. Every thread of
// the block stages BM * BK / threads elements.
template <int BK, int BM, int LD, int kThreads>
__device__ __forceinline__ void load_a_tile(float (&As)[BK][LD], const float* __restrict__ a, long long lda, int m0,
                                            int m_end, int k0, int k_end, int tid) {
#pragma unroll
  for (int i = 0; i < BK * BM / kThreads; ++i) {
    const int e = tid + i * kThreads;
    const int mm = e / BK, kk = e % BK;
    const int m = m0 + mm, k = k0 + kk;
    As[kk][mm] = (m < m_end && k < k_end) ? a[static_cast<long long>(m) * lda + k] : 0.f;
  }
}

// acc[i][j] += sum over the BK k-steps of As[k][ty*4 + i] * Bs[k][tx*4 + j].
template <int BK, int LDA, int LDB>
__device__ __forceinline__ void mma_tile_4x4(const float (&As)[BK][LDA], const float (&Bs)[BK][LDB], int ty, int tx,
                                             float (&acc)[4][4]) {
#pragma unroll
  for (int kk = 0; kk < BK; ++kk) {
    const float4 a = reinterpret_cast<const float4*>(&As[kk][0])[ty];
    const float4 b = reinterpret_cast<const float4*>(&Bs[kk][0])[tx];
    const float av[4] = {a.x, a.y, a.z, a.w};
    const float bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
  }
}

// Where output element i of a packed [N, C_out, P] enumeration lies in p's
// output slice [N, out_channels_total, P] at channel offset off; *co its channel.
__device__ __forceinline__ long long slice_element(const Conv2dParams& p, long long P, long long i, int* co) {
  const long long pix = i % P;
  *co = static_cast<int>((i / P) % p.out_channels);
  const int n = static_cast<int>(i / (P * p.out_channels));
  return (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + *co) * P + pix;
}

// The epilogue: out[n, off + co0 + i, pix0 + j] = act(acc[i][j] + bias[co0 + i])
// into p's output slice, for rows i < rows and pixels below P.
template <typename T>
__device__ __forceinline__ void store_tile_4x4(const Conv2dParams& p, const float (&acc)[4][4],
                                               const float* __restrict__ bias, T* __restrict__ out, int n, int co0,
                                               int rows, int pix0, int P) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (i >= rows) continue;
    const int co = co0 + i;
    const float b = bias ? bias[co] : 0.f;
    T* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + co) *
                       static_cast<long long>(P);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int pix = pix0 + j;
      if (pix < P) store_act(dst + pix, apply_activation(p.activation, p.alpha, acc[i][j] + b));
    }
  }
}

}  // namespace cuda
}  // namespace tx2yolo
