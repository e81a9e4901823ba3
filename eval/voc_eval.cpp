#include "eval/voc_eval.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"

namespace tx2yolo {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

VocEvalResult evaluate_on_voc(Detector& det, const VocDataset& ds, std::size_t limit,
                              const std::function<void(std::size_t, std::size_t)>& progress) {
  VocMetric metric(ds.classes);
  VocEvalResult r;
  const std::size_t n = limit > 0 ? std::min(limit, ds.images.size()) : ds.images.size();
  for (std::size_t i = 0; i < n; ++i) {
    const VocImage& im = ds.images[i];
    const cv::Mat image = cv::imread(im.image_path, cv::IMREAD_COLOR);
    TX2_REQUIRE(!image.empty(), im.image_path, ": cannot decode the image");
    TX2_REQUIRE(image.cols == im.width && image.rows == im.height, im.image_path, ": the image is ", image.cols, "x",
                image.rows, " but its annotation says ", im.width, "x", im.height);
    const std::vector<Detection> dets = det.detect(image);
    metric.add_image(im, dets, det.input_h(), det.input_w());
    for (const Detection& d : dets) r.detections.emplace_back(static_cast<int>(i), d);
    if (progress) progress(i + 1, n);
  }
  r.eleven_point = metric.accumulate("11point");
  r.area = metric.accumulate("integral");
  return r;
}

ProgressBar::ProgressBar(std::string label, std::size_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) != 0),
      start_(now_s()) {}

void ProgressBar::update(std::size_t done) {
  const double s = now_s() - start_;
  const double rate = s > 0 ? done / s : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  const int width = 30;
  const int filled = static_cast<int>(width * done / std::max<std::size_t>(1, total_));
  if (tty_) {
    std::fprintf(stderr, "\r%s [%s%s] %zu/%zu %s, %.2f/s, ETA %.0f s ", label_.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), done, total_, unit_.c_str(), rate,
                 eta);
    if (done == total_) std::fprintf(stderr, "\n");
  } else if (done == total_ || done * 10 / std::max<std::size_t>(1, total_) != last_decile_) {
    last_decile_ = done * 10 / std::max<std::size_t>(1, total_);
    std::fprintf(stderr, "%s: %zu/%zu %s, %.2f/s, ETA %.0f s\n", label_.c_str(), done, total_, unit_.c_str(), rate,
                 eta);
  }
}

}  // namespace tx2yolo
