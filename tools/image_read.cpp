// read_image with OpenCV's imgcodecs (the tx2yolo CLI). See image_read.h.
#include "tools/image_read.h"

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/quiet_stderr.h"

namespace tx2yolo {

namespace {
constexpr std::uint64_t kMaxImageFileBytes = 1ull << 30;
}  // namespace

cv::Mat decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name, long long max_pixels) {
  ImageHeader header;
  std::string why;
  TX2_REQUIRE(read_image_header(bytes.data(), bytes.size(), &header, &why), name, ": cannot decode as an image (",
              why, ")");
  // Divided, not multiplied: a PNG header may claim 4 billion by 4 billion
  // (found by fuzz_image: the product overflowed).
  TX2_REQUIRE(header.width <= max_pixels / header.height, name, ": ", header.format, " image of ", header.width, "x",
              header.height, " pixels is over the limit of ", max_pixels, " pixels (raise it with --max-pixels)");
  cv::Mat image;
  {
    QuietStderr quiet;  // libpng and libjpeg print their own warnings
    try {
      image = cv::imdecode(bytes, cv::IMREAD_COLOR);
    } catch (const cv::Exception&) {
      image.release();
    }
  }
  TX2_REQUIRE(!image.empty(), name, ": cannot decode as an image (", header.format, " data is corrupt or unsupported)");
  return image;
}

cv::Mat read_image(const std::string& path, long long max_pixels) {
  TX2_REQUIRE(is_regular_file(path), path, ": no such image file");
  return decode_image(read_file_bytes(path, kMaxImageFileBytes), path, max_pixels);
}

bool image_codecs_available() { return true; }

void write_png(const std::string& path, const cv::Mat& image) {
  std::vector<std::uint8_t> png;
  TX2_REQUIRE(cv::imencode(".png", image, png), path, ": cannot encode the image as PNG");
  write_file_atomic(path, png.data(), png.size());
}

}  // namespace tx2yolo
