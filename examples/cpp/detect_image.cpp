// detect_image MODEL IMAGE [cpu|cuda|auto]: one image through tx2yolo's
// Detector, one line per detection: "class score x1 y1 x2 y2".
// Built against the installed package (examples/cpp/CMakeLists.txt).
#include <cstdio>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "engine/detector.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s MODEL IMAGE [cpu|cuda|auto]\n", argv[0]);
    return 2;
  }
  try {
    const cv::Mat image = cv::imread(argv[2], cv::IMREAD_COLOR);
    if (image.empty()) {
      std::fprintf(stderr, "error: cannot read the image %s\n", argv[2]);
      return 1;
    }
    tx2yolo::DetectorOptions options;
    options.backend = tx2yolo::backend_from_string(argc == 4 ? argv[3] : "auto");
    tx2yolo::Detector detector(argv[1], options);
    for (const tx2yolo::Detection& d : detector.detect(image))
      std::printf("%s %.6f %.4f %.4f %.4f %.4f\n", detector.class_name(d.class_id).c_str(), d.score, d.x1, d.y1, d.x2,
                  d.y2);
  } catch (const tx2yolo::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
