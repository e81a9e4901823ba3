// Device-only helpers shared by the CUDA kernels (C++14; included from .cu only).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>

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

// The current device's compute capability (e.g. 62) when the code of
// `kernel` that the runtime loaded for it is at least `min_cc` code (both
// its PTX and binary versions: a build whose targets are all older has its
// PTX JIT-compiled, and kernels that guard their body by __CUDA_ARCH__ are
// empty there); else 0, and 0 without a device (the error is cleared).
// `cache` remembers the answer per device (one array per kernel and minimum):
// conv2d_cuda asks at every launch.
inline int device_cc_if_code_at_least(const void* kernel, int min_cc, std::atomic<int> (&cache)[64]) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  const bool cacheable = device >= 0 && device < 64;
  if (cacheable && cache[device].load() != 0) return cache[device].load() - 1;
  int major = 0, minor = 0, result = 0;
  cudaFuncAttributes attr{};
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess ||
      (major * 10 + minor >= min_cc && cudaFuncGetAttributes(&attr, kernel) != cudaSuccess)) {
    (void)cudaGetLastError();
  } else {
    const int cc = major * 10 + minor;
    result = cc >= min_cc && attr.ptxVersion >= min_cc && attr.binaryVersion >= min_cc ? cc : 0;
  }
  if (cacheable) cache[device].store(result + 1);
  return result;
}

// Activation storage (float, or __half at FP16 storage): loads widen to
// float, stores round to nearest even. Arithmetic is always float.
__device__ __forceinline__ float load_act(const float* p) { return *p; }
__device__ __forceinline__ float load_act(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ void store_act(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_act(__half* p, float v) { *p = __float2half_rn(v); }

}  // namespace cuda
}  // namespace tx2yolo
