// Every CUDA kernel against its CPU reference: seeded random inputs, outputs
// poisoned (NaN) before the kernel runs, odd sizes, stride 2 on odd inputs,
// channel counts that are not multiples of 4, 8 or 32, and every conv layer
// shape of the real model (standard and separable head) at 320 and 608,
// taken from the graph. Skips without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "engine/selftest.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_dwpw.h"
#include "kernels/conv2d_launch.h"
#include "kernels/tolerance.h"
#include "kernels/upsample_nearest.h"
#include "kernels/yolo_box.h"
#include "layers/conv_layer.h"
#include "tests/gpu_test_util.h"
#include "tests/test_util.h"
#include "weights/architecture.h"

#ifdef TX2YOLO_WITH_CUDA
#include "kernels/cuda/conv2d_cudnn.h"

namespace tx2yolo {
namespace {

using testing_util::all_close;
using testing_util::conv_params;
using testing_util::from_device;
using testing_util::poisoned;
using testing_util::random_floats;
using testing_util::poisoned_half;
using testing_util::to_device;
using testing_util::to_device_half;

// Weights scaled by 1/sqrt(fan-in) so outputs stay O(1) at any depth of K.
std::vector<float> conv_weights(const Conv2dParams& p, std::uint32_t seed) {
  const int fan_in = p.in_channels / p.groups * p.kernel_h * p.kernel_w;
  const float limit = std::sqrt(3.f / static_cast<float>(fan_in));
  return random_floats(static_cast<std::size_t>(p.out_channels) * fan_in, seed, -limit, limit);
}

std::vector<float> rounded_to_half(std::vector<float> v) {
  for (float& x : v) x = testing_util::round_to_half(x);
  return v;
}

// Runs one conv on the GPU (given kernel) and the CPU, both outputs poisoned
// first. An FP16 kernel is held to the CPU reference fed the same operands
// rounded to FP16 (products of FP16 values are exact in FP32, so only the
// summation order differs), with a looser bound for the tensor cores' FP32
// accumulation. With half_storage the activations are FP16 on the device:
// the input is rounded to FP16 first (the reference sees the same values),
// and the output, rounded once to FP16, is held within half an FP16 step
// (relative 2^-11) plus float rounding of the reference.
::testing::AssertionResult conv_matches(const Conv2dParams& p, Conv2dCudaKernel kernel, std::uint32_t seed,
                                        bool half_storage = false) {
  auto in = random_floats(static_cast<std::size_t>(p.batch) * p.in_channels * p.in_h * p.in_w, seed);
  if (half_storage) in = rounded_to_half(in);
  const auto w = conv_weights(p, seed + 1);
  const auto b = random_floats(static_cast<std::size_t>(p.out_channels), seed + 2);
  const std::size_t out_n = static_cast<std::size_t>(p.batch) * p.out_channels_total * p.out_h * p.out_w;
  std::vector<float> expected(out_n, std::numeric_limits<float>::quiet_NaN());
  const bool fp16 = conv2d_cuda_kernel_is_fp16(kernel);
  const Tolerance tol = conv2d_tolerance(kernel, half_storage);
  std::vector<float> magnitude;  // sum |w x| per output, where the bound scales with it
  if (fp16) {
    const std::vector<float> in16 = rounded_to_half(in), w16 = rounded_to_half(w);
    conv2d_cpu(p, in16.data(), w16.data(), b.data(), expected.data());
    if (tol.sum_abs > 0.f) magnitude = conv2d_abs_products(p, in16.data(), w16.data());
  } else {
    conv2d_cpu(p, in.data(), w.data(), b.data(), expected.data());
    if (tol.sum_abs > 0.f) magnitude = conv2d_abs_products(p, in.data(), w.data());
  }
  auto d_w = to_device(w), d_b = to_device(b);
  // The split-K workspace starts poisoned too: a partial sum it never wrote would show as NaN.
  auto d_ws = poisoned(std::max<std::size_t>(1, conv2d_cuda_workspace_floats(p, kernel)));
  std::vector<float> got;
  if (half_storage) {
    auto d_in = to_device_half(in);
    auto d_out = poisoned_half(out_n);
    conv2d_cuda(p, d_in.data(), d_w.data(), d_b.data(), d_out.data(), nullptr, kernel, d_ws.data());
    got = from_device(d_out);
  } else {
    auto d_in = to_device(in);
    auto d_out = poisoned(out_n);
    conv2d_cuda(p, d_in.data(), d_w.data(), d_b.data(), d_out.data(), nullptr, kernel, d_ws.data());
    got = from_device(d_out);
  }
  // Channels outside the slice stay NaN in both; compare the slice only.
  std::vector<float> got_slice, expected_slice, magnitude_slice;
  const std::size_t plane = static_cast<std::size_t>(p.out_h) * p.out_w;
  for (int n = 0; n < p.batch; ++n)
    for (int c = 0; c < p.out_channels_total; ++c) {
      const bool inside = c >= p.out_channel_offset && c < p.out_channel_offset + p.out_channels;
      for (std::size_t i = 0; i < plane; ++i) {
        const std::size_t k = (static_cast<std::size_t>(n) * p.out_channels_total + c) * plane + i;
        if (inside) {
          got_slice.push_back(got[k]);
          expected_slice.push_back(expected[k]);
          if (!magnitude.empty()) magnitude_slice.push_back(magnitude[k]);
        } else if (!std::isnan(got[k])) {
          return ::testing::AssertionFailure() << "wrote outside its channel slice at channel " << c;
        }
      }
    }
  // The bounds (kernels/tolerance.h) that selftest uses too.
  return all_close(got_slice, expected_slice, tol, magnitude.empty() ? nullptr : &magnitude_slice);
}

TEST(GpuConv2d, GemmMatchesCpuOnOddShapes) {
  SKIP_WITHOUT_GPU();
  const Activation L = Activation::kLeakyRelu, R = Activation::kRelu, N = Activation::kNone;
  const std::vector<Conv2dParams> cases = {
      conv_params(1, 3, 17, 13, 5, 3, 3, 2, 2, 1, 1, 1, R),     // stem-like, stride 2 on odd sizes
      conv_params(2, 37, 6, 5, 29, 1, 1, 1, 1, 0, 0, 1, L),     // pointwise, odd widths, batch 2
      conv_params(1, 10, 7, 7, 21, 3, 3, 1, 1, 1, 1, 1, L),     // neck 3x3
      conv_params(1, 6, 5, 8, 9, 3, 3, 1, 1, 1, 1, 3, N),       // grouped
      conv_params(1, 3, 9, 14, 5, 3, 1, 1, 2, 1, 0, 1, L),      // non-square kernel and stride
      conv_params(1, 130, 3, 3, 67, 1, 1, 1, 1, 0, 0, 1, N),    // K and M across tile edges
      conv_params(1, 64, 11, 11, 65, 3, 3, 1, 1, 1, 1, 1, L),   // M one past a tile
      conv_params(2, 96, 5, 6, 40, 3, 3, 1, 1, 1, 1, 2, L)};    // grouped, batch 2, long K: split-K
  std::uint32_t seed = 100;
  int split = 0;
  for (const Conv2dParams& p : cases) {
    // Every GEMM-shaped tactic this device offers (gemm128 only under
    // TX2YOLO_UNVERIFIED_KERNELS=1, as gpu-check sets it).
    for (Conv2dCudaKernel k : kConv2dCudaTactics) {
      if (k == Conv2dCudaKernel::kDepthwise || !conv2d_cuda_supports(p, k)) continue;
      for (bool half : {false, true}) {
        if (!half && conv2d_cuda_kernel_needs_fp16_storage(k)) continue;
        if (half && conv2d_cuda_kernel_needs_fp32_storage(k)) continue;
        EXPECT_TRUE(conv_matches(p, k, seed += 10, half))
            << conv2d_cuda_kernel_name(k) << (half ? " fp16 storage " : " ") << p.in_channels << "->"
            << p.out_channels << " k" << p.kernel_h << "x" << p.kernel_w << " g" << p.groups << " b" << p.batch;
      }
      split += k == Conv2dCudaKernel::kGemmSplitK;
    }
  }
  // Split-K splits only where the device has SMs to spare (never on a TX2).
  if (cuda_device_info(0).multiprocessors >= 16) {
    EXPECT_GE(split, 3);
  }
  std::printf("split-K ran on %d of %zu shapes\n", split, cases.size());
}

TEST(GpuConv2d, Half2KernelRefusesFloatStorage) {
  SKIP_WITHOUT_GPU();
  const Conv2dParams p = conv_params(1, 8, 5, 5, 8, 3, 3, 1, 1, 1, 1, 1, Activation::kRelu);
  auto d = poisoned(8 * 25 * 2), w = poisoned(8 * 8 * 9);
  try {
    conv2d_cuda(p, d.data(), w.data(), nullptr, d.data() + 200, nullptr, Conv2dCudaKernel::kGemmHalf2);
    if (conv2d_cuda_supports(p, Conv2dCudaKernel::kGemmHalf2)) ADD_FAILURE() << "float storage was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gemm64-half2"), std::string::npos) << e.what();
  }
}

