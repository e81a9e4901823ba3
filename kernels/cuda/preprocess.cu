// preprocess on the GPU: the steps of kernels/preprocess.h (PaddleDetection's
// Decode -> Resize(interp 2) -> NormalizeImage -> Permute) for one image.
//
//   uint8 BGR HWC [src_h, src_w, 3] -> bicubic resize to [dst_h, dst_w] as
//   cv::resize(INTER_CUBIC, fx = dst_w/src_w, fy = dst_h/src_h) does on uint8
//   -> RGB (swap_rb) -> a = p * f32(scale); b = f32(a - mean); x = f32(b / std)
//   -> float NCHW [3, dst_h, dst_w].
//
// The resize follows OpenCV's resizeGeneric_ for 8-bit cubic: for output x,
// f = float((x + 0.5) / fx - 0.5), s = floor(f), t = f - s; taps s-1..s+2
// clamped to the image (replicate border); weights from the cubic with
// A = -0.75 in float, turned into shorts scaled by 2048 (rounded). The
// horizontal pass sums in int exactly like OpenCV's fixed-point HResizeCubic.
// The vertical pass is OpenCV's SIMD one (VResizeCubicVec_32s8u): float
// weights beta/2048^2, a float sum, rounded to nearest and saturated to uint8.
// OpenCV finishes each row's last few pixels with its scalar fixed-point
// path, and its float sum may be fused differently, so a resized level can
// differ from cv::resize by 1 (documented tolerance: at most +-1 level; the
// GPU test measures how many differ). One thread per output pixel, all three
// channels; the tap tables are computed on the host and cached per size.
// The source is a device copy of the image, or (zero_copy) the page-locked
// staging buffer itself, read in place through its mapped device address.
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/preprocess.h"

namespace tx2yolo {

namespace {

constexpr int kCoefScale = 2048;  // INTER_RESIZE_COEF_SCALE

struct Taps {
  int first;        // s - 1, unclamped
  short weight[4];  // fixed-point weights, sum ~ 2048
};

// OpenCV's interpolateCubic, in float.
void cubic_weights(float x, float w[4]) {
  const float A = -0.75f;
  w[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  w[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  w[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  w[3] = 1.f - w[0] - w[1] - w[2];
}

std::vector<Taps> make_taps(int dst, double inv_scale) {
  const double scale = 1.0 / inv_scale;
  std::vector<Taps> taps(static_cast<std::size_t>(dst));
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    const int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    float w[4];
    cubic_weights(f, w);
    taps[static_cast<std::size_t>(d)].first = s - 1;
    for (int k = 0; k < 4; ++k) {
      const long r = std::lrint(w[k] * kCoefScale);  // cvRound: nearest, ties to even
      taps[static_cast<std::size_t>(d)].weight[k] = static_cast<short>(r < -32768 ? -32768 : (r > 32767 ? 32767 : r));
    }
  }
  return taps;
}

struct Normalize {
  float scale;
  double mean[3];
  double std[3];
  int swap_rb;
};

__device__ inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

constexpr int kPreprocessBlockX = 32;
constexpr int kPreprocessBlockY = 8;

template <typename T>
__global__ void __launch_bounds__(kPreprocessBlockX * kPreprocessBlockY) preprocess_kernel(const unsigned char* __restrict__ src, int src_h, int src_w, int dst_h,
                                  int dst_w, const Taps* __restrict__ xtaps, const Taps* __restrict__ ytaps,
                                  Normalize norm, T* __restrict__ out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= dst_w || y >= dst_h) return;
  const Taps tx = xtaps[x], ty = ytaps[y];
  int sx[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) sx[k] = clampi(tx.first + k, 0, src_w - 1) * 3;
  const float inv = 1.f / (static_cast<float>(kCoefScale) * kCoefScale);
  float beta[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) beta[k] = static_cast<float>(ty.weight[k]) * inv;
  const long long plane = static_cast<long long>(dst_h) * dst_w;
#pragma unroll
  for (int c = 0; c < 3; ++c) {  // c: BGR channel of the source
    float sum = 0.f;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const unsigned char* row = src + static_cast<long long>(clampi(ty.first + r, 0, src_h - 1)) * src_w * 3;
      int h = 0;
#pragma unroll
      for (int k = 0; k < 4; ++k) h += static_cast<int>(row[sx[k] + c]) * tx.weight[k];
      sum += static_cast<float>(h) * beta[r];
    }
    int level = __float2int_rn(sum);
    level = clampi(level, 0, 255);
    const int out_c = norm.swap_rb ? 2 - c : c;
    const float a = static_cast<float>(level) * norm.scale;
    const float b = static_cast<float>(static_cast<double>(a) - norm.mean[out_c]);
    cuda::store_act(out + out_c * plane + static_cast<long long>(y) * dst_w + x,
                    static_cast<float>(static_cast<double>(b) / norm.std[out_c]));
  }
}

}  // namespace

struct PreprocessCuda::State {
  bool zero_copy = false;
  DeviceBuffer<unsigned char> image;  // the device copy (not with zero_copy)
  DeviceBuffer<Taps> xtaps, ytaps;
  int src_h = 0, src_w = 0, dst_h = 0, dst_w = 0;
  std::size_t bytes = 0;
  PinnedBuffer<unsigned char> pinned;
  const unsigned char* mapped = nullptr;  // zero_copy: the device's address of `pinned`
  unsigned long long generation = 0;
};

PreprocessCuda::PreprocessCuda(bool zero_copy) : state_(std::make_unique<State>()) { state_->zero_copy = zero_copy; }
PreprocessCuda::~PreprocessCuda() = default;

void PreprocessCuda::run(const PreprocessParams& p, const std::uint8_t* bgr, float* out, cudaStream_t stream) {
  prepare(p, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));  // the previous upload from the staging buffer is done
  stage(p, bgr);
  enqueue(p, out, stream);
}

