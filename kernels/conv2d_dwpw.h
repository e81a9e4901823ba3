// conv2d_dwpw: a depthwise conv and the pointwise conv that consumes it, as
// one op whose intermediate tensor is never stored (the speed issue's
// depthwise + pointwise fusion, for MobileNet's separable blocks).
//
//   mid[n, c, y, x] = round_S( act_dw( dw_bias[c] + sum_{ky, kx}
//        dw_w[c, 0, ky, kx] * in[n, c, y*sh - ph + ky, x*sw - pw + kx] ) )
//   out[n, off + co, y, x] = act_pw( pw_bias[co] + sum_c pw_w[co, c] * mid[n, c, y, x] )
//
// round_S is the activation storage's rounding (none at FP32, round to
// nearest-even FP16 at FP16 storage), so the fused op computes what the two
// convs compute when the intermediate tensor is stored.
//
// Layouts (row-major; weights, biases and arithmetic FP32): in [N, C, H, W];
// dw_w [C, 1, Kh, Kw]; dw_bias [C] or null; pw_w [C_out, C, 1, 1]; pw_bias
// [C_out] or null; out [N, out_channels_total, Ho, Wo] of which channels
// [pw.out_channel_offset, + C_out) are written (a concat slice, as conv2d).
#pragma once

#include <string>

#include "core/half.h"
#include "kernels/conv2d.h"

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tx2yolo {

struct Conv2dDwPwParams {
  Conv2dParams dw;  // finalized; depthwise, writing a whole tensor
  Conv2dParams pw;  // finalized; 1x1, stride 1, pad 0, groups 1, reading dw's output
};

// Whether the pair chains and has the shapes the fused op takes (dw:
// groups == C_in == C_out, kernel at most 7x7, no output slice; pw:
// pointwise, C_in == dw's C_out, the same batch and map size); *why says
// what does not fit.
bool conv2d_dwpw_fusable(const Conv2dParams& dw, const Conv2dParams& pw, std::string* why = nullptr);

// The reference: conv2d_cpu of dw into a temporary, then of pw (FP32, so
// round_S is the identity). Throws Error if the pair is not fusable.
void conv2d_dwpw_cpu(const Conv2dDwPwParams& p, const float* in, const float* dw_w, const float* dw_b,
                     const float* pw_w, const float* pw_b, float* out);

#ifdef TX2YOLO_WITH_CUDA
// kernels/cuda/conv2d_dwpw.cu. Device pointers; checks the launch.
void conv2d_dwpw_cuda(const Conv2dDwPwParams& p, const float* in, const float* dw_w, const float* dw_b,
                      const float* pw_w, const float* pw_b, float* out, cudaStream_t stream);
// FP16 activation storage: in, out (and the rounding of mid) FP16.
void conv2d_dwpw_cuda(const Conv2dDwPwParams& p, const half_t* in, const float* dw_w, const float* dw_b,
                      const float* pw_w, const float* pw_b, half_t* out, cudaStream_t stream);
#endif

}  // namespace tx2yolo