// The cudnn tactic: offered wherever libcudnn loads (gpu-check sets
// TX2YOLO_EXPECT_CUDNN to the major versions of the libcudnn.so.N it found on
// the library path; one of them this build's), then for every real layer
// shape at batch 1 and for a batch-2 whole tensor, but not for a channel
// slice at batch 2; refuses FP16 storage. Its results are checked with every
// other tactic's (GemmMatchesCpuOnOddShapes, EveryModelLayerShapeAt320And608).
TEST(GpuConv2d, CudnnTacticIsOfferedWhereCudnnLoads) {
  SKIP_WITHOUT_GPU();
  std::string why;
  const bool available = conv2d_cudnn_available(&why);
  std::printf("cudnn tactic: %s\n", available ? "available" : why.c_str());
  const char* expect = std::getenv("TX2YOLO_EXPECT_CUDNN");
  const std::string major = cat(" ", conv2d_cudnn_header_major(), " ");
  const bool turned_off = why.find("TX2YOLO_NO_CUDNN") != std::string::npos;  // gpu-check's sanitizer runs
  if (expect != nullptr && !turned_off && conv2d_cudnn_header_major() > 0 &&
      (" " + std::string(expect) + " ").find(major) != std::string::npos) {
    EXPECT_TRUE(available) << why;
  }
  if (!available) return;
  int offered = 0, shapes = 0;
  for (const ConvShape& shape : distinct_conv_shapes({320, 608})) {
    offered += conv2d_cuda_supports(conv2d_params_for(shape.node, shape.in, shape.out_channels, 1),
                                    Conv2dCudaKernel::kCudnn);
    ++shapes;
  }
  EXPECT_EQ(offered, shapes);
  Conv2dParams whole = conv_params(2, 8, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, Activation::kLeakyRelu);
  EXPECT_TRUE(conv2d_cuda_supports(whole, Conv2dCudaKernel::kCudnn));
  EXPECT_TRUE(conv_matches(whole, Conv2dCudaKernel::kCudnn, 777));
  Conv2dParams slice = whole;
  slice.out_channel_offset = 1;
  slice.out_channels_total = 9;
  finalize_conv2d_params(slice);
  EXPECT_FALSE(conv2d_cuda_supports(slice, Conv2dCudaKernel::kCudnn));
  auto d = poisoned(8 * 63 * 2), w = poisoned(6 * 8 * 9);
  const Conv2dParams one = conv_params(1, 8, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, Activation::kRelu);
  auto h = poisoned_half(8 * 63 * 2);
  try {
    conv2d_cuda(one, h.data(), w.data(), nullptr, h.data() + 8 * 63, nullptr, Conv2dCudaKernel::kCudnn,
                d.data());
    ADD_FAILURE() << "FP16 storage was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FP32 activation storage only"), std::string::npos) << e.what();
  }
}

