// Device-only helpers shared by the CUDA kernels (C++14; included from .cu only).
#pragma once

#include <cuda_fp16.h>
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

// Activation storage (float, or __half at FP16 storage): loads widen to
// float, stores round to nearest even. Arithmetic is always float.
__device__ __forceinline__ float load_act(const float* p) { return *p; }
__device__ __forceinline__ float load_act(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ void store_act(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_act(__half* p, float v) { *p = __float2half_rn(v); }

}  // namespace cuda
}  // namespace tx2yolo
