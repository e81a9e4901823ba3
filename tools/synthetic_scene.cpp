// synthetic_scene (tools/image_read.h): drawn with OpenCV imgproc.
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "tools/image_read.h"

namespace tx2yolo {

cv::Mat synthetic_scene(int width, int height) {
  TX2_REQUIRE(width >= 64 && height >= 64 && width <= 8192 && height <= 8192, "synthetic scene size ", width, "x",
              height, " is outside [64, 8192]");
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(20261128);  // fixed seed: the same scene every run
  rng.fill(image, cv::RNG::UNIFORM, cv::Scalar(110, 110, 110), cv::Scalar(146, 146, 146));
  const int s = std::min(width, height);
  // Objects placed in fractions of the frame, sized like the demo data.
  cv::circle(image, {width / 5, height / 4}, s / 9, cv::Scalar(40, 40, 210), cv::FILLED, cv::LINE_AA);
  cv::circle(image, {width * 3 / 4, height * 3 / 4}, s / 14, cv::Scalar(60, 50, 190), cv::FILLED, cv::LINE_AA);
  cv::rectangle(image, cv::Rect(width / 2, height / 8, s / 5, s / 5), cv::Scalar(40, 190, 40), cv::FILLED);
  const auto triangle = [&](cv::Point c, int r) {
    const cv::Point pts[3] = {{c.x, c.y - r}, {c.x - r, c.y + r}, {c.x + r, c.y + r}};
    cv::fillConvexPoly(image, pts, 3, cv::Scalar(200, 60, 40), cv::LINE_AA);
  };
  triangle({width / 4, height * 3 / 4}, s / 10);
  triangle({width * 7 / 8, height / 3}, s / 16);
  return image;
}

}  // namespace tx2yolo
