// conv2d CPU reference: hand-computed cases, and the optimized loops checked
// against a literal transcription of the formula in kernels/conv2d.h.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/tolerance.h"
#include "layers/conv_layer.h"
#include "tests/test_util.h"
#include "weights/architecture.h"
#include "weights/graph.h"

#ifdef TX2YOLO_WITH_CUDA
#include "kernels/cuda/conv2d_cudnn.h"
#endif

namespace tx2yolo {
namespace {

using testing_util::all_close;
using testing_util::make_params;
using testing_util::random_floats;

// The formula, written out with no cleverness.
std::vector<float> naive_conv(const Conv2dParams& p, const std::vector<float>& in, const std::vector<float>& w,
                              const std::vector<float>* bias) {
  std::vector<float> out(static_cast<std::size_t>(p.batch) * p.out_channels * p.out_h * p.out_w);
  const int cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  for (int n = 0; n < p.batch; ++n)
    for (int co = 0; co < p.out_channels; ++co)
      for (int oy = 0; oy < p.out_h; ++oy)
        for (int ox = 0; ox < p.out_w; ++ox) {
          double acc = bias ? (*bias)[co] : 0.0;
          const int g = co / cog;
          for (int c = 0; c < cig; ++c)
            for (int ky = 0; ky < p.kernel_h; ++ky)
              for (int kx = 0; kx < p.kernel_w; ++kx) {
                const int iy = oy * p.stride_h - p.pad_h + ky, ix = ox * p.stride_w - p.pad_w + kx;
                if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;
                acc += static_cast<double>(w[((co * cig + c) * p.kernel_h + ky) * p.kernel_w + kx]) *
                       in[((n * p.in_channels + g * cig + c) * p.in_h + iy) * p.in_w + ix];
              }
          out[((n * p.out_channels + co) * p.out_h + oy) * p.out_w + ox] =
              apply_activation(p.activation, p.alpha, static_cast<float>(acc));
        }
  return out;
}

std::vector<float> run(const Conv2dParams& p, const std::vector<float>& in, const std::vector<float>& w,
                       const std::vector<float>* bias) {
  std::vector<float> out(static_cast<std::size_t>(p.batch) * p.out_channels_total * p.out_h * p.out_w,
                         std::numeric_limits<float>::quiet_NaN());  // poisoned
  conv2d_cpu(p, in.data(), w.data(), bias ? bias->data() : nullptr, out.data());
  return out;
}

#ifdef TX2YOLO_WITH_CUDA
// The cudnn tactic opens libcudnn at run time and resolves its entry points
// by name; where the library is installed (this needs no GPU), every name
// must resolve. Without the library the tactic is simply absent (skipped).
TEST(Conv2d, CudnnTacticResolvesEveryEntryPointWhereLibcudnnIsInstalled) {
  std::string why;
  const bool available = conv2d_cudnn_available(&why);
  if (!available && (why.find("not loaded") != std::string::npos || why.find("TX2YOLO_NO_CUDNN") != std::string::npos ||
                     why.find("built without cudnn.h") != std::string::npos))
    GTEST_SKIP() << why;
  EXPECT_TRUE(available) << why;
  EXPECT_TRUE(why.empty()) << why;
}
#endif

// The bound for kernels that sum in FP16 (kConvHalf2) scales with
// sum |w x|: conv2d_abs_products gives it, hand-computed here with a
// negative weight, a negative input, padding and a leaky activation that it
// must leave out, and compare_elementwise widens the bound by it.
TEST(Conv2d, AbsProductsAndTheBoundThatScalesWithThem) {
  Conv2dParams p = testing_util::make_params(1, 1, 2, 1, 3, 1, 1, 1, Activation::kLeakyRelu, 0.1f);
  const std::vector<float> in = {2.f, -3.f};                                  // [1, 1, 1, 2]
  const std::vector<float> w = {1.f, -1.f, 0.5f, 2.f, -4.f, 1.f, 0.f, 0.f, 3.f};  // [1, 1, 3, 3]
  const std::vector<float> m = conv2d_abs_products(p, in.data(), w.data());
  // out x=0 reads in[0] under w[1][1] and in[1] under w[1][2]: |2 * -4| + |-3 * 1| = 11;
  // out x=1 reads in[0] under w[1][0] and in[1] under w[1][1]: |2 * 2| + |-3 * -4| = 16.
  ASSERT_EQ(m.size(), 2u);
  EXPECT_FLOAT_EQ(m[0], 11.f);
  EXPECT_FLOAT_EQ(m[1], 16.f);
  const Tolerance t{0.f, 0.f, 0.01f};
  const float expected[2] = {1.f, 1.f}, close[2] = {1.1f, 1.15f}, far[2] = {1.12f, 1.f};
  EXPECT_TRUE(compare_elementwise(close, expected, 2, t, m.data()).ok());  // within 0.11 and 0.16
  const Comparison c = compare_elementwise(far, expected, 2, t, m.data());
  EXPECT_EQ(c.bad, 1u);
  EXPECT_EQ(c.worst_index, 0u);
  EXPECT_THROW(compare_elementwise(close, expected, 2, t), Error);  // the magnitudes are required
  EXPECT_GT(tolerance::kConvHalf2.sum_abs, 0.f);
}

TEST(Conv2d, OutputExtentFormula) {
  EXPECT_EQ(conv_output_extent(608, 3, 2, 1), 304);
  EXPECT_EQ(conv_output_extent(5, 3, 2, 1), 3);
  EXPECT_EQ(conv_output_extent(19, 3, 1, 1), 19);
  EXPECT_EQ(conv_output_extent(7, 1, 1, 0), 7);
  EXPECT_EQ(conv_output_extent(1, 3, 1, 0), 0);
}

TEST(Conv2d, Standard3x3OnesHandComputed) {
  // Input 1..9 in a 3x3 grid, all-ones 3x3 kernel, pad 1.
  const Conv2dParams p = make_params(1, 3, 3, 1, 3, 1, 1, 1);
  const std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> w(9, 1.f);
  const auto out = run(p, in, w, nullptr);
  // corners: 1+2+4+5=12, 2+3+5+6=16, 4+5+7+8=24, 5+6+8+9=28; edges 27, 33, 21, 39; centre 45.
  const std::vector<float> expected = {12, 21, 16, 27, 45, 33, 24, 39, 28};
  EXPECT_EQ(out, expected);
}

TEST(Conv2d, DepthwiseStride2OnOddSizeHandComputed) {
  // 2 channels of 5x5, value y*5+x; channel 1 has a kernel of twos. Output 3x3.
  const Conv2dParams p = make_params(2, 5, 5, 2, 3, 2, 1, 2);
  ASSERT_EQ(p.out_h, 3);
  ASSERT_EQ(p.out_w, 3);
  std::vector<float> in(50);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 25; ++i) in[c * 25 + i] = static_cast<float>(i);
  std::vector<float> w(18, 1.f);
  for (int i = 9; i < 18; ++i) w[i] = 2.f;
  const std::vector<float> bias = {0.5f, -1.f};
  const auto out = run(p, in, w, &bias);
  // (0,0): rows 0-1, cols 0-1 = 0+1+5+6 = 12; (0,2): rows 0-1, cols 3-4 = 3+4+8+9 = 24;
  // (1,1): rows 1-3, cols 1-3 = 9 * 12 = 108; (2,2): rows 3-4, cols 3-4 = 18+19+23+24 = 84.
  EXPECT_FLOAT_EQ(out[0], 12.5f);
  EXPECT_FLOAT_EQ(out[2], 24.5f);
  EXPECT_FLOAT_EQ(out[4], 108.5f);
  EXPECT_FLOAT_EQ(out[8], 84.5f);
  EXPECT_FLOAT_EQ(out[9 + 0], 2 * 12 - 1.f);
  EXPECT_FLOAT_EQ(out[9 + 8], 2 * 84 - 1.f);
}

TEST(Conv2d, PointwiseWithBiasHandComputed) {
  // 2 input channels of 2 pixels -> 3 outputs.
  const Conv2dParams p = make_params(2, 1, 2, 3, 1, 1, 0, 1);
  const std::vector<float> in = {1, 2, /*ch1*/ 10, 20};
  const std::vector<float> w = {1, 0, /*co1*/ 0, 1, /*co2*/ 2, -1};
  const std::vector<float> bias = {0, 1, 3};
  const auto out = run(p, in, w, &bias);
  const std::vector<float> expected = {1, 2, 11, 21, 2 - 10 + 3, 4 - 20 + 3};
  EXPECT_EQ(out, expected);
}

TEST(Conv2d, LeakyReluScalesNegativesOnly) {
  const Conv2dParams p = make_params(1, 1, 4, 1, 1, 1, 0, 1, Activation::kLeakyRelu, 0.1f);
  const std::vector<float> in = {-10, -0.5f, 0, 3};
  const auto out = run(p, in, {1.f}, nullptr);
  EXPECT_FLOAT_EQ(out[0], -1.f);
  EXPECT_FLOAT_EQ(out[1], -0.05f);
  EXPECT_FLOAT_EQ(out[2], 0.f);
  EXPECT_FLOAT_EQ(out[3], 3.f);
}

TEST(Conv2d, ReluClampsNegativesToZero) {
  const Conv2dParams p = make_params(1, 1, 3, 1, 1, 1, 0, 1, Activation::kRelu);
  const std::vector<float> bias = {-1.f};
  const auto out = run(p, {-2, 0.5f, 4}, {2.f}, &bias);
  EXPECT_EQ(out, (std::vector<float>{0, 0, 7}));
}

TEST(Conv2d, GroupsUseOnlyTheirOwnChannels) {
  // 4 inputs, 2 outputs, groups 2: out0 = ch0 + ch1, out1 = ch2 + ch3 (weights 1).
  const Conv2dParams p = make_params(4, 1, 1, 2, 1, 1, 0, 2);
  const auto out = run(p, {1, 2, 100, 200}, {1, 1, 1, 1}, nullptr);
  EXPECT_EQ(out, (std::vector<float>{3, 300}));
}

TEST(Conv2d, WritesOnlyItsChannelSliceOfAConcatBuffer) {
  Conv2dParams p;
  p.in_channels = 1;
  p.in_h = p.in_w = 2;
  p.out_channels = 1;
  p.out_channel_offset = 1;
  p.out_channels_total = 3;
  finalize_conv2d_params(p);
  const auto out = run(p, {1, 2, 3, 4}, {2.f}, nullptr);
  ASSERT_EQ(out.size(), 12u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(std::isnan(out[i])) << "channel 0 must stay untouched";
    EXPECT_FLOAT_EQ(out[4 + i], 2.f * (i + 1));
    EXPECT_TRUE(std::isnan(out[8 + i])) << "channel 2 must stay untouched";
  }
}

TEST(Conv2d, InvalidParamsThrowWithTheValues) {
  Conv2dParams p;
  p.in_channels = 6;
  p.in_h = p.in_w = 4;
  p.out_channels = 4;
  p.groups = 4;
  try {
    finalize_conv2d_params(p);
    FAIL() << "groups 4 with 6 input channels must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("groups 4 must divide in channels 6"), std::string::npos) << e.what();
  }
  Conv2dParams small;
  small.in_channels = small.out_channels = 1;
  small.in_h = small.in_w = 1;
  small.kernel_h = small.kernel_w = 3;
  EXPECT_THROW(finalize_conv2d_params(small), Error);
  Conv2dParams slice;
  slice.in_channels = slice.out_channels = 2;
  slice.in_h = slice.in_w = 2;
  slice.out_channel_offset = 1;
  slice.out_channels_total = 2;
  EXPECT_THROW(finalize_conv2d_params(slice), Error);
}

struct ConvCase {
  int cin, h, w, cout, k, stride, pad, groups;
  Activation act;
};

class Conv2dMatchesFormula : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dMatchesFormula, OnSeededRandomData) {
  const ConvCase c = GetParam();
  Conv2dParams p = make_params(c.cin, c.h, c.w, c.cout, c.k, c.stride, c.pad, c.groups, c.act, 0.1f);
  p.batch = 2;
  const auto in = random_floats(static_cast<std::size_t>(2) * c.cin * c.h * c.w, 11 + c.cin);
  const auto w = random_floats(static_cast<std::size_t>(c.cout) * (c.cin / c.groups) * c.k * c.k, 12 + c.cout);
  const auto b = random_floats(static_cast<std::size_t>(c.cout), 13);
  EXPECT_TRUE(all_close(run(p, in, w, &b), naive_conv(p, in, w, &b), 1e-5f, 1e-5f));
}

