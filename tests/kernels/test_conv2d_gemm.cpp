// The fast CPU convs (kernels/cpu/conv2d_gemm.cpp, OpenBLAS GEMMs) against
// the reference conv2d_cpu, the oracle: odd shapes, every distinct conv
// layer shape of the three full-width architectures at 320, and at 608 at
// sampled outputs against the direct formula. Skipped where the build has
// no OpenBLAS. The depthwise kernel of the same path
// (kernels/cpu/conv2d_depthwise_rows.cpp, no library) against the reference
// on odd shapes and every depthwise layer shape at 320 and 608.
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"
#include "kernels/tolerance.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

using testing_util::conv_params;

#define SKIP_WITHOUT_OPENBLAS()                                                                  \
  do {                                                                                           \
    if (!conv2d_cpu_gemm_available()) GTEST_SKIP() << "this build has no OpenBLAS (libopenblas-dev)"; \
  } while (0)

struct Operands {
  std::vector<float> in, w, b;
};

Operands operands(const Conv2dParams& p, std::uint32_t seed) {
  const int fan_in = p.in_channels / p.groups * p.kernel_h * p.kernel_w;
  const float limit = std::sqrt(3.f / static_cast<float>(fan_in));
  Operands o;
  o.in = testing_util::random_floats(static_cast<std::size_t>(p.batch) * p.in_channels * p.in_h * p.in_w, seed);
  o.w = testing_util::random_floats(static_cast<std::size_t>(p.out_channels) * fan_in, seed + 1, -limit, limit);
  o.b = testing_util::random_floats(static_cast<std::size_t>(p.out_channels), seed + 2);
  return o;
}

// Both outputs start as NaN; the channels outside the slice must stay NaN
// in the GEMM's output, and the slice agree within kConvFp32.
using ConvFn = void (*)(const Conv2dParams&, const float*, const float*, const float*, float*);

::testing::AssertionResult gemm_matches(const Conv2dParams& p, std::uint32_t seed, bool with_bias = true,
                                        ConvFn fast = conv2d_cpu_gemm) {
  const Operands o = operands(p, seed);
  const std::size_t out_n = static_cast<std::size_t>(p.batch) * p.out_channels_total * p.out_h * p.out_w;
  std::vector<float> ref(out_n, std::numeric_limits<float>::quiet_NaN()), got = ref;
  const float* bias = with_bias ? o.b.data() : nullptr;
  conv2d_cpu(p, o.in.data(), o.w.data(), bias, ref.data());
  fast(p, o.in.data(), o.w.data(), bias, got.data());
  std::vector<float> a, e;
  const std::size_t plane = static_cast<std::size_t>(p.out_h) * p.out_w;
  for (int n = 0; n < p.batch; ++n)
    for (int c = 0; c < p.out_channels_total; ++c) {
      const bool inside = c >= p.out_channel_offset && c < p.out_channel_offset + p.out_channels;
      for (std::size_t i = 0; i < plane; ++i) {
        const std::size_t k = (static_cast<std::size_t>(n) * p.out_channels_total + c) * plane + i;
        if (!inside) {
          if (!std::isnan(got[k])) return ::testing::AssertionFailure() << "wrote channel " << c << " outside its slice";
          continue;
        }
        a.push_back(got[k]);
        e.push_back(ref[k]);
      }
    }
  return testing_util::all_close(a, e, tolerance::kConvFp32);
}

