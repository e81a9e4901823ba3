#include "tools/label_layout.h"

#include <algorithm>

namespace tx2yolo {

std::vector<cv::Rect> place_labels(const std::vector<cv::Rect>& boxes, const std::vector<cv::Size>& labels,
                                   cv::Size image) {
  std::vector<cv::Rect> placed;
  placed.reserve(boxes.size());
  for (std::size_t i = 0; i < boxes.size() && i < labels.size(); ++i) {
    const cv::Rect& b = boxes[i];
    const int w = std::max(1, std::min(labels[i].width, image.width));
    const int h = std::max(1, std::min(labels[i].height, image.height));
    auto inside = [&](int x, int y) {
      return cv::Rect(std::min(std::max(x, 0), image.width - w), std::min(std::max(y, 0), image.height - h), w, h);
    };
    std::vector<cv::Rect> tries = {inside(b.x, b.y - h), inside(b.x, b.y), inside(b.x, b.y + b.height),
                                   inside(b.x, b.y + b.height - h)};
    for (int step = 1; step * h < image.height; ++step) tries.push_back(inside(b.x, b.y - h + step * h));
    cv::Rect chosen = tries.front();
    for (const cv::Rect& t : tries) {
      const bool free = std::none_of(placed.begin(), placed.end(), [&](const cv::Rect& p) { return (p & t).area() > 0; });
      if (free) {
        chosen = t;
        break;
      }
    }
    placed.push_back(chosen);
  }
  return placed;
}

}  // namespace tx2yolo
