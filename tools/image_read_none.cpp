// read_image for tx2yolo-bench, which is built without OpenCV's imgcodecs so
// that it runs on machines with little more than the CUDA driver. See
// image_read.h.
#include "core/error.h"
#include "tools/image_read.h"

namespace tx2yolo {

cv::Mat read_image(const std::string& path) {
  throw Error(cat(path, ": tx2yolo-bench reads no image files (it is built without OpenCV's image codecs); "
                    "use --synthetic, or the tx2yolo CLI"));
}

}  // namespace tx2yolo
