// `detect --show`: each source's annotated frames in a window, with the
// frames per second drawn in. Needs a display (DISPLAY or WAYLAND_DISPLAY)
// and an OpenCV with highgui; without either, --show is refused before any
// work with a one-line error. q or Esc in a window ends the run.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "engine/detector.h"

namespace tx2yolo {

class ShowWindows {
 public:
  // Throws Error when windows cannot be shown here.
  ShowWindows();
  ~ShowWindows();
  ShowWindows(const ShowWindows&) = delete;
  ShowWindows& operator=(const ShowWindows&) = delete;

  // Shows `frame` annotated in the window titled `title`; `fps` is drawn in
  // its corner. False once the user has asked to stop (q or Esc).
  bool show(const std::string& title, const cv::Mat& frame, const std::vector<Detection>& dets,
            const std::vector<std::string>& classes, float threshold, double fps);
};

// The frames per second over the last frames (an exponential average of the
// interval between calls, alpha 0.1); 0 before the second call.
class FpsMeter {
 public:
  double tick();

 private:
  double last_s_ = -1;
  double interval_s_ = 0;
};

}  // namespace tx2yolo