void PreprocessCuda::run(const PreprocessParams& p, const std::uint8_t* bgr, half_t* out, cudaStream_t stream) {
  prepare(p, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  stage(p, bgr);
  enqueue(p, out, stream);
}

unsigned long long PreprocessCuda::generation() const { return state_->generation; }

void PreprocessCuda::prepare(const PreprocessParams& p, cudaStream_t stream) {
  validate_preprocess_params(p);
  State& s = *state_;
  const std::size_t bytes = static_cast<std::size_t>(p.src_h) * p.src_w * 3;
  if (s.src_h == p.src_h && s.src_w == p.src_w && s.dst_h == p.dst_h && s.dst_w == p.dst_w) return;
  CUDA_CHECK(cudaStreamSynchronize(stream));  // the old tables, image and staging may still be in use
  const auto xt = make_taps(p.dst_w, static_cast<double>(p.dst_w) / p.src_w);
  const auto yt = make_taps(p.dst_h, static_cast<double>(p.dst_h) / p.src_h);
  s.xtaps = DeviceBuffer<Taps>(xt.size());
  s.xtaps.upload(xt);
  s.ytaps = DeviceBuffer<Taps>(yt.size());
  s.ytaps.upload(yt);
  s.image = s.zero_copy ? DeviceBuffer<unsigned char>() : DeviceBuffer<unsigned char>(bytes);
  s.pinned.reserve(bytes);
  s.bytes = bytes;
  if (s.zero_copy) {
    void* device = nullptr;
    CUDA_CHECK(cudaHostGetDevicePointer(&device, s.pinned.data(), 0));
    s.mapped = static_cast<const unsigned char*>(device);
  }
  s.src_h = p.src_h;
  s.src_w = p.src_w;
  s.dst_h = p.dst_h;
  s.dst_w = p.dst_w;
  ++s.generation;
}

namespace {
void require_prepared(int src_h, int src_w, int dst_h, int dst_w, const PreprocessParams& p) {
  TX2_REQUIRE(src_h == p.src_h && src_w == p.src_w && dst_h == p.dst_h && dst_w == p.dst_w,
              "preprocess: prepared for ", src_h, "x", src_w, " -> ", dst_h, "x", dst_w, ", asked for ", p.src_h, "x",
              p.src_w, " -> ", p.dst_h, "x", p.dst_w);
}
}  // namespace

void PreprocessCuda::stage(const PreprocessParams& p, const std::uint8_t* bgr) {
  State& s = *state_;
  require_prepared(s.src_h, s.src_w, s.dst_h, s.dst_w, p);
  std::memcpy(s.pinned.data(), bgr, s.bytes);
}

void PreprocessCuda::enqueue(const PreprocessParams& p, float* out, cudaStream_t stream) { launch(p, out, stream); }

void PreprocessCuda::enqueue(const PreprocessParams& p, half_t* out, cudaStream_t stream) {
  launch(p, reinterpret_cast<__half*>(out), stream);
}

template <typename T>
void PreprocessCuda::launch(const PreprocessParams& p, T* out, cudaStream_t stream) {
  State& s = *state_;
  require_prepared(s.src_h, s.src_w, s.dst_h, s.dst_w, p);
  if (!s.zero_copy)
    CUDA_CHECK(cudaMemcpyAsync(s.image.data(), s.pinned.data(), s.bytes, cudaMemcpyHostToDevice, stream));
  const unsigned char* src = s.zero_copy ? s.mapped : s.image.data();
  Normalize norm{static_cast<float>(p.scale), {p.mean[0], p.mean[1], p.mean[2]}, {p.std[0], p.std[1], p.std[2]},
                 p.swap_rb ? 1 : 0};
  const dim3 block(kPreprocessBlockX, kPreprocessBlockY);
  const dim3 grid(cuda::ceil_div(p.dst_w, kPreprocessBlockX), cuda::ceil_div(p.dst_h, kPreprocessBlockY));
  preprocess_kernel<T><<<grid, block, 0, stream>>>(src, p.src_h, p.src_w, p.dst_h, p.dst_w, s.xtaps.data(),
                                                s.ytaps.data(), norm, out);
  CUDA_CHECK_LAUNCH("preprocess_kernel");
}

}  // namespace tx2yolo
