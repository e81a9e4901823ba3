// Writes one small image in each format the CLI reads (JPEG, PNG, BMP,
// WebP, TIFF, PPM, PGM) into the folder given, as seeds for fuzz_image
// (tools/fuzz-run.sh runs it before fuzzing). 23x17 pixels, a gradient.
#include <cstdio>
#include <string>

#include <opencv2/imgcodecs.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
    return 2;
  }
  cv::Mat img(17, 23, CV_8UC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 11, y * 15, (x + y) * 6);
  cv::Mat gray;
  cv::extractChannel(img, gray, 1);
  for (const char* ext : {".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"}) {
    const std::string path = std::string(argv[1]) + "/seed" + ext;
    if (!cv::imwrite(path, std::string(ext) == ".pgm" ? gray : img)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