TEST(Conv2d, NonSquareKernelStrideAndPadMatchTheFormula) {
  Conv2dParams p;
  p.batch = 1;
  p.in_channels = 3;
  p.in_h = 9;
  p.in_w = 14;
  p.out_channels = 5;
  p.kernel_h = 3;
  p.kernel_w = 1;
  p.stride_h = 1;
  p.stride_w = 2;
  p.pad_h = 1;
  p.pad_w = 0;
  p.activation = Activation::kLeakyRelu;
  p.alpha = 0.1f;
  finalize_conv2d_params(p);
  ASSERT_EQ(p.out_h, 9);
  ASSERT_EQ(p.out_w, 7);
  const auto in = random_floats(3 * 9 * 14, 21);
  const auto w = random_floats(5 * 3 * 3 * 1, 22);
  const auto b = random_floats(5, 23);
  EXPECT_TRUE(all_close(run(p, in, w, &b), naive_conv(p, in, w, &b), 1e-5f, 1e-5f));
}

INSTANTIATE_TEST_SUITE_P(
    OddShapes, Conv2dMatchesFormula,
    ::testing::Values(ConvCase{3, 17, 13, 5, 3, 2, 1, 1, Activation::kRelu},         // stem-like, odd
                      ConvCase{7, 9, 11, 7, 3, 1, 1, 7, Activation::kRelu},          // depthwise s1
                      ConvCase{13, 15, 15, 13, 3, 2, 1, 13, Activation::kRelu},      // depthwise s2 odd
                      ConvCase{37, 6, 5, 29, 1, 1, 0, 1, Activation::kLeakyRelu},    // pointwise odd widths
                      ConvCase{10, 7, 7, 21, 3, 1, 1, 1, Activation::kLeakyRelu},    // neck 3x3
                      ConvCase{6, 5, 8, 9, 3, 1, 1, 3, Activation::kNone},           // grouped
                      ConvCase{4, 4, 4, 2, 5, 1, 2, 1, Activation::kNone}),          // 5x5, pad 2
    [](const ::testing::TestParamInfo<ConvCase>& info) {
      const ConvCase& c = info.param;
      return "c" + std::to_string(c.cin) + "_h" + std::to_string(c.h) + "_w" + std::to_string(c.w) + "_o" +
             std::to_string(c.cout) + "_k" + std::to_string(c.k) + "_s" + std::to_string(c.stride) + "_g" +
             std::to_string(c.groups);
    });

}  // namespace
}  // namespace tx2yolo