// cudnn-fp16 (FP16 data, tensor-op math where the device has tensor cores):
// offered wherever the FP32 cudnn tactic is, for every real layer shape at
// batch 1, matching the CPU fed the same FP16-rounded operands (with the bound
// for its double rounding, kernels/tolerance.h) on a whole batch-2 tensor and
// at batch 1 into a channel slice; refuses FP32 storage.
TEST(GpuConv2d, CudnnFp16TacticMatchesCpuWhereCudnnLoads) {
  SKIP_WITHOUT_GPU();
  std::string why;
  if (!conv2d_cudnn_available(&why)) GTEST_SKIP() << "cuDNN not loaded: " << why;
  int offered = 0, shapes = 0;
  for (const ConvShape& shape : distinct_conv_shapes({320, 608})) {
    const Conv2dParams p = conv2d_params_for(shape.node, shape.in, shape.out_channels, 1);
    offered += conv2d_cuda_supports(p, Conv2dCudaKernel::kCudnnFp16);
    ++shapes;
  }
  EXPECT_EQ(offered, shapes);
  const Conv2dParams whole = conv_params(2, 8, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, Activation::kLeakyRelu);
  ASSERT_TRUE(conv2d_cuda_supports(whole, Conv2dCudaKernel::kCudnnFp16));
  EXPECT_TRUE(conv_matches(whole, Conv2dCudaKernel::kCudnnFp16, 787, true));
  Conv2dParams slice = conv_params(1, 64, 11, 11, 40, 3, 3, 1, 1, 1, 1, 1, Activation::kRelu);
  slice.out_channel_offset = 8;
  slice.out_channels_total = 56;
  finalize_conv2d_params(slice);
  EXPECT_TRUE(conv_matches(slice, Conv2dCudaKernel::kCudnnFp16, 797, true));
  auto d = poisoned(std::max<std::size_t>(1, conv2d_cuda_workspace_floats(whole, Conv2dCudaKernel::kCudnnFp16)));
  auto x = poisoned(8 * 63 * 4), w = poisoned(6 * 8 * 9);
  try {
    conv2d_cuda(whole, x.data(), w.data(), nullptr, x.data() + 8 * 63 * 2, nullptr, Conv2dCudaKernel::kCudnnFp16,
                d.data());
    ADD_FAILURE() << "FP32 storage was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FP16 activation storage only"), std::string::npos) << e.what();
  }
}

