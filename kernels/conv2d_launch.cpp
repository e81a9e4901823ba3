#include "kernels/conv2d_launch.h"

#include <algorithm>

#include "core/error.h"

namespace tx2yolo {

namespace {

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

// Fills the launch split of `g` for `batch` images, each taking `z_per_image`
// of grid z, and checks every limit.
LaunchGeometry finish(LaunchGeometry g, int batch, long long z_per_image, const CudaLaunchLimits& limits) {
  g.fits = false;
  if (batch < 1 || z_per_image < 1 || g.grid_x < 1 || g.grid_y < 1) {
    g.why = "empty launch";
    return g;
  }
  if (z_per_image > limits.max_grid_yz) {
    g.why = cat("one image needs grid z ", z_per_image, " > ", limits.max_grid_yz);
    return g;
  }
  g.images_per_launch = static_cast<int>(std::min<long long>(batch, limits.max_grid_yz / z_per_image));
  g.launches = static_cast<int>(ceil_div(batch, g.images_per_launch));
  g.grid_z = z_per_image * g.images_per_launch;
  if (g.grid_x > limits.max_grid_x) {
    g.why = cat("grid x ", g.grid_x, " > ", limits.max_grid_x);
  } else if (g.grid_y > limits.max_grid_yz) {
    g.why = cat("grid y ", g.grid_y, " > ", limits.max_grid_yz);
  } else if (g.threads < 1 || g.threads > limits.max_threads) {
    g.why = cat(g.threads, " threads per block (at most ", limits.max_threads, ")");
  } else if (g.static_shared_bytes + g.dynamic_shared_bytes > limits.max_shared_bytes) {
    g.why = cat(g.static_shared_bytes + g.dynamic_shared_bytes, " bytes of shared memory per block (at most ",
                limits.max_shared_bytes, ")");
  } else {
    g.fits = true;
  }
  return g;
}

}  // namespace

std::size_t conv2d_depthwise_shared_bytes(const Conv2dParams& p) {
  using namespace conv2d_tiles;
  const long long rows = static_cast<long long>(kDepthwiseTileH - 1) * p.stride_h + p.kernel_h;
  const long long cols = static_cast<long long>(kDepthwiseTileW - 1) * p.stride_w + p.kernel_w;
  return static_cast<std::size_t>(rows * cols) * sizeof(float);
}

LaunchGeometry conv2d_cuda_geometry(const Conv2dParams& p, Conv2dCudaKernel kernel, int splits,
                                    const CudaLaunchLimits& limits) {
  using namespace conv2d_tiles;
  LaunchGeometry g;
  if (kernel == Conv2dCudaKernel::kAuto || conv2d_cuda_kernel_is_cudnn(kernel)) {
    g.fits = true;
    g.images_per_launch = p.batch;
    g.launches = 1;
    return g;
  }
  const long long pixels = static_cast<long long>(p.out_h) * p.out_w;
  const long long cout_g = p.groups > 0 ? p.out_channels / p.groups : 0;
  long long z_per_image = static_cast<long long>(p.groups);
  switch (kernel) {
    case Conv2dCudaKernel::kGemm:
    case Conv2dCudaKernel::kGemmSplitK:
      g.grid_x = ceil_div(pixels, 64);
      g.grid_y = ceil_div(cout_g, 64);
      g.threads = gemm_threads(64, 64);
      g.static_shared_bytes = gemm_shared_bytes(64, 64);
      if (kernel == Conv2dCudaKernel::kGemmSplitK) z_per_image *= std::max(1, splits);
      break;
    case Conv2dCudaKernel::kGemmSmall:
      g.grid_x = ceil_div(pixels, 32);
      g.grid_y = ceil_div(cout_g, 32);
      g.threads = gemm_threads(32, 32);
      g.static_shared_bytes = gemm_shared_bytes(32, 32);
      break;
    case Conv2dCudaKernel::kGemmLarge:
      g.grid_x = ceil_div(pixels, kLargeBN);
      g.grid_y = ceil_div(cout_g, kLargeBM);
      g.threads = kLargeThreads;
      g.static_shared_bytes = sizeof(float) * 2 * kLargeBK * ((kLargeBM + kLargePadA) + kLargeBN);
      break;
    case Conv2dCudaKernel::kGemmHalf2:
      g.grid_x = ceil_div(pixels, kHalf2BN);
      g.grid_y = ceil_div(cout_g, kHalf2BM);
      g.threads = kHalf2Threads;
      g.static_shared_bytes = 2 * kHalf2BK * ((kHalf2BM + kHalf2Pad) + (kHalf2BN + kHalf2Pad));  // halves
      break;
    case Conv2dCudaKernel::kWmmaFp16:
      g.grid_x = ceil_div(pixels, kWmmaBN);
      g.grid_y = ceil_div(cout_g, kWmmaBM);
      g.threads = kWmmaThreads;
      g.static_shared_bytes = 2 * (kWmmaBM * kWmmaLdA + kWmmaBK * kWmmaLdB) + sizeof(float) * kWmmaBM * kWmmaLdC;
      break;
    case Conv2dCudaKernel::kDepthwise:
      g.grid_x = ceil_div(p.out_w, kDepthwiseTileW);
      g.grid_y = ceil_div(p.out_h, kDepthwiseTileH);
      g.threads = kDepthwiseThreads;
      // The taps' weights, rounded up to the 16-byte alignment ptxas gives them.
      g.static_shared_bytes = (sizeof(float) * kDepthwiseMaxKernel * kDepthwiseMaxKernel + 15) / 16 * 16;
      g.dynamic_shared_bytes = conv2d_depthwise_shared_bytes(p);
      z_per_image = p.in_channels;
      if (g.dynamic_shared_bytes > kDepthwiseMaxDynamicShared) {
        g.why = cat("input tile of ", g.dynamic_shared_bytes, " bytes (at most ", kDepthwiseMaxDynamicShared, ")");
        return g;
      }
      break;
    default:
      g.why = "no such kernel";
      return g;
  }
  return finish(g, p.batch, z_per_image, limits);
}

LaunchGeometry conv2d_dwpw_geometry(const Conv2dDwPwParams& p, const CudaLaunchLimits& limits) {
  using namespace conv2d_tiles;
  LaunchGeometry g;
  g.grid_x = ceil_div(static_cast<long long>(p.dw.out_h) * p.dw.out_w, kDwPwBN);
  g.grid_y = ceil_div(p.pw.out_channels, kDwPwBM);
  g.threads = kDwPwThreads;
  g.static_shared_bytes = sizeof(float) * kDwPwBK * ((kDwPwBM + kDwPwPadA) + kDwPwBN);
  return finish(g, p.dw.batch, 1, limits);
}

const char* conv2d_cuda_kernel_name(Conv2dCudaKernel kernel) {
  switch (kernel) {
    case Conv2dCudaKernel::kAuto: return "auto";
    case Conv2dCudaKernel::kGemm: return "gemm64";
    case Conv2dCudaKernel::kGemmSmall: return "gemm32";
    case Conv2dCudaKernel::kGemmLarge: return "gemm128";
    case Conv2dCudaKernel::kGemmSplitK: return "gemm64-splitk";
    case Conv2dCudaKernel::kWmmaFp16: return "wmma-fp16";
    case Conv2dCudaKernel::kGemmHalf2: return "gemm64-half2";
    case Conv2dCudaKernel::kDepthwise: return "depthwise";
    case Conv2dCudaKernel::kCudnn: return "cudnn";
    case Conv2dCudaKernel::kCudnnFp16: return "cudnn-fp16";
  }
  return "?";
}

bool conv2d_cuda_kernel_from_name(const std::string& name, Conv2dCudaKernel* kernel) {
  for (Conv2dCudaKernel k : kConv2dCudaTactics) {
    if (name == conv2d_cuda_kernel_name(k)) {
      *kernel = k;
      return true;
    }
  }
  return false;
}

}  // namespace tx2yolo