std::vector<Conv2dParams> odd_gemm_cases() {
  const Activation L = Activation::kLeakyRelu, R = Activation::kRelu, N = Activation::kNone;
  return {conv_params(1, 3, 17, 13, 5, 3, 3, 2, 2, 1, 1, 1, R),    // stem-like, stride 2 on odd sizes
          conv_params(2, 37, 6, 5, 29, 1, 1, 1, 1, 0, 0, 1, L),    // pointwise, odd widths, batch 2
          conv_params(1, 10, 7, 7, 21, 3, 3, 1, 1, 1, 1, 1, L),    // 3x3 pad 1
          conv_params(1, 3, 9, 14, 5, 3, 1, 1, 2, 1, 0, 1, L),     // non-square kernel and stride
          conv_params(1, 130, 3, 3, 67, 1, 1, 1, 1, 0, 0, 1, N),   // K and M past block edges
          conv_params(3, 64, 11, 11, 65, 3, 3, 1, 1, 1, 1, 1, L),  // batch 3
          conv_params(1, 8, 1, 1, 4, 3, 3, 1, 1, 1, 1, 1, L),      // a 1x1 map with padding
          conv_params(1, 4, 40, 3, 6, 1, 1, 2, 2, 0, 0, 1, R),     // 1x1 stride 2 (not a plain pointwise GEMM)
          conv_params(1, 6, 5, 8, 9, 5, 5, 1, 1, 2, 2, 1, L),      // 5x5
          conv_params(2, 24, 5, 5, 100, 3, 3, 1, 1, 1, 1, 1, L),   // C_out not a multiple of 16 slices
          conv_params(1, 16, 40, 33, 24, 1, 1, 1, 1, 0, 0, 1, L)}; // pointwise, many bands at 2-3 threads
}

void gemm_rows(const Conv2dParams& p, const float* in, const float* w, const float* b, float* out) {
  conv2d_cpu_gemm_split(p, in, w, b, out, Conv2dGemmSplit::kRows);
}
void gemm_channels(const Conv2dParams& p, const float* in, const float* w, const float* b, float* out) {
  conv2d_cpu_gemm_split(p, in, w, b, out, Conv2dGemmSplit::kChannels);
}

// Each split, forced, on the odd shapes, at 1, 2 and 3 threads (several
// channel slices for C_out over 16, several bands for the larger maps), with
// and without bias, and into a slice of a wider output.
TEST(Conv2dGemm, EachSplitMatchesTheReferenceOnOddShapes) {
  SKIP_WITHOUT_OPENBLAS();
  std::uint32_t seed = 5000;
  for (ConvFn fn : {&gemm_rows, &gemm_channels}) {
    const char* name = fn == &gemm_rows ? "rows" : "channels";
    for (int threads : {1, 2, 3}) {
      set_cpu_threads(threads);
      for (const Conv2dParams& p : odd_gemm_cases())
        EXPECT_TRUE(gemm_matches(p, seed += 10, threads != 2, fn))
            << name << ", " << threads << " threads, " << p.in_channels << "->" << p.out_channels << " k" << p.kernel_h
            << "x" << p.kernel_w << " b" << p.batch;
    }
    Conv2dParams slice = conv_params(2, 5, 30, 7, 40, 3, 3, 1, 1, 1, 1, 1, Activation::kLeakyRelu);  // 4 bands at 3 threads
    slice.out_channel_offset = 2;
    slice.out_channels_total = 47;
    finalize_conv2d_params(slice);
    EXPECT_TRUE(gemm_matches(slice, seed += 10, true, fn)) << name;
  }
  set_cpu_threads(1);
}

