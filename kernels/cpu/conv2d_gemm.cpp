// conv2d on the CPU as GEMMs (the fast CPU path beside the reference
// kernels/cpu/conv2d.cpp, which stays the oracle).
//
//   out[n, co, p] = act( bias[co] + sum_k W[co, k] * X_n[k, p] )
//   W [C_out, K] is the weight as stored (K = C_in * K_h * K_w, groups == 1);
//   X_n [K, P] is image n's input as columns: for a pointwise conv (1x1,
//   stride 1, no padding) the NCHW input itself (K = C_in rows of P = H*W
//   pixels), otherwise im2col of a band of output rows (zero outside the
//   input). Layout as conv2d_cpu: in [N, C_in, H, W], out [N, C_total, Ho, Wo]
//   written in channels [offset, offset + C_out).
//
// Each (image, band of output rows) is one task on the thread pool
// (core/thread_pool.h, which never spins); each task calls OpenBLAS's
// cblas_sgemm single-threaded (OpenBLAS's own threads are set to 1 once, so
// nothing spins against other work), then adds the bias and applies the
// activation over its band. The bands are the same at any batch, so an
// image's result does not depend on the batch it is in. The summation order
// differs from the reference: the results agree within the FP32 tolerance
// of kernels/tolerance.h (kConvFp32), tested at odd shapes and at every
// layer shape of the three full-width architectures.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"

#ifdef TX2YOLO_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace tx2yolo {

#ifdef TX2YOLO_HAVE_OPENBLAS
namespace {

float activate(float v, Activation a, float alpha) {
  switch (a) {
    case Activation::kRelu: return v > 0.f ? v : 0.f;
    case Activation::kLeakyRelu: return v > 0.f ? v : v * alpha;
    default: return v;
  }
}

bool is_pointwise(const Conv2dParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// im2col of output rows [y0, y1) of one image: col [K, (y1 - y0) * Wo].
void im2col_rows(const Conv2dParams& p, const float* in, int y0, int y1, float* col) {
  const int n = (y1 - y0) * p.out_w;
  for (int c = 0; c < p.in_channels; ++c) {
    const float* plane = in + static_cast<std::size_t>(c) * p.in_h * p.in_w;
    for (int ky = 0; ky < p.kernel_h; ++ky)
      for (int kx = 0; kx < p.kernel_w; ++kx) {
        float* row = col + static_cast<std::size_t>((c * p.kernel_h + ky) * p.kernel_w + kx) * n;
        for (int oy = y0; oy < y1; ++oy) {
          float* dst = row + static_cast<std::size_t>(oy - y0) * p.out_w;
          const int iy = oy * p.stride_h - p.pad_h + ky;
          if (iy < 0 || iy >= p.in_h) {
            std::fill(dst, dst + p.out_w, 0.f);
            continue;
          }
          const float* src = plane + static_cast<std::size_t>(iy) * p.in_w;
          if (p.stride_w == 1) {
            // ix = ox - pad + kx: zeros left and right of one contiguous run.
            const int lo = std::min(p.out_w, std::max(0, p.pad_w - kx));
            const int hi = std::max(lo, std::min(p.out_w, p.in_w + p.pad_w - kx));
            std::fill(dst, dst + lo, 0.f);
            if (hi > lo) std::memcpy(dst + lo, src + (lo - p.pad_w + kx), sizeof(float) * static_cast<std::size_t>(hi - lo));
            std::fill(dst + hi, dst + p.out_w, 0.f);
            continue;
          }
          for (int ox = 0; ox < p.out_w; ++ox) {
            const int ix = ox * p.stride_w - p.pad_w + kx;
            dst[ox] = (ix >= 0 && ix < p.in_w) ? src[ix] : 0.f;
          }
        }
      }
  }
}

}  // namespace

bool conv2d_cpu_gemm_available() { return true; }

void conv2d_cpu_gemm(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out) {
  TX2_REQUIRE(p.groups == 1, "conv2d_cpu_gemm: groups ", p.groups, " (only groups == 1 is a single GEMM)");
  TX2_REQUIRE(p.out_h > 0 && p.out_w > 0 && p.out_channels_total >= p.out_channels,
              "conv2d_cpu_gemm: params not finalized");
  static const bool single_threaded_blas = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded_blas;
  const int k = p.in_channels * p.kernel_h * p.kernel_w;
  const int npix = p.out_h * p.out_w;
  const bool pointwise = is_pointwise(p);
  // Bands of whole output rows, at least ~64 pixels each, about 4 per thread
  // per image: the same bands at any batch.
  const int rows_per_band =
      std::max(std::max(1, 64 / p.out_w), (p.out_h + 4 * cpu_threads() - 1) / (4 * cpu_threads()));
  const int bands = (p.out_h + rows_per_band - 1) / rows_per_band;
  const std::size_t in_image = static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w;
  const std::size_t out_image = static_cast<std::size_t>(p.out_channels_total) * npix;
  parallel_for(p.batch * bands, [&](int task) {
    const int n = task / bands, band = task % bands;
    const int y0 = band * rows_per_band, y1 = std::min(p.out_h, y0 + rows_per_band);
    const int cols = (y1 - y0) * p.out_w, p0 = y0 * p.out_w;
    const float* x = in + static_cast<std::size_t>(n) * in_image;
    float* o = out + static_cast<std::size_t>(n) * out_image + static_cast<std::size_t>(p.out_channel_offset) * npix;
    if (pointwise) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p.out_channels, cols, k, 1.f, weight, k, x + p0, npix,
                  0.f, o + p0, npix);
    } else {
      thread_local std::vector<float> col;
      col.resize(static_cast<std::size_t>(k) * cols);
      im2col_rows(p, x, y0, y1, col.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p.out_channels, cols, k, 1.f, weight, k, col.data(), cols,
                  0.f, o + p0, npix);
    }
    for (int co = 0; co < p.out_channels; ++co) {
      float* row = o + static_cast<std::size_t>(co) * npix + p0;
      const float b = bias ? bias[co] : 0.f;
      for (int i = 0; i < cols; ++i) row[i] = activate(row[i] + b, p.activation, p.alpha);
    }
  });
}

#else

bool conv2d_cpu_gemm_available() { return false; }

void conv2d_cpu_gemm(const Conv2dParams&, const float*, const float*, const float*, float*) {
  throw Error("conv2d_cpu_gemm: this build has no OpenBLAS (libopenblas-dev), so no fast CPU convs");
}

#endif

bool conv2d_cpu_gemm_default() {
#if defined(__x86_64__)
  return conv2d_cpu_gemm_available();
#else
  return false;
#endif
}

}  // namespace tx2yolo
