// Depthwise conv2d on the CPU, row by row (the fast CPU path's depthwise
// kernel, beside the reference kernels/cpu/conv2d.cpp, which stays the
// oracle).
//
//   out[n, off + c, oy, ox] = act( bias[c] + sum_{ky, kx} w[c, 0, ky, kx] *
//                                  in[n, c, oy*sh - ph + ky, ox*sw - pw + kx] )
//
// for groups == C_in == C_out (zero outside the input). Layouts as conv2d_cpu:
// in [N, C, H, W], w [C, 1, Kh, Kw], out [N, C_total, Ho, Wo] written in
// channels [offset, offset + C).
//
// The reference walks the whole output plane once per tap, so at large maps
// the plane streams through the caches Kh x Kw times. This kernel finishes
// each output row before the next: it starts the row from the bias, adds the
// taps in the reference's order (ky, then kx) from the Kh input rows it
// reads, while the row stays in L1, and applies the activation in place.
// For each kx the output columns whose input column lies inside the row are
// one range [lo, hi), computed once per channel, so the tap loops have no
// branches: contiguous for stride 1, a fixed stride otherwise, which the
// compiler vectorises for any target (SSE/AVX on x86-64, NEON on aarch64):
// portable C++, no intrinsics, no scratch memory. One task per (image,
// channel) on the calling thread's share of the pool (core/thread_pool.h).
#include <algorithm>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"

namespace tx2yolo {

namespace {

constexpr int kMaxTaps = 16;  // kernel widths up to this use the stack for their column ranges

}  // namespace

// On x86-64 with GCC, the row loops are compiled three times, for AVX-512F,
// AVX2 and the baseline (SSE2), and the loader picks the widest the CPU has
// (function multiversioning, an ifunc; no intrinsics). The build's baseline
// is SSE2, whose 4 lanes left the kernel at about 9 GFLOP/s. None of the
// three enables FMA contraction (avx512f and avx2 do not imply fma), so each
// computes what the baseline does. Elsewhere (aarch64: NEON is the
// baseline; clang) one version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TX2YOLO_DEPTHWISE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TX2YOLO_DEPTHWISE_CLONES
#endif

// Not static: GCC 7's target_clones wants a function with external linkage.
TX2YOLO_DEPTHWISE_CLONES
void conv2d_depthwise_rows_channel(const Conv2dParams& p, const float* __restrict in, const float* __restrict weight,
                       const float* __restrict bias, float* __restrict out, int job) {
  const int n = job / p.out_channels;
  const int c = job % p.out_channels;
  const int sw = p.stride_w, kw = p.kernel_w;
  // Output columns [lo[kx], hi[kx]) read input columns inside [0, in_w).
  int lo[kMaxTaps], hi[kMaxTaps];
  for (int kx = 0; kx < kw; ++kx) {
    const int dx = kx - p.pad_w;
    lo[kx] = dx >= 0 ? 0 : (-dx + sw - 1) / sw;
    hi[kx] = std::min(p.out_w, p.in_w - 1 - dx >= 0 ? (p.in_w - 1 - dx) / sw + 1 : 0);
  }
  const float* src = in + (static_cast<long long>(n) * p.in_channels + c) * p.in_h * p.in_w;
  const float* wk = weight + static_cast<long long>(c) * p.kernel_h * kw;
  float* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + c) *
                         static_cast<long long>(p.out_h) * p.out_w;
  const float b = bias ? bias[c] : 0.f;
  for (int oy = 0; oy < p.out_h; ++oy) {
    float* __restrict a = dst + static_cast<long long>(oy) * p.out_w;
    for (int ox = 0; ox < p.out_w; ++ox) a[ox] = b;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      const int iy = oy * p.stride_h - p.pad_h + ky;
      if (iy < 0 || iy >= p.in_h) continue;
      const float* __restrict row = src + static_cast<long long>(iy) * p.in_w;
      for (int kx = 0; kx < kw; ++kx) {
        const float wv = wk[ky * kw + kx];
        const int dx = kx - p.pad_w;
        if (sw == 1) {
          const float* __restrict x = row + dx;
          for (int ox = lo[kx]; ox < hi[kx]; ++ox) a[ox] += wv * x[ox];
        } else if (sw == 2) {
          const float* __restrict x = row + dx;
          for (int ox = lo[kx]; ox < hi[kx]; ++ox) a[ox] += wv * x[2 * ox];
        } else {
          for (int ox = lo[kx]; ox < hi[kx]; ++ox) a[ox] += wv * row[ox * sw + dx];
        }
      }
    }
    if (p.activation != Activation::kNone)
      for (int ox = 0; ox < p.out_w; ++ox) a[ox] = apply_activation(p.activation, p.alpha, a[ox]);
  }
}

bool conv2d_cpu_depthwise_rows_supports(const Conv2dParams& p) {
  return p.groups == p.in_channels && p.groups == p.out_channels && p.stride_w >= 1 && p.stride_h >= 1 &&
         p.kernel_w >= 1 && p.kernel_w <= kMaxTaps && p.kernel_h >= 1 && p.out_w > 0 && p.out_h > 0;
}

bool conv2d_cpu_depthwise_rows_preferred(const Conv2dParams& p) {
  return conv2d_cpu_depthwise_rows_supports(p) && p.out_w >= kConv2dCpuDepthwiseRowsMinWidth;
}

void conv2d_cpu_depthwise_rows(const Conv2dParams& p, const float* in, const float* weight, const float* bias,
                               float* out) {
  TX2_REQUIRE(conv2d_cpu_depthwise_rows_supports(p), "conv2d_cpu_depthwise_rows: not a depthwise conv (groups ",
              p.groups, ", channels ", p.in_channels, " -> ", p.out_channels, ")");
  parallel_for(p.batch * p.out_channels,
               [&](int job) { conv2d_depthwise_rows_channel(p, in, weight, bias, out, job); });
}

}  // namespace tx2yolo