// The automatic split: channel slices where W dwarfs the map (a deep 3x3 at
// 19x19: W of 1024 x 4608 floats, packed once per band by the row split),
// rows where the map is large and W small, rows where the whole image's
// im2col would be too large.
TEST(Conv2dGemm, AutoSplitFollowsThePackingCost) {
  SKIP_WITHOUT_OPENBLAS();
  const Activation L = Activation::kLeakyRelu;
  const Conv2dParams deep = conv_params(1, 512, 19, 19, 1024, 3, 3, 1, 1, 1, 1, 1, L);
  const Conv2dParams deep_pointwise = conv_params(1, 1024, 19, 19, 512, 1, 1, 1, 1, 0, 0, 1, L);
  const Conv2dParams early = conv_params(1, 32, 152, 152, 64, 1, 1, 1, 1, 0, 0, 1, L);
  const Conv2dParams huge_col = conv_params(1, 256, 152, 152, 2048, 3, 3, 1, 1, 1, 1, 1, L);
  for (int threads : {1, 2, 4}) {
    EXPECT_EQ(conv2d_cpu_gemm_auto_split(deep, threads), Conv2dGemmSplit::kChannels) << threads;
    EXPECT_EQ(conv2d_cpu_gemm_auto_split(deep_pointwise, threads), Conv2dGemmSplit::kChannels) << threads;
    EXPECT_EQ(conv2d_cpu_gemm_auto_split(huge_col, threads), Conv2dGemmSplit::kRows) << threads;
  }
  EXPECT_EQ(conv2d_cpu_gemm_auto_split(early, 2), Conv2dGemmSplit::kRows);
  // C_out of 16 is one channel slice: at 2 threads, rows keep both busy.
  const Conv2dParams narrow = conv_params(1, 512, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, L);
  EXPECT_EQ(conv2d_cpu_gemm_auto_split(narrow, 2), Conv2dGemmSplit::kRows);
  EXPECT_EQ(conv2d_cpu_gemm_auto_split(narrow, 1), Conv2dGemmSplit::kChannels);
}

TEST(Conv2dGemm, MatchesTheReferenceOnOddShapes) {
  SKIP_WITHOUT_OPENBLAS();
  const std::vector<Conv2dParams> cases = odd_gemm_cases();
  const Activation L = Activation::kLeakyRelu;
  std::uint32_t seed = 700;
  for (int threads : {1, 3}) {
    set_cpu_threads(threads);
    for (const Conv2dParams& p : cases) {
      EXPECT_TRUE(gemm_matches(p, seed += 10)) << threads << " threads, " << p.in_channels << "->" << p.out_channels
                                               << " k" << p.kernel_h << "x" << p.kernel_w << " b" << p.batch;
    }
  }
  set_cpu_threads(1);
  // No bias, and a slice of a wider output (a concat's producer).
  Conv2dParams slice = conv_params(1, 5, 9, 7, 3, 3, 3, 1, 1, 1, 1, 1, L);
  slice.out_channel_offset = 2;
  slice.out_channels_total = 7;
  finalize_conv2d_params(slice);
  EXPECT_TRUE(gemm_matches(slice, 900, false));
  // Grouped convs are not one GEMM: refused, not run wrongly.
  const Conv2dParams grouped = conv_params(1, 6, 5, 5, 6, 3, 3, 1, 1, 1, 1, 6, L);
  const Operands o = operands(grouped, 1);
  std::vector<float> out(6 * 25);
  EXPECT_THROW(conv2d_cpu_gemm(grouped, o.in.data(), o.w.data(), o.b.data(), out.data()), Error);
}

// Every distinct conv layer shape (groups == 1) of the three full-width
// architectures at 320, whole outputs against the reference, at 2 threads.
TEST(Conv2dGemm, EveryFullWidthLayerShapeAt320) {
  SKIP_WITHOUT_OPENBLAS();
  set_cpu_threads(2);
  std::set<std::string> seen;
  std::uint32_t seed = 1000;
  for (const char* arch : kFullWidthArchitectures)
    for (const testing_util::ConvLayerShape& l : testing_util::full_width_conv_layers(arch, 320)) {
      const Conv2dParams& p = l.p;
      if (p.groups != 1) continue;
      const std::string key = cat(p.in_channels, "x", p.in_h, "x", p.in_w, ">", p.out_channels, "k", p.kernel_h, "s",
                                  p.stride_h, "a", static_cast<int>(p.activation));
      if (!seen.insert(key).second) continue;
      EXPECT_TRUE(gemm_matches(p, seed += 10)) << arch << " " << l.name;
    }
  set_cpu_threads(1);
  std::printf("%zu distinct shapes\n", seen.size());
  EXPECT_GT(seen.size(), 30u);
}

