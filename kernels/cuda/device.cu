// Device query and the fill kernel.
//
// fill_f32:  out[i] = value,  i in [0, n).  Grid-stride loop, 256 threads.
#include <cuda_runtime.h>

#include <cstdio>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/device.h"

namespace tx2yolo {

bool cuda_compiled() { return true; }

namespace {
cudaError_t query_count(int* count) {
  *count = 0;
  const cudaError_t err = cudaGetDeviceCount(count);
  if (err != cudaSuccess) {
    *count = 0;
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
  }
  return err;
}
}  // namespace

int cuda_device_count() {
  int count = 0;
  query_count(&count);
  return count;
}

std::string cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t err = query_count(&count);
  if (err != cudaSuccess) return cat("no usable CUDA device (", cudaGetErrorString(err), ")");
  if (count == 0) return "no CUDA device present";
  return "";
}

CudaDeviceInfo cuda_device_info(int index) {
  const int count = cuda_device_count();
  TX2_REQUIRE(index >= 0 && index < count, "CUDA device ", index, " does not exist (", count,
              " device(s) present)");
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  CudaDeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.sm_major = prop.major;
  info.sm_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  info.shared_memory_per_block = prop.sharedMemPerBlock;
  info.registers_per_block = prop.regsPerBlock;
  info.integrated = prop.integrated != 0;
  CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  return info;
}

std::size_t cuda_used_memory(int index) {
  const int count = cuda_device_count();
  TX2_REQUIRE(index >= 0 && index < count, "CUDA device ", index, " does not exist (", count,
              " device(s) present)");
  CUDA_CHECK(cudaSetDevice(index));
  std::size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return total_bytes - free_bytes;
}

std::string describe_cuda_device(const CudaDeviceInfo& info) {
  char mem[32];
  std::snprintf(mem, sizeof(mem), "%.1f GiB", info.total_memory / (1024.0 * 1024.0 * 1024.0));
  return cat(info.name, " (sm_", info.sm_major, info.sm_minor, ", ", info.multiprocessors, " SMs, ",
             mem, info.integrated ? ", integrated" : "", ", CUDA runtime ",
             info.runtime_version / 1000, ".", (info.runtime_version % 1000) / 10, ", driver ",
             info.driver_version / 1000, ".", (info.driver_version % 1000) / 10, ")");
}

namespace {
constexpr int kFillThreads = 256;

__global__ void __launch_bounds__(kFillThreads) fill_f32_kernel(float* out, std::size_t n, float value) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    out[i] = value;
  }
}
}  // namespace

void cuda_fill_f32(float* ptr, std::size_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  const int threads = kFillThreads;
  const std::size_t wanted = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(wanted < 4096 ? wanted : 4096);
  fill_f32_kernel<<<blocks, threads, 0, stream>>>(ptr, n, value);
  CUDA_CHECK_LAUNCH("fill_f32_kernel");
}

}  // namespace tx2yolo
