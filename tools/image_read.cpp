// read_image with OpenCV's imgcodecs (the tx2yolo CLI). See image_read.h.
#include "tools/image_read.h"

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"

namespace tx2yolo {

cv::Mat read_image(const std::string& path) {
  TX2_REQUIRE(is_regular_file(path), path, ": no such image file");
  cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  TX2_REQUIRE(!image.empty(), path, ": cannot decode the image");
  return image;
}

}  // namespace tx2yolo
