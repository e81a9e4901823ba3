// CPU reference for upsample_nearest (formula in kernels/upsample_nearest.h).
#include "kernels/upsample_nearest.h"

#include "core/thread_pool.h"

#include "core/error.h"

namespace tx2yolo {

void finalize_upsample_nearest_params(UpsampleNearestParams& p) {
  TX2_REQUIRE(p.batch > 0 && p.channels > 0 && p.in_h > 0 && p.in_w > 0,
              "upsample_nearest: sizes must be positive (", p.batch, "x", p.channels, "x", p.in_h,
              "x", p.in_w, ")");
  TX2_REQUIRE(p.scale >= 1, "upsample_nearest: scale must be a positive integer, got ", p.scale);
  if (p.out_channels_total == 0) p.out_channels_total = p.channels;
  TX2_REQUIRE(p.out_channel_offset >= 0 && p.out_channel_offset + p.channels <= p.out_channels_total,
              "upsample_nearest: output slice [", p.out_channel_offset, ", ",
              p.out_channel_offset + p.channels, ") does not fit in ", p.out_channels_total,
              " channels");
}

void upsample_nearest_cpu(const UpsampleNearestParams& p, const float* in, float* out) {
  const int out_h = p.in_h * p.scale;
  const int out_w = p.in_w * p.scale;
  const long long in_plane = static_cast<long long>(p.in_h) * p.in_w;
  const long long out_plane = static_cast<long long>(out_h) * out_w;
  const int total = p.batch * p.channels;
  parallel_for(total, [&](int job) {
    const int n = job / p.channels;
    const int c = job % p.channels;
    const float* src = in + static_cast<long long>(job) * in_plane;
    float* dst = out + (static_cast<long long>(n) * p.out_channels_total + p.out_channel_offset + c) * out_plane;
    for (int y = 0; y < out_h; ++y) {
      const float* srow = src + static_cast<long long>(y / p.scale) * p.in_w;
      float* drow = dst + static_cast<long long>(y) * out_w;
      for (int x = 0; x < out_w; ++x) drow[x] = srow[x / p.scale];
    }
  });
}

}  // namespace tx2yolo
