// The tensor-core tactic of conv2d (kernels/conv2d.h, Conv2dCudaKernel::kWmmaFp16),
// internal to kernels/cuda: conv2d.cu dispatches to it. See conv2d_wmma.cu.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/conv2d.h"
#include "kernels/conv2d_launch.h"

namespace tx2yolo {

// Whether the current device has tensor cores that WMMA FP16 can use (sm_70 and later).
bool conv2d_wmma_available();

// T: float or __half activations (in and out); weights and bias FP32.
// `g`: conv2d_cuda_geometry(p, kWmmaFp16), which must fit.
template <typename T>
void conv2d_wmma_cuda(const Conv2dParams& p, const LaunchGeometry& g, const T* in, const float* weight,
                      const float* bias, T* out, cudaStream_t stream);

}  // namespace tx2yolo
