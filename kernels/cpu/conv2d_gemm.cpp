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
// Work is split one of two ways (Conv2dGemmSplit), chosen per layer by the
// bytes OpenBLAS must pack (it packs both operands of every call):
//  - kRows: each (image, band of output rows) is one task, one GEMM of all
//    C_out rows; W is packed once per band, X once in all. Right for large
//    maps.
//  - kChannels: each (image, slice of output channels) is one task, one GEMM
//    over the whole map; W is packed once in all, X once per slice. Right
//    where W is large and the map small (the deep 3x3 convs at 19x19 and
//    10x10, whose W of 9-19 MB the row split packed 7 times at 608). The
//    im2col of the whole image is made first, by bands on the pool.
// (Both per image.) auto takes the one with fewer packed floats: rows
//   bands * C_out * K + K * P   against channels   slices * K * P + C_out * K
// (and rows where the whole image's im2col would pass 16M floats, or where
// there would be fewer channel slices than threads).
// Each task calls OpenBLAS's cblas_sgemm single-threaded (OpenBLAS's own
// threads are set to 1 once, so nothing spins against other work) on the
// thread pool (core/thread_pool.h, which never spins), then adds the bias
// and applies the activation over its part. The split depends on the layer
// and the thread count only, not on the batch, so an image's result does
// not depend on the batch it is in. The summation order differs from the
// reference: the results agree within the FP32 tolerance of
// kernels/tolerance.h (kConvFp32), tested at odd shapes with each split
// forced and at every layer shape of the three full-width architectures.
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

// im2col of output rows [y0, y1) of one image: col [K, (y1 - y0) * Wo] with
// a row stride of ld floats (ld >= (y1 - y0) * Wo).
void im2col_rows(const Conv2dParams& p, const float* in, int y0, int y1, float* col, std::size_t ld) {
  const std::size_t n = ld;
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

void epilogue(const Conv2dParams& p, const float* bias, float* o, std::size_t ld, int co0, int co1, int p0, int cols) {
  for (int co = co0; co < co1; ++co) {
    float* row = o + static_cast<std::size_t>(co) * ld + p0;
    const float b = bias ? bias[co] : 0.f;
    for (int i = 0; i < cols; ++i) row[i] = activate(row[i] + b, p.activation, p.alpha);
  }
}

// Output rows per band for kRows: at least ~64 pixels, about 4 bands per
// thread per image (so 4 at 1 thread, which kChannels avoids where it packs
// less). Also the bands kChannels makes its im2col in.
int rows_per_band(const Conv2dParams& p, int threads) {
  return std::max(std::max(1, 64 / p.out_w), (p.out_h + 4 * threads - 1) / (4 * threads));
}

// Channel slices per image for kChannels: 2 per thread (1 at 1 thread), each
// a multiple of 16 rows (OpenBLAS's register blocking), so fewer where C_out
// is small.
int channel_slice(const Conv2dParams& p, int threads) {
  const int slices = threads == 1 ? 1 : 2 * threads;
  const int per = (p.out_channels + slices - 1) / slices;
  return std::max(16, (per + 15) / 16 * 16);
}

constexpr std::size_t kMaxWholeImageCol = std::size_t(16) << 20;  // floats (64 MB)

}  // namespace

bool conv2d_cpu_gemm_available() { return true; }

Conv2dGemmSplit conv2d_cpu_gemm_auto_split(const Conv2dParams& p, int threads) {
  threads = std::max(1, threads);
  const double k = static_cast<double>(p.in_channels) * p.kernel_h * p.kernel_w;
  const double npix = static_cast<double>(p.out_h) * p.out_w, m = p.out_channels;
  if (!is_pointwise(p) && k * npix > static_cast<double>(kMaxWholeImageCol)) return Conv2dGemmSplit::kRows;
  const int rpb = rows_per_band(p, threads);
  const double bands = (p.out_h + rpb - 1) / rpb;
  const int slice = channel_slice(p, threads);
  const double slices = (p.out_channels + slice - 1) / slice;
  // Fewer slices than threads would leave threads idle (C_out <= 16 is one
  // slice): rows then.
  if (threads > 1 && slices < threads) return Conv2dGemmSplit::kRows;
  const double rows_cost = bands * m * k + k * npix, channels_cost = slices * k * npix + m * k;
  return channels_cost < rows_cost ? Conv2dGemmSplit::kChannels : Conv2dGemmSplit::kRows;
}

void conv2d_cpu_gemm(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out) {
  conv2d_cpu_gemm_split(p, in, weight, bias, out, Conv2dGemmSplit::kAuto);
}

