// concat: channel concatenation (Paddle concat, axis = 1), inputs in order.
//
//   out[n, off_i + c, y, x] = in_i[n, c, y, x],  off_i = sum_{j < i} C_j
//
// Layouts (fp32): in_i [N, C_i, H, W]; out [N, sum C_i, H, W].
// YOLOv3FPN concatenates [upsampled route, backbone feature] in that order
// (shared/research/paddle-semantics.md §2). The CUDA path makes concat
// zero-copy by letting producers write at their channel offset; this
// reference copies.
#pragma once

#include "core/half.h"

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tx2yolo {

constexpr int kMaxConcatInputs = 8;

struct ConcatParams {
  int batch = 1;
  int height = 0;
  int width = 0;
  int num_inputs = 0;
  int channels[kMaxConcatInputs] = {};
};

// Sum of the input channel counts. Validates the params (throws Error).
int concat_output_channels(const ConcatParams& p);

// inputs: num_inputs pointers, each [N, channels[i], H, W].
void concat_cpu(const ConcatParams& p, const float* const* inputs, float* out);

#ifdef TX2YOLO_WITH_CUDA
// kernels/cuda/concat.cu; `inputs` is a host array of device pointers.
void concat_cuda(const ConcatParams& p, const float* const* inputs, float* out, cudaStream_t stream);
// The same on FP16 storage (core/half.h).
void concat_cuda(const ConcatParams& p, const half_t* const* inputs, half_t* out, cudaStream_t stream);
#endif

}  // namespace tx2yolo
