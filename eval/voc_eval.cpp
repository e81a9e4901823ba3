#include "eval/voc_eval.h"

#include <algorithm>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"

namespace tx2yolo {

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

}  // namespace tx2yolo