// The fused depthwise + pointwise kernel against the two CPU convs, at odd
// shapes: channels not a multiple of the 16-channel step, maps not a
// multiple of the 64-pixel tile, output channels past a 64 tile, 3x3 (the
// unrolled kernel) and 5x5 / 1x3 (the general one), both strides, batch 2,
// leaky ReLU on the depthwise side, and a channel slice of the output. At
// FP16 storage the reference sees the input and the intermediate rounded
// to FP16, as the kernel stores them.
TEST(GpuConv2d, FusedDepthwisePointwiseMatchesCpu) {
  SKIP_WITHOUT_GPU();
  struct Shape {
    int batch, c, h, w, k_h, k_w, stride, c_out, offset, total;
  };
  const Shape shapes[] = {{1, 20, 7, 9, 3, 3, 1, 70, 0, 70},  {2, 13, 11, 10, 3, 3, 2, 5, 0, 5},
                          {1, 33, 9, 9, 5, 5, 1, 64, 3, 80},  {2, 8, 5, 17, 1, 3, 1, 130, 0, 130},
                          {1, 64, 19, 19, 3, 3, 1, 65, 0, 65}};
  std::uint32_t seed = 2000;
  for (const Shape& s : shapes)
    for (bool half : {false, true}) {
      SCOPED_TRACE(cat(s.c, "x", s.h, "x", s.w, " k", s.k_h, "x", s.k_w, " s", s.stride, " -> ", s.c_out, " b",
                       s.batch, half ? " fp16" : " fp32"));
      Conv2dDwPwParams p;
      p.dw = conv_params(s.batch, s.c, s.h, s.w, s.c, s.k_h, s.k_w, s.stride, s.stride, s.k_h / 2, s.k_w / 2, s.c,
                    Activation::kLeakyRelu);
      p.pw = conv_params(s.batch, s.c, p.dw.out_h, p.dw.out_w, s.c_out, 1, 1, 1, 1, 0, 0, 1, Activation::kRelu);
      p.pw.out_channel_offset = s.offset;
      p.pw.out_channels_total = s.total;
      finalize_conv2d_params(p.pw);
      auto in = random_floats(static_cast<std::size_t>(s.batch) * s.c * s.h * s.w, seed += 10);
      if (half) in = rounded_to_half(in);
      const auto dw_w = conv_weights(p.dw, seed + 1), pw_w = conv_weights(p.pw, seed + 2);
      const auto dw_b = random_floats(static_cast<std::size_t>(s.c), seed + 3);
      const auto pw_b = random_floats(static_cast<std::size_t>(s.c_out), seed + 4);
      std::vector<float> mid(static_cast<std::size_t>(s.batch) * s.c * p.dw.out_h * p.dw.out_w);
      conv2d_cpu(p.dw, in.data(), dw_w.data(), dw_b.data(), mid.data());
      if (half) mid = rounded_to_half(mid);
      const std::size_t plane = static_cast<std::size_t>(p.pw.out_h) * p.pw.out_w;
      const std::size_t out_n = static_cast<std::size_t>(s.batch) * s.total * plane;
      std::vector<float> expected(out_n, std::numeric_limits<float>::quiet_NaN());
      conv2d_cpu(p.pw, mid.data(), pw_w.data(), pw_b.data(), expected.data());
      auto d_dw_w = to_device(dw_w), d_dw_b = to_device(dw_b), d_pw_w = to_device(pw_w), d_pw_b = to_device(pw_b);
      std::vector<float> got;
      if (half) {
        auto d_in = to_device_half(in);
        auto d_out = poisoned_half(out_n);
        conv2d_dwpw_cuda(p, d_in.data(), d_dw_w.data(), d_dw_b.data(), d_pw_w.data(), d_pw_b.data(), d_out.data(),
                         nullptr);
        got = from_device(d_out);
      } else {
        auto d_in = to_device(in);
        auto d_out = poisoned(out_n);
        conv2d_dwpw_cuda(p, d_in.data(), d_dw_w.data(), d_dw_b.data(), d_pw_w.data(), d_pw_b.data(), d_out.data(),
                         nullptr);
        got = from_device(d_out);
      }
      std::vector<float> got_slice, expected_slice;
      for (int n = 0; n < s.batch; ++n)
        for (int c = 0; c < s.total; ++c)
          for (std::size_t i = 0; i < plane; ++i) {
            const std::size_t k = (static_cast<std::size_t>(n) * s.total + c) * plane + i;
            if (c >= s.offset && c < s.offset + s.c_out) {
              got_slice.push_back(got[k]);
              expected_slice.push_back(expected[k]);
            } else {
              EXPECT_TRUE(std::isnan(got[k])) << "wrote outside its slice at channel " << c;
            }
          }
      // FP16: an intermediate at a rounding tie may round the other way
      // (the GPU's depthwise sum runs in another order than the CPU's).
      EXPECT_TRUE(all_close(got_slice, expected_slice, half ? tolerance::kDwPwFp16Storage : tolerance::kConvFp32));
    }
  Conv2dDwPwParams not_pointwise;
  not_pointwise.dw = conv_params(1, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 4, Activation::kRelu);
  not_pointwise.pw = conv_params(1, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, Activation::kRelu);
  auto buf = poisoned(4 * 36 * 2);
  try {
    conv2d_dwpw_cuda(not_pointwise, buf.data(), buf.data(), nullptr, buf.data(), nullptr, buf.data() + 144, nullptr);
    ADD_FAILURE() << "a 3x3 second conv was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not pointwise"), std::string::npos) << e.what();
  }
}

