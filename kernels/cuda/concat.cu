// concat on the GPU: the op, params and layouts of kernels/concat.h.
//
//   out[n, off_i + c, y, x] = in_i[n, c, y, x],  off_i = sum_{j < i} C_j
//
// The CUDA backend normally makes concat free: each producer writes into its
// channel slice of the concat buffer. This copy kernel is for the cases that
// cannot alias (batch > 1, or an input that is also read elsewhere in a way
// the planner cannot place). One thread per element, grid-stride. float or
// FP16 (__half) storage: a copy, exact either way.
#include <cuda_runtime.h>

#include "kernels/concat.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"

namespace tx2yolo {

namespace {
template <typename T>
struct ConcatInputs {
  const T* ptr[kMaxConcatInputs];
};

constexpr int kConcatThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kConcatThreads) concat_kernel(ConcatParams p, ConcatInputs<T> inputs, int total_channels, T* __restrict__ out) {
  const long long plane = static_cast<long long>(p.height) * p.width;
  const long long total = static_cast<long long>(p.batch) * total_channels * plane;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long pix = i % plane;
    int c = static_cast<int>((i / plane) % total_channels);
    const long long n = i / (plane * total_channels);
    int k = 0;
    while (c >= p.channels[k]) c -= p.channels[k++];
    out[i] = inputs.ptr[k][(n * p.channels[k] + c) * plane + pix];
  }
}

template <typename T>
void concat_launch(const ConcatParams& p, const T* const* inputs, T* out, cudaStream_t stream) {
  const int total_channels = concat_output_channels(p);
  ConcatInputs<T> in{};
  for (int i = 0; i < p.num_inputs; ++i) in.ptr[i] = inputs[i];
  const long long total = static_cast<long long>(p.batch) * total_channels * p.height * p.width;
  concat_kernel<T><<<cuda::grid_for(total, kConcatThreads), kConcatThreads, 0, stream>>>(p, in, total_channels, out);
  CUDA_CHECK_LAUNCH("concat_kernel");
}
}  // namespace

void concat_cuda(const ConcatParams& p, const float* const* inputs, float* out, cudaStream_t stream) {
  concat_launch(p, inputs, out, stream);
}

void concat_cuda(const ConcatParams& p, const half_t* const* inputs, half_t* out, cudaStream_t stream) {
  concat_launch(p, reinterpret_cast<const __half* const*>(inputs), reinterpret_cast<__half*>(out), stream);
}

}  // namespace tx2yolo
