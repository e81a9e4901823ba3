// Writes the soak test's generated video (tools/soak-detect.sh): FRAMES
// frames of WIDTH x HEIGHT as an MJPG .avi, each frame different (a moving
// square and the frame number's bits as bars), so that every frame decodes
// and runs through the detector anew.
//   tx2yolo_make_soak_clip OUT.avi FRAMES [WIDTH HEIGHT]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: %s OUT.avi FRAMES [WIDTH HEIGHT]\n", argv[0]);
    return 2;
  }
  const int frames = std::atoi(argv[2]);
  const int w = argc == 5 ? std::atoi(argv[3]) : 96, h = argc == 5 ? std::atoi(argv[4]) : 64;
  if (frames < 1 || w < 16 || h < 16) {
    std::fprintf(stderr, "bad FRAMES, WIDTH or HEIGHT\n");
    return 2;
  }
  cv::VideoWriter writer(argv[1], cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 30, cv::Size(w, h));
  if (!writer.isOpened()) {
    std::fprintf(stderr, "cannot write %s\n", argv[1]);
    return 1;
  }
  cv::Mat img(h, w, CV_8UC3);
  for (int i = 0; i < frames; ++i) {
    img.setTo(cv::Scalar(90, 110, 130));
    const int x = i % (w - 12), y = (i / 7) % (h - 12);
    cv::rectangle(img, cv::Rect(x, y, 12, 12), cv::Scalar(40, 40, 210), cv::FILLED);
    for (int b = 0; b < 16; ++b)
      if ((i >> b) & 1) cv::line(img, cv::Point(b * w / 16, h - 3), cv::Point(b * w / 16 + 3, h - 3), cv::Scalar(255, 255, 255));
    writer.write(img);
  }
  return 0;
}
