// CPU reference for conv2d (formula and layouts in kernels/conv2d.h).
// Direct convolution: for each output channel, start from the bias and add
// one (input channel, ky, kx) term at a time over whole output rows, so the
// inner loop runs over contiguous output pixels and vectorizes.
#include "kernels/conv2d.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace tx2yolo {

int conv_output_extent(int in, int kernel, int stride, int pad) {
  TX2_REQUIRE(stride > 0, "conv stride must be positive, got ", stride);
  const int span = in + 2 * pad - kernel;
  if (span < 0) return 0;
  return span / stride + 1;
}

void finalize_conv2d_params(Conv2dParams& p) {
  TX2_REQUIRE(p.batch > 0 && p.in_channels > 0 && p.in_h > 0 && p.in_w > 0 && p.out_channels > 0,
              "conv2d: sizes must be positive (batch ", p.batch, ", in ", p.in_channels, "x", p.in_h,
              "x", p.in_w, ", out channels ", p.out_channels, ")");
  TX2_REQUIRE(p.kernel_h > 0 && p.kernel_w > 0 && p.stride_h > 0 && p.stride_w > 0 && p.pad_h >= 0 &&
                  p.pad_w >= 0,
              "conv2d: kernel ", p.kernel_h, "x", p.kernel_w, ", stride ", p.stride_h, "x", p.stride_w,
              ", pad ", p.pad_h, "x", p.pad_w, " is invalid");
  TX2_REQUIRE(p.groups > 0 && p.in_channels % p.groups == 0 && p.out_channels % p.groups == 0,
              "conv2d: groups ", p.groups, " must divide in channels ", p.in_channels,
              " and out channels ", p.out_channels);
  p.out_h = conv_output_extent(p.in_h, p.kernel_h, p.stride_h, p.pad_h);
  p.out_w = conv_output_extent(p.in_w, p.kernel_w, p.stride_w, p.pad_w);
  TX2_REQUIRE(p.out_h > 0 && p.out_w > 0, "conv2d: input ", p.in_h, "x", p.in_w,
              " is too small for kernel ", p.kernel_h, "x", p.kernel_w, " with pad ", p.pad_h, "x",
              p.pad_w);
  if (p.out_channels_total == 0) p.out_channels_total = p.out_channels;
  TX2_REQUIRE(p.out_channel_offset >= 0 &&
                  p.out_channel_offset + p.out_channels <= p.out_channels_total,
              "conv2d: output slice [", p.out_channel_offset, ", ",
              p.out_channel_offset + p.out_channels, ") does not fit in ", p.out_channels_total,
              " channels");
}

long long conv2d_macs(const Conv2dParams& p) {
  return static_cast<long long>(p.batch) * p.out_channels * p.out_h * p.out_w *
         (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
}

namespace {
int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }
int gemm_k(const Conv2dParams& p) { return p.in_channels / p.groups * p.kernel_h * p.kernel_w; }
}  // namespace

int conv2d_splitk_chunk(const Conv2dParams& p, int splits) {
  TX2_REQUIRE(splits >= 1, "split-K: ", splits, " splits");
  return ceil_div(ceil_div(gemm_k(p), kConv2dGemmStepK), splits) * kConv2dGemmStepK;
}

int conv2d_splitk_splits(const Conv2dParams& p, int multiprocessors) {
  if (multiprocessors < 1) return 1;
  const long long tiles = static_cast<long long>(ceil_div(static_cast<long long>(p.out_h) * p.out_w, 64)) *
                          ceil_div(p.out_channels / p.groups, 64) * p.batch * p.groups;
  if (tiles >= 2LL * multiprocessors) return 1;
  const int by_sms = ceil_div(4LL * multiprocessors, tiles);
  const int by_k = ceil_div(gemm_k(p), kConv2dGemmStepK) / 4;
  int splits = std::max(1, std::min({16, by_sms, by_k}));
  while (splits > 1 && static_cast<long long>(conv2d_splitk_chunk(p, splits)) * (splits - 1) >= gemm_k(p)) --splits;
  return splits;
}

namespace {

// One output channel `co` of image `n`. Everything arrives by value, and the
// output never overlaps the input or the weights (__restrict), so the
// compiler keeps it all in registers across the stores to `out`.
void conv2d_cpu_channel(const Conv2dParams p, const float* __restrict in, const float* __restrict weight,
                        const float* __restrict bias, float* __restrict out, int job) {
  const int cin_per_group = p.in_channels / p.groups;
  const int cout_per_group = p.out_channels / p.groups;
  const long long in_plane = static_cast<long long>(p.in_h) * p.in_w;
  const long long out_plane = static_cast<long long>(p.out_h) * p.out_w;
    const int n = job / p.out_channels;
    const int co = job % p.out_channels;
    const int g = co / cout_per_group;
    float* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + co) *
                           out_plane;
    std::fill(dst, dst + out_plane, bias ? bias[co] : 0.f);
    for (int cig = 0; cig < cin_per_group; ++cig) {
      const int ci = g * cin_per_group + cig;
      const float* src = in + (static_cast<long long>(n) * p.in_channels + ci) * in_plane;
      const float* wk = weight + (static_cast<long long>(co) * cin_per_group + cig) * p.kernel_h * p.kernel_w;
      for (int ky = 0; ky < p.kernel_h; ++ky) {
        for (int kx = 0; kx < p.kernel_w; ++kx) {
          const float wv = wk[ky * p.kernel_w + kx];
          // Output columns whose input column ox*sw - pw + kx lies inside [0, in_w).
          const int dx = kx - p.pad_w;
          int ox_begin = dx >= 0 ? 0 : (-dx + p.stride_w - 1) / p.stride_w;
          int ox_end = (p.in_w - 1 - dx) >= 0 ? (p.in_w - 1 - dx) / p.stride_w + 1 : 0;
          ox_end = std::min(ox_end, p.out_w);
          if (ox_begin >= ox_end) continue;
          for (int oy = 0; oy < p.out_h; ++oy) {
            const int iy = oy * p.stride_h - p.pad_h + ky;
            if (iy < 0 || iy >= p.in_h) continue;
            const float* srow = src + static_cast<long long>(iy) * p.in_w;
            float* drow = dst + static_cast<long long>(oy) * p.out_w;
            if (p.stride_w == 1) {
              for (int ox = ox_begin; ox < ox_end; ++ox) drow[ox] += wv * srow[ox + dx];
            } else {
              for (int ox = ox_begin; ox < ox_end; ++ox) drow[ox] += wv * srow[ox * p.stride_w + dx];
            }
          }
        }
      }
    }
    if (p.activation != Activation::kNone) {
      for (long long i = 0; i < out_plane; ++i) dst[i] = apply_activation(p.activation, p.alpha, dst[i]);
    }
}

}  // namespace

void conv2d_cpu(const Conv2dParams& p, const float* in, const float* weight, const float* bias,
                float* out) {
  // One output channel of one image per index, on the calling thread's
  // share of the pool (core/thread_pool.h).
  parallel_for(p.batch * p.out_channels,
               [&](int job) { conv2d_cpu_channel(p, in, weight, bias, out, job); });
}

}  // namespace tx2yolo
