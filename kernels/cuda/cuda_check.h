// CUDA_CHECK(call): throws tx2yolo::Error naming the call, file and line when a
// CUDA runtime call fails. CUDA_CHECK_LAUNCH(): the same for the last kernel
// launch (cudaGetLastError). Every CUDA call and launch in tx2yolo goes
// through one of them. Host header: includes only the runtime API.
#pragma once

#include <cuda_runtime_api.h>

#include "core/error.h"

namespace tx2yolo {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  // Reset the runtime's last-error state, so that a failure that is not
  // sticky (an allocation that did not fit, a bad argument) is reported once
  // and not again by the next CUDA_CHECK_LAUNCH.
  cudaGetLastError();
  throw Error(cat("CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ") in ", what,
                  " at ", file, ":", line));
}

}  // namespace tx2yolo

#define CUDA_CHECK(call)                                                   \
  do {                                                                     \
    const cudaError_t tx2_cuda_err_ = (call);                              \
    if (tx2_cuda_err_ != cudaSuccess)                                      \
      ::tx2yolo::throw_cuda_error(tx2_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUDA_CHECK_LAUNCH(kernel_name)                                     \
  do {                                                                     \
    const cudaError_t tx2_cuda_err_ = cudaGetLastError();                  \
    if (tx2_cuda_err_ != cudaSuccess)                                      \
      ::tx2yolo::throw_cuda_error(tx2_cuda_err_, "launch of " kernel_name, __FILE__, __LINE__); \
  } while (0)
