#include "tools/show_window.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <opencv2/imgproc.hpp>
#ifdef TX2YOLO_HAVE_HIGHGUI
#include <opencv2/highgui.hpp>
#endif

#include "core/error.h"
#include "tools/annotate.h"

namespace tx2yolo {

namespace {
bool has_display() {
  for (const char* var : {"DISPLAY", "WAYLAND_DISPLAY"}) {
    const char* v = std::getenv(var);
    if (v && *v) return true;
  }
  return false;
}
}  // namespace

ShowWindows::ShowWindows() {
#ifndef TX2YOLO_HAVE_HIGHGUI
  throw Error("--show: this build's OpenCV has no highgui (windows); use --out or --jsonl");
#else
  TX2_REQUIRE(has_display(), "--show needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); use --out or --jsonl");
#endif
}

ShowWindows::~ShowWindows() {
#ifdef TX2YOLO_HAVE_HIGHGUI
  try {
    cv::destroyAllWindows();
  } catch (const cv::Exception&) {
  }
#endif
}

bool ShowWindows::show(const std::string& title, const cv::Mat& frame, const std::vector<Detection>& dets,
                       const std::vector<std::string>& classes, float threshold, double fps) {
#ifdef TX2YOLO_HAVE_HIGHGUI
  cv::Mat annotated = frame.clone();
  draw_detections(annotated, dets, classes, threshold);
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f FPS", fps);
  cv::putText(annotated, text, cv::Point(8, 24), cv::FONT_HERSHEY_SIMPLEX, 0.7, cv::Scalar(0, 0, 0), 3);
  cv::putText(annotated, text, cv::Point(8, 24), cv::FONT_HERSHEY_SIMPLEX, 0.7, cv::Scalar(255, 255, 255), 1);
  try {
    cv::imshow(title, annotated);
    const int key = cv::waitKey(1);
    return key != 'q' && key != 27;
  } catch (const cv::Exception& e) {
    throw Error(cat("--show: cannot open a window: ", e.err));
  }
#else
  (void)title, (void)frame, (void)dets, (void)classes, (void)threshold, (void)fps;
  return false;
#endif
}

double FpsMeter::tick() {
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (last_s_ >= 0) {
    const double dt = now - last_s_;
    interval_s_ = interval_s_ > 0 ? 0.9 * interval_s_ + 0.1 * dt : dt;
  }
  last_s_ = now;
  return interval_s_ > 0 ? 1.0 / interval_s_ : 0.0;
}

}  // namespace tx2yolo
