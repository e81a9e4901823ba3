// read_image for tx2yolo-bench, which is built without OpenCV's imgcodecs so
// that it runs on machines with little more than the CUDA driver. See
// image_read.h.
#include "core/error.h"
#include "tools/image_read.h"

namespace tx2yolo {

cv::Mat decode_image(const std::vector<std::uint8_t>&, const std::string& name, long long) {
  throw Error(cat(name, ": tx2yolo-bench reads no image files (it is built without OpenCV's image codecs); "
                    "use --synthetic, or the tx2yolo CLI"));
}

cv::Mat read_image(const std::string& path, long long max_pixels) { return decode_image({}, path, max_pixels); }

bool image_codecs_available() { return false; }

void write_png(const std::string& path, const cv::Mat&) {
  throw Error(cat(path, ": tx2yolo-bench writes no images (it is built without OpenCV's image codecs); use the "
                  "tx2yolo CLI for plots"));
}

}  // namespace tx2yolo
