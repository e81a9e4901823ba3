// The "cudnn" tactic of conv2d (kernels/conv2d.h, Conv2dCudaKernel::kCudnn):
//
//   y = cudnnConvolutionForward(x, w)        (FP32 data and arithmetic, FMA
//                                            math only: no TF32, no FP16)
//   out = act(y + bias[co])                  (conv2d_bias_activation_cuda, a
//                                            kernel of kernels/cuda/conv2d.cu)
//
// Layouts are conv2d's: x [N, C_in, H, W], w [C_out, C_in/groups, Kh, Kw]
// (cuDNN's NCHW filter with a group count), out [N, out_channels_total, Ho,
// Wo] of which channels [offset, offset + C_out) are written; at batch 1 that
// slice is a packed tensor, at batch > 1 a slice is not offered.
//
// cuDNN is loaded at run time (dlopen of libcudnn.so.<the major version of
// the cudnn.h it was compiled with>), never linked: a machine without it
// simply has no cudnn tactic, and tx2yolo still starts. The algorithm is
// cuDNN's own first choice (cudnnGetConvolutionForwardAlgorithm_v7) among
// those using FMA math and at most 256 MiB of workspace, per shape and
// device; the engine then times it against the hand-written kernels.
// One handle per device (shared by threads under a mutex) lives until the process ends.
//
// The "cudnn-fp16" tactic (Conv2dCudaKernel::kCudnnFp16) is the same on FP16
// activation storage:
//
//   w16 = fp16(w)                            (conv2d_weights_to_half_cuda, into
//                                            the workspace, at every call)
//   y16 = fp16(cudnnConvolutionForward(x16, w16))   (FP16 data, FP32
//                                            accumulation: CUDNN_DATA_FLOAT
//                                            compute; tensor-op math allowed)
//   out = fp16(act(float(y16) + bias[co]))   (the half overload of
//                                            conv2d_bias_activation_cuda)
//
// Workspace: cuDNN's own, rounded up to 256 bytes, then the FP16 weights.
// Never run on a GPU (written after the 2026-12-04 speed run): engine/
// verification.h keeps it behind --unverified.
// Host code only (no cudnn.h in the device code the sm_62 check compiles).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "core/half.h"
#include "kernels/conv2d.h"

namespace tx2yolo {

// Whether cuDNN is usable in this build on this machine; *why says why not.
bool conv2d_cudnn_available(std::string* why = nullptr);
// The major version of the cudnn.h this was built with (the libcudnn.so.<it>
// that is opened); 0 when built without cudnn.h.
int conv2d_cudnn_header_major();
// Whether the tactic can run p (cuDNN loaded, and an FMA algorithm within
// the workspace cap exists for p on the current device).
bool conv2d_cudnn_supports(const Conv2dParams& p);
// The workspace p needs on the current device, in floats. Also makes the
// per-shape plan and this thread's handle, so that a later conv2d_cudnn()
// allocates nothing (it may then be captured in a CUDA graph).
std::size_t conv2d_cudnn_workspace_floats(const Conv2dParams& p);
void conv2d_cudnn(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out,
                  cudaStream_t stream, float* workspace);

// cudnn-fp16: the same three on FP16 activation storage.
bool conv2d_cudnn_fp16_supports(const Conv2dParams& p);
std::size_t conv2d_cudnn_fp16_workspace_floats(const Conv2dParams& p);
void conv2d_cudnn_fp16(const Conv2dParams& p, const half_t* in, const float* weight, const float* bias, half_t* out,
                       cudaStream_t stream, float* workspace);

// out[n, offset + c, :, :] = act(out[...] + bias[c]) for c < out_channels, in
// place (bias may be null), in FP32 (the FP16 overload converts each value
// and rounds the result once). kernels/cuda/conv2d.cu.
void conv2d_bias_activation_cuda(const Conv2dParams& p, const float* bias, float* out, cudaStream_t stream);
void conv2d_bias_activation_cuda(const Conv2dParams& p, const float* bias, half_t* out, cudaStream_t stream);
// out[i] = fp16(w[i]) (round to nearest even), i < count. kernels/cuda/conv2d.cu.
void conv2d_weights_to_half_cuda(const float* w, std::size_t count, half_t* out, cudaStream_t stream);

}  // namespace tx2yolo
