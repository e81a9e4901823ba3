// preprocess CPU reference: colour order, normalisation, layout, and the
// resize being OpenCV's INTER_CUBIC called with fx/fy as PaddleDetection does.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "kernels/preprocess.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

TEST(Preprocess, SwapsBgrToRgbAndNormalisesLikeNumpy) {
  // A uniform image resizes to the same value everywhere, so each output plane
  // is ((p * f32(1/255)) - mean) / std for the RGB channel's source byte.
  cv::Mat img(3, 5, CV_8UC3, cv::Scalar(10, 20, 30));  // B=10, G=20, R=30
  PreprocessParams p;
  p.src_h = 3;
  p.src_w = 5;
  p.dst_h = 4;
  p.dst_w = 6;
  std::vector<float> out(3 * 4 * 6);
  preprocess_cpu(p, img.ptr<std::uint8_t>(0), out.data());
  const int bytes[3] = {30, 20, 10};  // R, G, B
  for (int c = 0; c < 3; ++c) {
    const float a = static_cast<float>(bytes[c]) * static_cast<float>(1.0 / 255.0);
    const float b = static_cast<float>(static_cast<double>(a) - p.mean[c]);
    const float expected = static_cast<float>(static_cast<double>(b) / p.std[c]);
    for (int i = 0; i < 24; ++i) ASSERT_EQ(out[c * 24 + i], expected) << "channel " << c << " index " << i;
  }
  // R plane: (30/255 - 0.485) / 0.229 = -1.60423...
  EXPECT_NEAR(out[0], (30.0 / 255.0 - 0.485) / 0.229, 1e-6);
}

TEST(Preprocess, UsesCubicResizeWithScaleFactors) {
  cv::Mat img(7, 9, CV_8UC3);
  cv::randu(img, 0, 256);
  PreprocessParams p;
  p.src_h = 7;
  p.src_w = 9;
  p.dst_h = 32;
  p.dst_w = 64;
  p.swap_rb = false;
  p.mean[0] = p.mean[1] = p.mean[2] = 0.0;
  p.std[0] = p.std[1] = p.std[2] = 1.0;
  p.scale = 1.0;
  std::vector<float> out(3 * 32 * 64);
  preprocess_cpu(p, img.ptr<std::uint8_t>(0), out.data());
  cv::Mat expected;
  cv::resize(img, expected, cv::Size(), 64.0 / 9, 32.0 / 7, cv::INTER_CUBIC);
  ASSERT_EQ(expected.rows, 32);
  ASSERT_EQ(expected.cols, 64);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(out[(c * 32 + y) * 64 + x], expected.at<cv::Vec3b>(y, x)[c]) << y << "," << x << "," << c;
}

TEST(Preprocess, RejectsEmptyImagesAndZeroStd) {
  PreprocessParams p;
  p.dst_h = p.dst_w = 32;
  std::vector<float> out(3 * 32 * 32);
  std::uint8_t pixel[3] = {0, 0, 0};
  EXPECT_THROW(preprocess_cpu(p, pixel, out.data()), Error);  // src 0x0
  p.src_h = p.src_w = 1;
  p.std[1] = 0.0;
  EXPECT_THROW(preprocess_cpu(p, pixel, out.data()), Error);
}

// The CUDA frame graph is keyed by these params: every field must count.
TEST(Preprocess, ParamsCompareFieldByField) {
  PreprocessParams p;
  p.src_h = p.src_w = 100;
  p.dst_h = p.dst_w = 320;
  using Change = void (*)(PreprocessParams*);
  const std::vector<Change> changes = {
      [](PreprocessParams* q) { q->src_h = 99; },   [](PreprocessParams* q) { q->src_w = 99; },
      [](PreprocessParams* q) { q->dst_h = 416; },  [](PreprocessParams* q) { q->dst_w = 416; },
      [](PreprocessParams* q) { q->mean[0] = 0; },  [](PreprocessParams* q) { q->mean[2] = 0; },
      [](PreprocessParams* q) { q->std[1] = 1; },   [](PreprocessParams* q) { q->std[2] = 1; },
      [](PreprocessParams* q) { q->scale = 1.0; },  [](PreprocessParams* q) { q->swap_rb = false; }};
  testing_util::expect_field_wise_equality(p, changes);
}

}  // namespace
}  // namespace tx2yolo