TEST(GpuConv2d, DepthwiseMatchesCpuOnOddShapesAndBothStrides) {
  SKIP_WITHOUT_GPU();
  std::uint32_t seed = 300;
  for (int stride : {1, 2})
    for (int size : {1, 7, 15, 33, 40}) {
      const Conv2dParams p = conv_params(1, 13, size, size + 2, 13, 3, 3, stride, stride, 1, 1, 13, Activation::kRelu);
      EXPECT_TRUE(conv_matches(p, Conv2dCudaKernel::kDepthwise, seed += 10)) << "size " << size << " s" << stride;
      EXPECT_TRUE(conv_matches(p, Conv2dCudaKernel::kDepthwise, seed += 10, true)) << "fp16 storage, size " << size;
      EXPECT_TRUE(conv_matches(p, Conv2dCudaKernel::kGemm, seed += 10)) << "gemm, size " << size << " s" << stride;
      EXPECT_TRUE(conv_matches(p, Conv2dCudaKernel::kGemmSmall, seed += 10)) << "gemm32, size " << size;
    }
  const Conv2dParams k5 = conv_params(2, 6, 9, 9, 6, 5, 5, 1, 1, 2, 2, 6, Activation::kLeakyRelu);
  EXPECT_TRUE(conv_matches(k5, Conv2dCudaKernel::kDepthwise, 399));
}

