// Helpers for the GPU tests (tests/*/gpu_*.cpp): skipping without a device,
// and device round trips with poisoned outputs.
#pragma once

#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "kernels/device.h"

#ifdef TX2YOLO_WITH_CUDA
#include "kernels/cuda/device_buffer.h"
#endif

#define SKIP_WITHOUT_GPU()                                                                       \
  do {                                                                                           \
    if (::tx2yolo::cuda_device_count() == 0) GTEST_SKIP() << ::tx2yolo::cuda_unavailable_reason(); \
  } while (0)

namespace tx2yolo {
namespace testing_util {

#ifdef TX2YOLO_WITH_CUDA
inline DeviceBuffer<float> to_device(const std::vector<float>& host) {
  DeviceBuffer<float> d(host.size());
  d.upload(host);
  return d;
}

// A device buffer of n floats, every element NaN, so unwritten outputs fail comparisons.
inline DeviceBuffer<float> poisoned(std::size_t n) {
  DeviceBuffer<float> d(n);
  cuda_fill_f32(d.data(), n, std::numeric_limits<float>::quiet_NaN(), nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  return d;
}

inline std::vector<float> from_device(const DeviceBuffer<float>& d) {
  CUDA_CHECK(cudaDeviceSynchronize());
  return d.download();
}

// FP16 storage: floats rounded to FP16 on the way up, widened on the way
// down; poisoned FP16 buffers hold NaN (0x7e00).
inline DeviceBuffer<half_t> to_device_half(const std::vector<float>& host) {
  std::vector<half_t> h(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) h[i] = to_half(host[i]);
  DeviceBuffer<half_t> d(h.size());
  d.upload(h);
  return d;
}

inline DeviceBuffer<half_t> poisoned_half(std::size_t n) {
  return to_device_half(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()));
}

inline std::vector<float> from_device(const DeviceBuffer<half_t>& d) {
  CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<half_t> h = d.download();
  std::vector<float> out(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) out[i] = to_float(h[i]);
  return out;
}
#endif

}  // namespace testing_util
}  // namespace tx2yolo
