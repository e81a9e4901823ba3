#include "tools/annotate.h"

#include "core/file_util.h"
#include "convert/ppdet_config.h"
#include "tools/label_layout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <opencv2/imgproc.hpp>

namespace tx2yolo {

namespace {
cv::Scalar class_colour(int id) {
  // Spread hues with the golden ratio so neighbouring ids differ.
  const double hue = std::fmod(id * 0.618033988749895, 1.0) * 180.0;
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 200, 255)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
  return cv::Scalar(c[0], c[1], c[2]);
}
}  // namespace

void draw_detections(cv::Mat& bgr, const std::vector<Detection>& dets, const std::vector<std::string>& classes,
                     float threshold) {
  const int thickness = std::max(1, std::min(bgr.cols, bgr.rows) / 300);
  const double font = std::max(0.4, std::min(bgr.cols, bgr.rows) / 800.0);
  // Highest score first: it gets the label spot it wants.
  std::vector<const Detection*> shown;
  for (const Detection& d : dets)
    if (d.score >= threshold) shown.push_back(&d);
  std::stable_sort(shown.begin(), shown.end(), [](const Detection* a, const Detection* b) { return a->score > b->score; });
  std::vector<cv::Rect> boxes;
  std::vector<cv::Size> sizes;
  std::vector<std::string> texts;
  std::vector<int> baselines;
  for (const Detection* d : shown) {
    // Boxes are clipped by yolo_box only when the model says so; keep the
    // int conversion defined for any float, inf and NaN included.
    auto px = [](float v, int size) {
      const float lo = -1.f * size, hi = 2.f * size;
      return static_cast<int>(std::isnan(v) ? 0.f : std::min(std::max(v, lo), hi));
    };
    const cv::Point p1(px(d->x1, bgr.cols), px(d->y1, bgr.rows));
    const cv::Point p2(px(d->x2, bgr.cols), px(d->y2, bgr.rows));
    cv::rectangle(bgr, p1, p2, class_colour(d->class_id), thickness);
    boxes.emplace_back(p1, p2);
    char text[160];
    const std::string& name =
        d->class_id >= 0 && d->class_id < static_cast<int>(classes.size()) ? classes[d->class_id] : "?";
    std::snprintf(text, sizeof(text), "%s %.2f", name.c_str(), d->score);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font, thickness, &baseline);
    sizes.emplace_back(size.width, size.height + baseline);
    texts.push_back(text);
    baselines.push_back(baseline);
  }
  // Labels over the boxes, inside the image and apart from each other.
  const std::vector<cv::Rect> labels = place_labels(boxes, sizes, bgr.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    cv::rectangle(bgr, labels[i], class_colour(shown[i]->class_id), cv::FILLED);
    cv::putText(bgr, texts[i], cv::Point(labels[i].x, labels[i].y + labels[i].height - baselines[i]),
                cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 0, 0), thickness);
  }
}

std::vector<int> coco_category_ids(const std::vector<std::string>& classes) {
  std::string which;
  if (classes.size() != 80 || classes != paddle::default_labels(80, &which)) return {};
  // The COCO 2014/2017 detection categories' ids, in the order of their names.
  static const std::vector<int> ids = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                       22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
                                       46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
                                       67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};
  return ids;
}

long long coco_image_id(const std::string& name, int index) {
  std::string stem = path_basename(name);
  const std::size_t dot = stem.rfind('.');
  if (dot != std::string::npos) stem = stem.substr(0, dot);
  if (stem.empty() || stem.size() > 18 || stem.find_first_not_of("0123456789") != std::string::npos) return index;
  return std::stoll(stem);
}

nlohmann::json detection_to_coco(const Detection& d, const std::string& file_name, long long image_id,
                                 const std::vector<std::string>& classes, const std::vector<int>& category_ids) {
  const std::string name =
      d.class_id >= 0 && d.class_id < static_cast<int>(classes.size()) ? classes[d.class_id] : "";
  // JSON has no inf or NaN; an unclipped box can hold them, so they become
  // the largest finite floats (NaN -> 0) rather than null.
  auto finite = [](float v) {
    if (std::isnan(v)) return 0.f;
    return std::min(std::max(v, -std::numeric_limits<float>::max()), std::numeric_limits<float>::max());
  };
  const float x1 = finite(d.x1), y1 = finite(d.y1), x2 = finite(d.x2), y2 = finite(d.y2);
  const bool mapped = d.class_id >= 0 && d.class_id < static_cast<int>(category_ids.size());
  return nlohmann::json{{"image_id", image_id},
                        {"file_name", file_name},
                        {"category_id", mapped ? category_ids[static_cast<std::size_t>(d.class_id)] : d.class_id},
                        {"category_name", name},
                        {"bbox", {x1, y1, finite(x2 - x1), finite(y2 - y1)}},
                        {"score", d.score}};
}

}  // namespace tx2yolo
