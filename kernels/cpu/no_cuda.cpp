// kernels/device.h for builds without the CUDA backend (TX2YOLO_CUDA=OFF or
// no nvcc found at configure time).
#include "core/error.h"
#include "kernels/device.h"

namespace tx2yolo {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this build of tx2yolo has no CUDA backend (configured without nvcc)"; }
CudaDeviceInfo cuda_device_info(int index) {
  throw Error(cat("CUDA device ", index, " requested, but ", cuda_unavailable_reason()));
}
std::size_t cuda_used_memory(int index) {
  throw Error(cat("CUDA device ", index, " requested, but ", cuda_unavailable_reason()));
}
std::string describe_cuda_device(const CudaDeviceInfo& info) { return info.name; }

}  // namespace tx2yolo