// Chunked launches (kernels/conv2d_launch.h): at batch 64 the 1024-channel
// depthwise layer needs grid z = 65536, one past CUDA's limit, so the
// launcher runs it in two chunks with the pointers moved along the batch.
// Every image of both chunks against the CPU, at FP32 and FP16 storage.
TEST(GpuConv2d, ChunkedLaunchAtBatch64MatchesCpu) {
  SKIP_WITHOUT_GPU();
  const Conv2dParams p = conv_params(64, 1024, 19, 19, 1024, 3, 3, 1, 1, 1, 1, 1024, Activation::kLeakyRelu);
  const LaunchGeometry g = conv2d_cuda_geometry(p, Conv2dCudaKernel::kDepthwise);
  ASSERT_TRUE(g.fits) << g.why;
  ASSERT_GT(g.launches, 1) << "batch 64 of 1024 channels should need more than one launch";
  EXPECT_TRUE(conv_matches(p, Conv2dCudaKernel::kDepthwise, 610)) << g.launches << " launches, fp32";
  EXPECT_TRUE(conv_matches(p, Conv2dCudaKernel::kDepthwise, 620, true)) << g.launches << " launches, fp16 storage";
  std::printf("depthwise 1024 channels, batch 64: %d launches of at most %d images\n", g.launches,
              g.images_per_launch);
}

TEST(GpuConv2d, WritesOnlyItsConcatSlice) {
  SKIP_WITHOUT_GPU();
  Conv2dParams p = conv_params(1, 5, 9, 7, 3, 3, 3, 1, 1, 1, 1, 1, Activation::kLeakyRelu);
  p.out_channel_offset = 2;
  p.out_channels_total = 7;
  finalize_conv2d_params(p);
  Conv2dParams deep = conv_params(1, 64, 9, 7, 3, 3, 3, 1, 1, 1, 1, 1, Activation::kLeakyRelu);  // long K: split-K too
  deep.out_channel_offset = 2;
  deep.out_channels_total = 7;
  finalize_conv2d_params(deep);
  std::uint32_t seed = 500;
  for (const Conv2dParams* c : {&p, &deep})
    for (Conv2dCudaKernel k : kConv2dCudaTactics)
      if (k != Conv2dCudaKernel::kDepthwise && conv2d_cuda_supports(*c, k)) {
        if (!conv2d_cuda_kernel_needs_fp16_storage(k)) {
          EXPECT_TRUE(conv_matches(*c, k, ++seed)) << conv2d_cuda_kernel_name(k) << " K " << c->in_channels * 9;
        }
        if (!conv2d_cuda_kernel_needs_fp32_storage(k)) {
          EXPECT_TRUE(conv_matches(*c, k, ++seed, true)) << conv2d_cuda_kernel_name(k) << " fp16 storage";
        }
      }
  Conv2dParams dw = conv_params(1, 4, 9, 7, 4, 3, 3, 2, 2, 1, 1, 4, Activation::kRelu);
  dw.out_channel_offset = 3;
  dw.out_channels_total = 9;
  finalize_conv2d_params(dw);
  EXPECT_TRUE(conv_matches(dw, Conv2dCudaKernel::kDepthwise, 502));
}

