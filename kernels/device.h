// What the host needs to know about CUDA, usable from plain C++ whether or
// not the CUDA backend was built. Without CUDA, cuda_compiled() is false and
// cuda_device_count() is 0.
#pragma once

#include <cstddef>
#include <string>

namespace tx2yolo {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int sm_major = 0;
  int sm_minor = 0;
  int multiprocessors = 0;
  std::size_t total_memory = 0;
  std::size_t shared_memory_per_block = 0;
  int registers_per_block = 0;
  bool integrated = false;  // shares memory with the CPU (Jetson)
  int runtime_version = 0;  // e.g. 11080 for CUDA 11.8
  int driver_version = 0;
};

// True when this build contains the CUDA backend.
bool cuda_compiled();

// Number of usable CUDA devices; 0 when not compiled, when no driver is
// installed or when no device is present. Never throws.
int cuda_device_count();

// Why cuda_device_count() is 0 ("" when it is not), for messages and test skips.
std::string cuda_unavailable_reason();

// Properties of one device. Throws Error if the index is out of range.
CudaDeviceInfo cuda_device_info(int index);

// Device memory in use on the device, by every process (total minus free,
// cudaMemGetInfo). Throws Error if the index is out of range.
std::size_t cuda_used_memory(int index);
// One line: "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB, CUDA 12.4/driver 12.4)".
std::string describe_cuda_device(const CudaDeviceInfo& info);

}  // namespace tx2yolo