// At 608 the reference would take minutes: each distinct shape's GEMM output
// against the direct formula (in double) at 500 sampled outputs.
TEST(Conv2dGemm, EveryFullWidthLayerShapeAt608AtSampledOutputs) {
  SKIP_WITHOUT_OPENBLAS();
  set_cpu_threads(2);
  std::set<std::string> seen;
  std::mt19937 rng(5);
  std::uint32_t seed = 2000;
  for (const char* arch : kFullWidthArchitectures)
    for (const testing_util::ConvLayerShape& l : testing_util::full_width_conv_layers(arch, 608)) {
      const Conv2dParams& p = l.p;
      if (p.groups != 1) continue;
      const std::string key =
          cat(p.in_channels, "x", p.in_h, ">", p.out_channels, "k", p.kernel_h, "s", p.stride_h, "a", static_cast<int>(p.activation));
      if (!seen.insert(key).second) continue;
      const Operands o = operands(p, seed += 10);
      std::vector<float> got(static_cast<std::size_t>(p.out_channels) * p.out_h * p.out_w);
      conv2d_cpu_gemm(p, o.in.data(), o.w.data(), o.b.data(), got.data());
      int bad = 0;
      for (int s = 0; s < 500; ++s) {
        const int co = static_cast<int>(rng() % p.out_channels), oy = static_cast<int>(rng() % p.out_h),
                  ox = static_cast<int>(rng() % p.out_w);
        double acc = o.b[co];
        for (int ci = 0; ci < p.in_channels; ++ci)
          for (int ky = 0; ky < p.kernel_h; ++ky)
            for (int kx = 0; kx < p.kernel_w; ++kx) {
              const int iy = oy * p.stride_h - p.pad_h + ky, ix = ox * p.stride_w - p.pad_w + kx;
              if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;
              acc += static_cast<double>(o.w[((static_cast<std::size_t>(co) * p.in_channels + ci) * p.kernel_h + ky) *
                                                 p.kernel_w + kx]) *
                     o.in[(static_cast<std::size_t>(ci) * p.in_h + iy) * p.in_w + ix];
            }
        if (p.activation == Activation::kLeakyRelu && acc < 0) acc *= p.alpha;
        if (p.activation == Activation::kRelu && acc < 0) acc = 0;
        const float g = got[(static_cast<std::size_t>(co) * p.out_h + oy) * p.out_w + ox];
        bad += !(std::fabs(g - acc) <= tolerance::kConvFp32.atol + tolerance::kConvFp32.rtol * std::fabs(acc));
      }
      EXPECT_EQ(bad, 0) << arch << " " << l.name;
    }
  set_cpu_threads(1);
  EXPECT_GT(seen.size(), 30u);
}

}  // namespace
}  // namespace tx2yolo