void conv2d_cpu_gemm_split(const Conv2dParams& p, const float* in, const float* weight, const float* bias, float* out,
                           Conv2dGemmSplit split) {
  TX2_REQUIRE(p.groups == 1, "conv2d_cpu_gemm: groups ", p.groups, " (only groups == 1 is a single GEMM)");
  TX2_REQUIRE(p.out_h > 0 && p.out_w > 0 && p.out_channels_total >= p.out_channels,
              "conv2d_cpu_gemm: params not finalized");
  static const bool single_threaded_blas = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded_blas;
  const int threads = cpu_threads();
  if (split == Conv2dGemmSplit::kAuto) split = conv2d_cpu_gemm_auto_split(p, threads);
  const int k = p.in_channels * p.kernel_h * p.kernel_w;
  const int npix = p.out_h * p.out_w;
  const bool pointwise = is_pointwise(p);
  const int rpb = rows_per_band(p, threads);
  const int bands = (p.out_h + rpb - 1) / rpb;
  const std::size_t in_image = static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w;
  const std::size_t out_image = static_cast<std::size_t>(p.out_channels_total) * npix;
  auto image_out = [&](int n) {
    return out + static_cast<std::size_t>(n) * out_image + static_cast<std::size_t>(p.out_channel_offset) * npix;
  };
  if (split == Conv2dGemmSplit::kChannels) {
    const int slice = channel_slice(p, threads);
    const int slices = (p.out_channels + slice - 1) / slice;
    // Kept by the calling thread from call to call (up to kMaxWholeImageCol
    // floats under kAuto; a forced kChannels is not capped), as the row
    // split's band buffers are by each worker.
    // (A lambda naming a thread_local reaches the running thread's own copy,
    // so the tasks get a plain pointer to the caller's.)
    thread_local std::vector<float> whole_col;
    if (!pointwise) whole_col.resize(static_cast<std::size_t>(k) * npix);
    float* const col = whole_col.data();
    for (int n = 0; n < p.batch; ++n) {
      const float* x = in + static_cast<std::size_t>(n) * in_image;
      if (!pointwise) {
        parallel_for(bands, [&](int band) {
          const int y0 = band * rpb, y1 = std::min(p.out_h, y0 + rpb);
          im2col_rows(p, x, y0, y1, col + static_cast<std::size_t>(y0) * p.out_w, static_cast<std::size_t>(npix));
        });
        x = col;
      }
      float* o = image_out(n);
      parallel_for(slices, [&](int s) {
        const int co0 = s * slice, co1 = std::min(p.out_channels, co0 + slice);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co1 - co0, npix, k, 1.f,
                    weight + static_cast<std::size_t>(co0) * k, k, x, npix, 0.f, o + static_cast<std::size_t>(co0) * npix,
                    npix);
        epilogue(p, bias, o, static_cast<std::size_t>(npix), co0, co1, 0, npix);
      });
    }
    return;
  }
  parallel_for(p.batch * bands, [&](int task) {
    const int n = task / bands, band = task % bands;
    const int y0 = band * rpb, y1 = std::min(p.out_h, y0 + rpb);
    const int cols = (y1 - y0) * p.out_w, p0 = y0 * p.out_w;
    const float* x = in + static_cast<std::size_t>(n) * in_image;
    float* o = image_out(n);
    if (pointwise) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p.out_channels, cols, k, 1.f, weight, k, x + p0, npix,
                  0.f, o + p0, npix);
    } else {
      thread_local std::vector<float> col;
      col.resize(static_cast<std::size_t>(k) * cols);
      im2col_rows(p, x, y0, y1, col.data(), static_cast<std::size_t>(cols));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p.out_channels, cols, k, 1.f, weight, k, col.data(), cols,
                  0.f, o + p0, npix);
    }
    epilogue(p, bias, o, static_cast<std::size_t>(npix), 0, p.out_channels, p0, cols);
  });
}

#else

bool conv2d_cpu_gemm_available() { return false; }

Conv2dGemmSplit conv2d_cpu_gemm_auto_split(const Conv2dParams&, int) { return Conv2dGemmSplit::kRows; }

void conv2d_cpu_gemm(const Conv2dParams&, const float*, const float*, const float*, float*) {
  throw Error("conv2d_cpu_gemm: this build has no OpenBLAS (libopenblas-dev), so no fast CPU convs");
}

void conv2d_cpu_gemm_split(const Conv2dParams&, const float*, const float*, const float*, float*, Conv2dGemmSplit) {
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
