// Device-only helpers shared by the CUDA kernels (C++14; included from .cu only).
#pragma once

#include <cuda_runtime.h>

#include "core/activation.h"

namespace tx2yolo {
namespace cuda {

__host__ __device__ inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
__host__ __device__ inline long long ceil_div_ll(long long a, long long b) { return (a + b - 1) / b; }

// Grid of 1-D blocks covering n items, capped so that grid-stride loops take over.
inline unsigned grid_for(long long n, int threads, unsigned cap = 65535u * 8u) {
  const long long blocks = ceil_div_ll(n, threads);
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace cuda
}  // namespace tx2yolo