namespace tx2yolo {
namespace {

TEST(Conv2dDepthwiseRows, MatchesTheReferenceOnOddShapes) {
  const Activation L = Activation::kLeakyRelu, R = Activation::kRelu, N = Activation::kNone;
  const std::vector<Conv2dParams> cases = {
      conv_params(1, 5, 17, 13, 5, 3, 3, 1, 1, 1, 1, 5, R),     // 3x3 stride 1, odd sizes
      conv_params(2, 7, 17, 13, 7, 3, 3, 2, 2, 1, 1, 7, L),     // stride 2 on odd sizes, batch 2
      conv_params(1, 3, 16, 16, 3, 3, 3, 2, 2, 1, 1, 3, N),     // stride 2 on even sizes
      conv_params(1, 4, 9, 14, 4, 3, 1, 1, 2, 1, 0, 4, L),      // non-square kernel and stride
      conv_params(1, 6, 5, 8, 6, 5, 5, 1, 1, 2, 2, 6, L),       // 5x5
      conv_params(1, 8, 1, 1, 8, 3, 3, 1, 1, 1, 1, 8, L),       // a 1x1 map with padding
      conv_params(1, 3, 7, 7, 3, 3, 3, 3, 3, 0, 0, 3, R),       // stride 3, no padding
      conv_params(3, 33, 11, 11, 33, 3, 3, 1, 1, 1, 1, 33, L)}; // batch 3, many channels
  std::uint32_t seed = 3000;
  for (int threads : {1, 3}) {
    set_cpu_threads(threads);
    for (const Conv2dParams& p : cases) {
      ASSERT_TRUE(conv2d_cpu_depthwise_rows_supports(p));
      EXPECT_TRUE(gemm_matches(p, seed += 10, true, conv2d_cpu_depthwise_rows))
          << threads << " threads, c" << p.in_channels << " " << p.in_h << "x" << p.in_w << " k" << p.kernel_h << "x"
          << p.kernel_w << " s" << p.stride_h << "x" << p.stride_w << " b" << p.batch;
    }
  }
  set_cpu_threads(1);
  // No bias, and a slice of a wider output.
  Conv2dParams slice = conv_params(1, 5, 9, 7, 5, 3, 3, 2, 2, 1, 1, 5, L);
  slice.out_channel_offset = 2;
  slice.out_channels_total = 9;
  finalize_conv2d_params(slice);
  EXPECT_TRUE(gemm_matches(slice, 3900, false, conv2d_cpu_depthwise_rows));
  // The engine's choice: rows of 32 columns or more, the reference below.
  EXPECT_TRUE(conv2d_cpu_depthwise_rows_preferred(conv_params(1, 4, 64, 64, 4, 3, 3, 2, 2, 1, 1, 4, L)));
  EXPECT_FALSE(conv2d_cpu_depthwise_rows_preferred(conv_params(1, 4, 62, 62, 4, 3, 3, 2, 2, 1, 1, 4, L)));
  EXPECT_FALSE(conv2d_cpu_depthwise_rows_preferred(conv_params(1, 4, 64, 64, 8, 3, 3, 1, 1, 1, 1, 1, L)));
  // Not depthwise: refused, not run wrongly.
  const Conv2dParams dense = conv_params(1, 6, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, L);
  EXPECT_FALSE(conv2d_cpu_depthwise_rows_supports(dense));
  const Operands o = operands(dense, 1);
  std::vector<float> out(6 * 25);
  EXPECT_THROW(conv2d_cpu_depthwise_rows(dense, o.in.data(), o.w.data(), o.b.data(), out.data()), Error);
}

// Every distinct depthwise layer shape of the three full-width architectures
// at 320 and 608, whole outputs against the reference, at 2 threads.
TEST(Conv2dDepthwiseRows, EveryFullWidthDepthwiseShapeAt320And608) {
  set_cpu_threads(2);
  std::set<std::string> seen;
  std::uint32_t seed = 4000;
  for (int size : {320, 608})
    for (const char* arch : kFullWidthArchitectures)
      for (const testing_util::ConvLayerShape& l : testing_util::full_width_conv_layers(arch, size)) {
        const Conv2dParams& p = l.p;
        if (!(p.groups == p.in_channels && p.groups == p.out_channels)) continue;
        const std::string key = cat(p.in_channels, "x", p.in_h, "x", p.in_w, "k", p.kernel_h, "s", p.stride_h, "a",
                                    static_cast<int>(p.activation));
        if (!seen.insert(key).second) continue;
        EXPECT_TRUE(gemm_matches(p, seed += 10, true, conv2d_cpu_depthwise_rows)) << arch << " " << l.name << " @" << size;
      }
  set_cpu_threads(1);
  std::printf("%zu distinct depthwise shapes\n", seen.size());
  EXPECT_GT(seen.size(), 10u);
}

}  // namespace
}  // namespace tx2yolo