namespace tx2yolo {
namespace {

// The split-K plan (kernels/conv2d.h) over every conv layer of the three
// full-width architectures at 320/416/608, batch 1 and 8, on GPUs from the
// TX2's 2 SMs to 144: the ranges cover k exactly once in whole k-steps, none
// is empty, the split is bounded, and a GPU that is already full (2 tiles per
// SM) never splits. On the TX2 nothing at batch 1 splits.
TEST(Conv2dSplitK, PlanCoversTheReductionAndSplitsOnlyIdleGpus) {
  int planned = 0, split = 0;
  for (int arch = 0; arch < 3; ++arch) {
    ArchitectureSpec spec;
    spec.separable_head = arch > 0;
    if (arch == 2) {  // r578: 0.5 / 0.7 / 0.8 of each detection block pruned
      const double ratios[3] = {0.5, 0.7, 0.8};
      for (int i = 0; i < 3; ++i)
        for (int& w : spec.det_block[static_cast<std::size_t>(i)]) w -= static_cast<int>(std::lround(w * ratios[i]));
    }
    const ArchitectureGraph g = build_yolov3_mobilenet_v1(spec);
    WeightShapes weights;
    for (const auto& t : g.weights) weights[t.first] = t.second;
    for (int size : {320, 416, 608}) {
      const auto shapes = infer_shapes(g.graph, weights, size, size);
      for (const Node& n : g.graph.nodes) {
        if (n.op != OpKind::kConv2d) continue;
        for (int batch : {1, 8}) {
          const Conv2dParams p = conv2d_params_for(n, shapes.at(n.inputs[0]), conv_out_channels(n, weights), batch);
          const long long K = static_cast<long long>(p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
          const long long tiles = static_cast<long long>((p.out_h * p.out_w + 63) / 64) *
                                  ((p.out_channels / p.groups + 63) / 64) * batch * p.groups;
          for (int sms : {2, 8, 46, 80, 132, 144}) {
            const int s = conv2d_splitk_splits(p, sms);
            ++planned;
            ASSERT_GE(s, 1);
            ASSERT_LE(s, 16);
            if (tiles >= 2LL * sms) {
              EXPECT_EQ(s, 1) << n.name << " @" << size << " b" << batch << " on " << sms;
            }
            if (sms == 2 && batch == 1) {
              EXPECT_EQ(s, 1) << n.name << " @" << size << " would split on a TX2";
            }
            if (s == 1) continue;
            ++split;
            const int chunk = conv2d_splitk_chunk(p, s);
            EXPECT_EQ(chunk % kConv2dGemmStepK, 0);
            EXPECT_GE(static_cast<long long>(chunk) * s, K) << n.name << ": the ranges miss part of k";
            EXPECT_LT(static_cast<long long>(chunk) * (s - 1), K) << n.name << ": the last range is empty";
          }
        }
      }
    }
  }
  EXPECT_GT(split, 100) << "of " << planned << " plans";  // the deep layers at small maps on big GPUs do split
  std::printf("%d of %d plans split\n", split, planned);
}

}  // namespace
}  // namespace tx2yolo
