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
// The reference walks the whole output plane once per tap; this kernel makes
// each output row once, in a buffer that stays in L1, from the Kh input rows
// it reads. Each input row is first copied, zero-padded, into `stride`
// phase rows (phase r holds the padded row's elements r, r + s, r + 2s, ...),
// so that every tap is one contiguous multiply-add over the output row:
// acc[ox] += w * phase[kx % s][ox + kx / s]. Those loops have no branches and
// no strided loads, so the compiler vectorises them for any target (SSE/AVX
// on x86-64, NEON on aarch64): portable C++, no intrinsics. The sum for each
// output starts from the bias and adds the taps in the reference's order
// (ky, then kx), then the activation is applied as the row is stored. One
// task per (image, channel) on the calling thread's share of the pool
// (core/thread_pool.h).
#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"

namespace tx2yolo {

namespace {

void depthwise_channel(const Conv2dParams& p, const float* __restrict in, const float* __restrict weight,
                       const float* __restrict bias, float* __restrict out, int job) {
  const int n = job / p.out_channels;
  const int c = job % p.out_channels;
  const int s = p.stride_w;
  const int kw = p.kernel_w;
  // The padded row's length that the taps reach, and each phase row's.
  const int padded = s * (p.out_w - 1) + kw;
  const int phase_len = (padded + s - 1) / s;
  thread_local std::vector<float> phases, acc;
  phases.assign(static_cast<std::size_t>(s) * phase_len, 0.f);
  acc.resize(static_cast<std::size_t>(p.out_w));
  const float* src = in + (static_cast<long long>(n) * p.in_channels + c) * p.in_h * p.in_w;
  const float* wk = weight + static_cast<long long>(c) * p.kernel_h * kw;
  float* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + c) *
                         static_cast<long long>(p.out_h) * p.out_w;
  const float b = bias ? bias[c] : 0.f;
  for (int oy = 0; oy < p.out_h; ++oy) {
    float* __restrict a = acc.data();
    for (int ox = 0; ox < p.out_w; ++ox) a[ox] = b;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      const int iy = oy * p.stride_h - p.pad_h + ky;
      if (iy < 0 || iy >= p.in_h) continue;
      const float* row = src + static_cast<long long>(iy) * p.in_w;
      // Padded element t is input column t - pad_w (zero outside the row).
      for (int t = 0; t < padded; ++t) {
        const int ix = t - p.pad_w;
        phases[static_cast<std::size_t>(t % s) * phase_len + t / s] = (ix >= 0 && ix < p.in_w) ? row[ix] : 0.f;
      }
      for (int kx = 0; kx < kw; ++kx) {
        const float wv = wk[ky * kw + kx];
        const float* __restrict x = phases.data() + static_cast<std::size_t>(kx % s) * phase_len + kx / s;
        for (int ox = 0; ox < p.out_w; ++ox) a[ox] += wv * x[ox];
      }
    }
    float* drow = dst + static_cast<long long>(oy) * p.out_w;
    if (p.activation == Activation::kNone) {
      std::copy(a, a + p.out_w, drow);
    } else {
      for (int ox = 0; ox < p.out_w; ++ox) drow[ox] = apply_activation(p.activation, p.alpha, a[ox]);
    }
  }
}

}  // namespace

bool conv2d_cpu_depthwise_rows_supports(const Conv2dParams& p) {
  return p.groups == p.in_channels && p.groups == p.out_channels && p.stride_w >= 1 && p.stride_h >= 1 &&
         p.kernel_w >= 1 && p.kernel_h >= 1 && p.out_w > 0 && p.out_h > 0;
}

void conv2d_cpu_depthwise_rows(const Conv2dParams& p, const float* in, const float* weight, const float* bias,
                               float* out) {
  TX2_REQUIRE(conv2d_cpu_depthwise_rows_supports(p), "conv2d_cpu_depthwise_rows: not a depthwise conv (groups ",
              p.groups, ", channels ", p.in_channels, " -> ", p.out_channels, ")");
  parallel_for(p.batch * p.out_channels, [&](int job) { depthwise_channel(p, in, weight, bias, out, job); });
}

}  // namespace tx2yolo
