// GPU preprocessing against the CPU reference (cv::resize INTER_CUBIC +
// normalisation): resized levels within +-1, and how many differ at all.
// Skips without a GPU.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "kernels/preprocess.h"
#include "kernels/tolerance.h"
#include "tests/gpu_test_util.h"
#include "tests/test_util.h"

#ifdef TX2YOLO_WITH_CUDA

namespace tx2yolo {
namespace {

struct Diff {
  float max_abs = 0;
  double fraction = 0;
};

Diff compare(const PreprocessParams& p, const cv::Mat& img) {
  std::vector<float> expected(static_cast<std::size_t>(3) * p.dst_h * p.dst_w);
  preprocess_cpu(p, img.ptr<std::uint8_t>(0), expected.data());
  auto out = testing_util::poisoned(expected.size());
  PreprocessCuda gpu;
  gpu.run(p, img.ptr<std::uint8_t>(0), out.data(), nullptr);
  const std::vector<float> got = testing_util::from_device(out);
  Diff d;
  std::size_t differ = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float e = std::fabs(got[i] - expected[i]);
    d.max_abs = std::isnan(got[i]) ? std::numeric_limits<float>::infinity() : std::max(d.max_abs, e);
    differ += e > 0;
  }
  d.fraction = static_cast<double>(differ) / got.size();
  return d;
}

TEST(GpuPreprocess, ResizedLevelsWithinOneOfOpenCv) {
  SKIP_WITHOUT_GPU();
  cv::RNG rng(12345);
  const int sizes[][4] = {{375, 500, 608, 608}, {1080, 1920, 416, 416}, {7, 9, 32, 64},
                          {1, 1, 32, 32},       {480, 640, 320, 416},   {59, 63, 608, 608}};
  for (const auto& s : sizes) {
    cv::Mat img(s[0], s[1], CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(img, img, cv::Size(3, 3), 0);  // photo-like neighbourhoods, not pure noise
    PreprocessParams p;
    p.src_h = s[0];
    p.src_w = s[1];
    p.dst_h = s[2];
    p.dst_w = s[3];
    p.mean[0] = p.mean[1] = p.mean[2] = 0.0;  // output = resized level
    p.std[0] = p.std[1] = p.std[2] = 1.0;
    p.scale = 1.0;
    const Diff d = compare(p, img);
    EXPECT_LE(d.max_abs, tolerance::kPreprocessMaxLevels) << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3];
    EXPECT_LT(d.fraction, tolerance::kPreprocessMaxFractionDiffering) << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3];
    std::printf("%dx%d -> %dx%d: %.4f%% of values differ from cv::resize, by at most %.0f level\n", s[0], s[1],
                s[2], s[3], 100 * d.fraction, d.max_abs);
  }
}

TEST(GpuPreprocess, NormalisationAndChannelOrderMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  cv::Mat img(3, 5, CV_8UC3, cv::Scalar(10, 20, 30));  // uniform: the resize is exact everywhere
  PreprocessParams p;
  p.src_h = 3;
  p.src_w = 5;
  p.dst_h = 32;
  p.dst_w = 32;
  const Diff d = compare(p, img);
  EXPECT_EQ(d.max_abs, 0.f);
}

// FP16 output: every value is the float path's, rounded to FP16 once.
TEST(GpuPreprocess, Fp16OutputIsTheFloatOutputRounded) {
  SKIP_WITHOUT_GPU();
  cv::Mat img(59, 83, CV_8UC3);
  cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(256));
  PreprocessParams p;
  p.src_h = 59;
  p.src_w = 83;
  p.dst_h = 64;
  p.dst_w = 96;
  const std::size_t n = static_cast<std::size_t>(3) * p.dst_h * p.dst_w;
  auto out32 = testing_util::poisoned(n);
  auto out16 = testing_util::poisoned_half(n);
  PreprocessCuda gpu;
  gpu.run(p, img.ptr<std::uint8_t>(0), out32.data(), nullptr);
  gpu.run(p, img.ptr<std::uint8_t>(0), out16.data(), nullptr);
  const std::vector<float> f32 = testing_util::from_device(out32), f16 = testing_util::from_device(out16);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(f16[i], testing_util::round_to_half(f32[i])) << i;
}

}  // namespace
}  // namespace tx2yolo

#endif  // TX2YOLO_WITH_CUDA
