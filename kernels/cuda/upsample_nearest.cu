// upsample_nearest on the GPU: the op, params and layouts of
// kernels/upsample_nearest.h.
//
//   out[n, off + c, y, x] = in[n, c, floor(y / s), floor(x / s)]
//
// One thread per output element (grid-stride), writing into its slice of a
// wider output (the concat buffer that follows it), so the concat after it
// costs nothing. float or FP16 (__half) storage: a copy, exact either way.
#include <cuda_runtime.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/upsample_nearest.h"

namespace tx2yolo {

namespace {
constexpr int kUpsampleThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kUpsampleThreads) upsample_nearest_kernel(UpsampleNearestParams p, const T* __restrict__ in,
                                        T* __restrict__ out) {
  const int out_h = p.in_h * p.scale, out_w = p.in_w * p.scale;
  const long long total = static_cast<long long>(p.batch) * p.channels * out_h * out_w;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int x = static_cast<int>(i % out_w);
    const int y = static_cast<int>((i / out_w) % out_h);
    const long long nc = i / (static_cast<long long>(out_w) * out_h);
    const int c = static_cast<int>(nc % p.channels);
    const long long n = nc / p.channels;
    const T v = in[(nc * p.in_h + y / p.scale) * p.in_w + x / p.scale];
    out[((n * p.out_channels_total + p.out_channel_offset + c) * out_h + y) * out_w + x] = v;
  }
}

template <typename T>
void upsample_nearest_launch(const UpsampleNearestParams& p, const T* in, T* out, cudaStream_t stream) {
  const long long total = static_cast<long long>(p.batch) * p.channels * p.in_h * p.scale * p.in_w * p.scale;
  if (total == 0) return;
  upsample_nearest_kernel<T><<<cuda::grid_for(total, kUpsampleThreads), kUpsampleThreads, 0, stream>>>(p, in, out);
  CUDA_CHECK_LAUNCH("upsample_nearest_kernel");
}
}  // namespace

void upsample_nearest_cuda(const UpsampleNearestParams& p, const float* in, float* out, cudaStream_t stream) {
  upsample_nearest_launch(p, in, out, stream);
}

void upsample_nearest_cuda(const UpsampleNearestParams& p, const half_t* in, half_t* out, cudaStream_t stream) {
  upsample_nearest_launch(p, reinterpret_cast<const __half*>(in), reinterpret_cast<__half*>(out), stream);
}

}  // namespace tx2yolo
