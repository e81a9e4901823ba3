// upsample_nearest: integer-factor nearest-neighbour upsampling, Paddle's
// nearest_interp_v2 with align_corners = false (F.interpolate default).
//
//   out[n, c, y, x] = in[n, c, floor(y / s), floor(x / s)]
//
// For s = 2 this is exactly Paddle's src = int(0.5f * k)
// (shared/research/paddle-semantics.md §6.1): each input pixel becomes an
// s x s block.
//
// Layouts (fp32, row-major):
//   in  [N, C, H, W]
//   out [N, out_channels_total, H*s, W*s]; this op writes channels
//       [out_channel_offset, out_channel_offset + C), so the upsampled route
//       can land directly in its slice of the following concat.
#pragma once

#include "core/half.h"

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tx2yolo {

struct UpsampleNearestParams {
  int batch = 1;
  int channels = 0;
  int in_h = 0;
  int in_w = 0;
  int scale = 2;
  int out_channel_offset = 0;
  int out_channels_total = 0;  // 0 means channels
};

// Validates and fills out_channels_total. Throws Error.
void finalize_upsample_nearest_params(UpsampleNearestParams& p);

void upsample_nearest_cpu(const UpsampleNearestParams& p, const float* in, float* out);

#ifdef TX2YOLO_WITH_CUDA
// kernels/cuda/upsample_nearest.cu; device pointers; checks the launch.
void upsample_nearest_cuda(const UpsampleNearestParams& p, const float* in, float* out, cudaStream_t stream);
// The same on FP16 storage (core/half.h).
void upsample_nearest_cuda(const UpsampleNearestParams& p, const half_t* in, half_t* out, cudaStream_t stream);
#endif

}  // namespace tx2yolo
