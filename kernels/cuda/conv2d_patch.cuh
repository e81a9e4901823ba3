// The implicit-GEMM B operand shared by the conv2d kernels that stage a fixed
// output pixel per thread (gemm128, gemm64-half2, wmma-fp16; C++14, included
// from .cu only): the input value at reduction index k = (ci, ky, kx) for
// output pixel `pix`, with the pixel's input origin computed once.
#pragma once

#include "kernels/conv2d.h"
#include "kernels/cuda/common.cuh"

namespace tx2yolo {
namespace cuda {

struct ConvPatch {
  int iy0 = 0, ix0 = 0;
  bool valid = false;  // pix is an output pixel (not past the last one)

  __device__ ConvPatch(const Conv2dParams& p, int pix) {
    valid = pix < p.out_h * p.out_w;
    const int oy = valid ? pix / p.out_w : 0, ox = valid ? pix % p.out_w : 0;
    iy0 = oy * p.stride_h - p.pad_h;
    ix0 = ox * p.stride_w - p.pad_w;
  }

  // in_g: channel 0 of the image's group, [C_in/groups, H_in, W_in]; khw =
  // K_h * K_w; K = C_in/groups * khw. 0 for k >= K, an invalid pixel, or the
  // zero padding.
  template <bool kPointwise, typename T>
  __device__ float value(const Conv2dParams& p, const T* in_g, long long in_plane, int khw, int K, int k,
                         int pix) const {
    if (k >= K || !valid) return 0.f;
    if (kPointwise) return load_act(in_g + static_cast<long long>(k) * in_plane + pix);
    const int ci = k / khw, r = k - ci * khw;
    const int ky = r / p.kernel_w, kx = r - ky * p.kernel_w;
    const int iy = iy0 + ky, ix = ix0 + kx;
    if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) return 0.f;
    return load_act(in_g + static_cast<long long>(ci) * in_plane + static_cast<long long>(iy) * p.in_w + ix);
  }
};

}  // namespace cuda
}  // namespace tx2yolo
