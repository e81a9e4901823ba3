// CPU reference for preprocess (steps in kernels/preprocess.h). The resize is
// OpenCV's own, so it is bit-exact with PaddleDetection's cv2.resize call.
#include "kernels/preprocess.h"

#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace tx2yolo {

bool operator==(const PreprocessParams& a, const PreprocessParams& b) {
  for (int c = 0; c < 3; ++c)
    if (a.mean[c] != b.mean[c] || a.std[c] != b.std[c]) return false;
  return a.src_h == b.src_h && a.src_w == b.src_w && a.dst_h == b.dst_h && a.dst_w == b.dst_w &&
         a.scale == b.scale && a.swap_rb == b.swap_rb;
}

void validate_preprocess_params(const PreprocessParams& p) {
  TX2_REQUIRE(p.src_h > 0 && p.src_w > 0, "preprocess: empty source image (", p.src_w, "x", p.src_h, ")");
  TX2_REQUIRE(p.dst_h > 0 && p.dst_w > 0, "preprocess: bad target size ", p.dst_w, "x", p.dst_h);
  for (int c = 0; c < 3; ++c) TX2_REQUIRE(p.std[c] != 0.0, "preprocess: std[", c, "] is zero");
}

void preprocess_cpu(const PreprocessParams& p, const std::uint8_t* bgr, float* out) {
  validate_preprocess_params(p);
  const cv::Mat src(p.src_h, p.src_w, CV_8UC3, const_cast<std::uint8_t*>(bgr));
  cv::Mat resized;
  const double fx = static_cast<double>(p.dst_w) / p.src_w;
  const double fy = static_cast<double>(p.dst_h) / p.src_h;
  cv::resize(src, resized, cv::Size(), fx, fy, cv::INTER_CUBIC);
  TX2_REQUIRE(resized.rows == p.dst_h && resized.cols == p.dst_w, "preprocess: cv::resize gave ",
              resized.cols, "x", resized.rows, ", expected ", p.dst_w, "x", p.dst_h);
  const float scale = static_cast<float>(p.scale);
  const std::size_t plane = static_cast<std::size_t>(p.dst_h) * p.dst_w;
  for (int y = 0; y < p.dst_h; ++y) {
    const std::uint8_t* row = resized.ptr<std::uint8_t>(y);
    for (int x = 0; x < p.dst_w; ++x) {
      for (int c = 0; c < 3; ++c) {  // c = output (RGB) channel
        const int src_c = p.swap_rb ? 2 - c : c;
        const float a = static_cast<float>(row[x * 3 + src_c]) * scale;
        const float b = static_cast<float>(static_cast<double>(a) - p.mean[c]);
        out[c * plane + static_cast<std::size_t>(y) * p.dst_w + x] =
            static_cast<float>(static_cast<double>(b) / p.std[c]);
      }
    }
  }
}

}  // namespace tx2yolo
