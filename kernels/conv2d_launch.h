// Launch geometry of the CUDA conv kernels, as plain C++ (no CUDA needed):
// for given params and kernel, the grid, the block and the shared memory of
// one launch, and how many launches the images are split into. The CUDA
// launchers (kernels/cuda/conv2d.cu, conv2d_wmma.cu, conv2d_dwpw.cu) launch
// exactly this geometry, conv2d_cuda_supports() refuses what does not fit a
// device's limits, and a CPU test runs it for every layer of the three
// full-width architectures at every batch from 1 to kMaxBatch.
//
// CUDA's limits (every GPU since Kepler): grid x <= 2^31 - 1, grid y and z
// <= 65535, at most 1024 threads per block; shared memory per block is
// 48 KiB without opting in (sm_62, the TX2, has no more).
//
// Grid z holds images (times groups, times split-K ranges, or times channels
// for the depthwise kernel). Where a batch does not fit in 65535, the
// launcher runs the kernel once per chunk of images with the pointers moved
// along the batch (images are independent): `launches` chunks of at most
// `images_per_launch` images. One image that does not fit alone is refused.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/conv2d_dwpw.h"

namespace tx2yolo {

// The tiles of each conv kernel, the one source for the kernels and their
// geometry.
namespace conv2d_tiles {
// gemm64 / gemm32 / split-K: BM (output channels) x BN (pixels) x 16 (k),
// a 4x4 register tile per thread; A rows padded by 4 floats.
constexpr int kGemmBK = kConv2dGemmStepK;
constexpr int kGemmPadA = 4;
constexpr int gemm_threads(int bm, int bn) { return (bm / 4) * (bn / 4); }
constexpr std::size_t gemm_shared_bytes(int bm, int bn) {
  return sizeof(float) * static_cast<std::size_t>(kGemmBK) * static_cast<std::size_t>((bm + kGemmPadA) + bn);
}
// gemm128: 128 x 64 x 8, 8x8 per thread, two shared buffers.
constexpr int kLargeBM = 128, kLargeBN = 64, kLargeBK = 8, kLargeThreads = 128, kLargePadA = 4;
// gemm64-half2: 64 x 64 x 16 in FP16 tiles, rows padded by 8 halves.
constexpr int kHalf2BM = 64, kHalf2BN = 64, kHalf2BK = 16, kHalf2Threads = 256, kHalf2Pad = 8;
// wmma-fp16: 64 x 64 x 32, 4 warps; FP16 A and B tiles, an FP32 C tile.
constexpr int kWmmaBM = 64, kWmmaBN = 64, kWmmaBK = 32, kWmmaThreads = 128;
constexpr int kWmmaLdA = kWmmaBK + 8, kWmmaLdB = kWmmaBN + 8, kWmmaLdC = kWmmaBN + 4;
// depthwise: an 8 x 32 output tile of one channel per block; the input tile
// in dynamic shared memory, at most kDepthwiseMaxDynamicShared bytes.
constexpr int kDepthwiseTileH = 8, kDepthwiseTileW = 32, kDepthwiseMaxKernel = 7;
constexpr int kDepthwiseThreads = kDepthwiseTileH * kDepthwiseTileW;
constexpr std::size_t kDepthwiseMaxDynamicShared = 32 * 1024;
// dwpw-fused: 64 output channels x 64 pixels, 16 depthwise channels per step.
constexpr int kDwPwBM = 64, kDwPwBN = 64, kDwPwBK = 16, kDwPwPadA = 4;
constexpr int kDwPwThreads = (kDwPwBM / 4) * (kDwPwBN / 4);
}  // namespace conv2d_tiles

struct CudaLaunchLimits {
  long long max_grid_x = 2147483647LL;
  long long max_grid_yz = 65535;
  int max_threads = 1024;
  std::size_t max_shared_bytes = 48 * 1024;  // per block, without opting in; the TX2's too
};

struct LaunchGeometry {
  bool fits = false;     // within the limits (then the fields below are the launch)
  std::string why;       // what does not fit, when !fits
  long long grid_x = 0, grid_y = 0, grid_z = 0;  // of one launch
  int threads = 0;
  std::size_t static_shared_bytes = 0;
  std::size_t dynamic_shared_bytes = 0;
  int images_per_launch = 0;
  int launches = 0;  // ceil(batch / images_per_launch)
};

// The geometry of `kernel` on `p` (finalized), with `splits` split-K ranges
// (kGemmSplitK; 1 for every other kernel). The cudnn tactic launches only
// its epilogue (a grid-stride kernel), and kAuto is no kernel: both return
// fits with launches 1 and no grid. Never throws.
LaunchGeometry conv2d_cuda_geometry(const Conv2dParams& p, Conv2dCudaKernel kernel, int splits = 1,
                                    const CudaLaunchLimits& limits = CudaLaunchLimits());
// The fused depthwise + pointwise kernel's geometry.
LaunchGeometry conv2d_dwpw_geometry(const Conv2dDwPwParams& p, const CudaLaunchLimits& limits = CudaLaunchLimits());

// The depthwise kernel's dynamic shared memory: its input tile, in bytes.
std::size_t conv2d_depthwise_shared_bytes(const Conv2dParams& p);

}  // namespace tx2yolo
