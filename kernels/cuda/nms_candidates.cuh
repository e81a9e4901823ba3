// The candidate keys of the GPU NMS, shared by its own collect kernel and by
// the YOLO decode, which appends candidates as it computes scores.
//   key = class << 54 | (0xFFFFFFFF - float_bits(score)) << 22 | m
// Ascending keys: class ascending, score descending, box index ascending.
#pragma once

#include <cuda_runtime.h>

#include "kernels/multiclass_nms.h"

namespace tx2yolo {
namespace cuda {

__device__ inline unsigned long long nms_key(int c, float score, int m) {
  return (static_cast<unsigned long long>(c) << 54) |
         (static_cast<unsigned long long>(0xFFFFFFFFu - __float_as_uint(score)) << 22) |
         static_cast<unsigned long long>(m);
}

// Appends (c, score, m) when it is a candidate: score > threshold (strict;
// NaN never) and c is not the background label. Past the capacity the
// candidate is only counted.
__device__ inline void nms_offer(const NmsCandidateSink& sink, int c, float score, int m) {
  if (c == sink.background || !(score > sink.score_threshold)) return;
  const int slot = atomicAdd(sink.counter, 1);
  if (slot < sink.capacity) sink.keys[slot] = nms_key(c, score, m);
}

}  // namespace cuda
}  // namespace tx2yolo