// Every distinct conv shape of the full-width model, standard and separable,
// at 320 and 608, from the graph.
TEST(GpuConv2d, EveryModelLayerShapeAt320And608) {
  SKIP_WITHOUT_GPU();
  int checked = 0;
  std::uint32_t seed = 1000;
  for (const ConvShape& shape : distinct_conv_shapes({320, 608})) {
    const Conv2dParams p = conv2d_params_for(shape.node, shape.in, shape.out_channels, 1);
    // Every tactic a layer may choose (engine/tactics.h) at every real shape.
    for (Conv2dCudaKernel k : kConv2dCudaTactics) {
      if (conv2d_cuda_supports(p, k)) {
        if (!conv2d_cuda_kernel_needs_fp16_storage(k)) {
          EXPECT_TRUE(conv_matches(p, k, seed += 7)) << shape.name << " " << conv2d_cuda_kernel_name(k);
        }
        if (!conv2d_cuda_kernel_needs_fp32_storage(k)) {
          EXPECT_TRUE(conv_matches(p, k, seed += 7, true)) << shape.name << " " << conv2d_cuda_kernel_name(k)
                                                           << " fp16 storage";
        }
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 40);
  std::printf("checked %d distinct conv shapes\n", checked);
}

TEST(GpuUpsample, MatchesCpuIntoASlice) {
  SKIP_WITHOUT_GPU();
  UpsampleNearestParams p;
  p.batch = 1;
  p.channels = 5;
  p.in_h = 7;
  p.in_w = 3;
  p.out_channel_offset = 1;
  p.out_channels_total = 9;
  finalize_upsample_nearest_params(p);
  const auto in = random_floats(5 * 7 * 3, 77);
  const std::size_t out_n = 9 * 14 * 6;
  std::vector<float> expected(out_n, std::numeric_limits<float>::quiet_NaN());
  upsample_nearest_cpu(p, in.data(), expected.data());
  auto d_in = to_device(in);
  auto d_out = poisoned(out_n);
  upsample_nearest_cuda(p, d_in.data(), d_out.data(), nullptr);
  const auto got = from_device(d_out);
  // FP16 storage: a copy of FP16 values, so exactly the rounded reference.
  auto h_in = to_device_half(in);
  auto h_out = poisoned_half(out_n);
  upsample_nearest_cuda(p, h_in.data(), h_out.data(), nullptr);
  const auto got_half = from_device(h_out);
  for (std::size_t i = 0; i < out_n; ++i) {
    if (std::isnan(expected[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << i;
      ASSERT_TRUE(std::isnan(got_half[i])) << i;
    } else {
      ASSERT_EQ(got[i], expected[i]) << i;
      ASSERT_EQ(got_half[i], testing_util::round_to_half(expected[i])) << i;
    }
  }
}

TEST(GpuConcat, MatchesCpuWithOddChannelCounts) {
  SKIP_WITHOUT_GPU();
  ConcatParams p;
  p.batch = 2;
  p.height = 5;
  p.width = 3;
  p.num_inputs = 3;
  p.channels[0] = 3;
  p.channels[1] = 1;
  p.channels[2] = 6;
  std::vector<std::vector<float>> host;
  std::vector<DeviceBuffer<float>> dev;
  std::vector<const float*> hp, dp;
  for (int i = 0; i < 3; ++i) {
    host.push_back(random_floats(static_cast<std::size_t>(2) * p.channels[i] * 15, 80 + i));
    dev.push_back(to_device(host.back()));
  }
  for (int i = 0; i < 3; ++i) {
    hp.push_back(host[i].data());
    dp.push_back(dev[i].data());
  }
  std::vector<float> expected(2 * 10 * 15);
  concat_cpu(p, hp.data(), expected.data());
  auto d_out = poisoned(expected.size());
  concat_cuda(p, dp.data(), d_out.data(), nullptr);
  EXPECT_EQ(from_device(d_out), expected);
  // FP16 storage: the same copy of FP16 values.
  std::vector<DeviceBuffer<half_t>> hdev;
  std::vector<const half_t*> hdp;
  for (int i = 0; i < 3; ++i) hdev.push_back(to_device_half(host[i]));
  for (int i = 0; i < 3; ++i) hdp.push_back(hdev[i].data());
  auto h_out = poisoned_half(expected.size());
  concat_cuda(p, hdp.data(), h_out.data(), nullptr);
  EXPECT_EQ(from_device(h_out), rounded_to_half(expected));
}

TEST(GpuYoloBox, ThreeLevelsInOneLaunchMatchCpu) {
  SKIP_WITHOUT_GPU();
  // The problem selftest checks too (engine/selftest.h).
  const YoloBoxProblem pr = yolo_box_selftest_problem(900);
  const int total = pr.total_boxes, C = pr.classes;
  const std::vector<YoloBoxParams>& levels = pr.levels;
  const std::vector<std::vector<float>>& host_in = pr.heads;
  std::vector<DeviceBuffer<float>> dev_in;
  for (const std::vector<float>& h : host_in) dev_in.push_back(to_device(h));
  std::vector<float> boxes(static_cast<std::size_t>(total) * 4), scores(static_cast<std::size_t>(total) * C);
  for (int i = 0; i < 3; ++i)
    yolo_box_cpu(levels[i], host_in[i].data(), boxes.data() + static_cast<std::size_t>(levels[i].score_offset) * 4,
                 scores.data());
  auto d_boxes = poisoned(boxes.size());
  auto d_scores = poisoned(scores.size());
  const float* inputs[3] = {dev_in[0].data(), dev_in[1].data(), dev_in[2].data()};
  yolo_box_cuda(levels.data(), inputs, 3, d_boxes.data(), d_scores.data(), nullptr);
  const auto got_boxes = from_device(d_boxes);
  const auto got_scores = from_device(d_scores);
  EXPECT_TRUE(all_close(got_boxes, boxes, tolerance::kYoloBoxBoxes));
  EXPECT_TRUE(all_close(got_scores, scores, tolerance::kYoloBoxScores));
  int gated = 0;
  for (std::size_t m = 0; m < static_cast<std::size_t>(total); ++m) {
    gated += scores[m] == 0.f;
    ASSERT_EQ(got_scores[m] == 0.f, scores[m] == 0.f) << "gate differs at box " << m;
  }
  EXPECT_GT(gated, 0);
  EXPECT_LT(gated, total);

  // FP16 head tensors: the decode widens them and computes in float, so it
  // matches the reference fed the same rounded heads.
  std::vector<float> boxes16(boxes.size()), scores16(scores.size());
  std::vector<DeviceBuffer<half_t>> half_in;
  for (int i = 0; i < 3; ++i) {
    const std::vector<float> rounded = rounded_to_half(host_in[i]);
    yolo_box_cpu(levels[i], rounded.data(), boxes16.data() + static_cast<std::size_t>(levels[i].score_offset) * 4,
                 scores16.data());
    half_in.push_back(to_device_half(rounded));
  }
  auto h_boxes = poisoned(boxes.size());
  auto h_scores = poisoned(scores.size());
  const half_t* half_inputs[3] = {half_in[0].data(), half_in[1].data(), half_in[2].data()};
  yolo_box_cuda(levels.data(), half_inputs, 3, h_boxes.data(), h_scores.data(), nullptr);
  EXPECT_TRUE(all_close(from_device(h_boxes), boxes16, tolerance::kYoloBoxBoxes)) << "fp16 heads";
  EXPECT_TRUE(all_close(from_device(h_scores), scores16, tolerance::kYoloBoxScores)) << "fp16 heads";
}

}  // namespace
}  // namespace tx2yolo

#endif  // TX2YOLO_WITH_CUDA
