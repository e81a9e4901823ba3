// Annotation labels (tools/label_layout.cpp): inside the image, and apart
// from each other where the image has room for that.
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "tools/label_layout.h"

namespace tx2yolo {
namespace {

bool inside(const cv::Rect& r, cv::Size image) { return (r & cv::Rect(0, 0, image.width, image.height)) == r; }

TEST(LabelLayout, AboveTheBoxWhenThereIsRoom) {
  const auto labels = place_labels({cv::Rect(100, 100, 50, 50)}, {cv::Size(40, 12)}, cv::Size(640, 480));
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0], cv::Rect(100, 88, 40, 12));
}

TEST(LabelLayout, BoxesAtTheEdgesKeepTheirLabelsInside) {
  const cv::Size image(320, 240);
  // Top-left corner, right edge, bottom-right corner, outside the image, wider than it.
  const std::vector<cv::Rect> boxes = {cv::Rect(0, 0, 30, 30), cv::Rect(300, 100, 20, 20), cv::Rect(290, 220, 30, 20),
                                       cv::Rect(-50, -40, 20, 20), cv::Rect(10, 120, 20, 20)};
  const std::vector<cv::Size> sizes = {cv::Size(60, 14), cv::Size(80, 14), cv::Size(80, 14), cv::Size(50, 14),
                                       cv::Size(1000, 14)};
  const auto labels = place_labels(boxes, sizes, image);
  for (const cv::Rect& l : labels) EXPECT_TRUE(inside(l, image)) << l;
  EXPECT_EQ(labels[4].width, 320);  // cut to the image
}

TEST(LabelLayout, CrowdedBoxesGetLabelsThatDoNotOverlap) {
  // Ten boxes on top of each other (the same object found ten times): the
  // image has room for every label, so none may overlap another.
  const cv::Size image(640, 480);
  std::vector<cv::Rect> boxes(10, cv::Rect(200, 150, 120, 100));
  std::vector<cv::Size> sizes(10, cv::Size(90, 16));
  const std::vector<cv::Rect> labels = place_labels(boxes, sizes, image);
  // And 60 random boxes of random labels, where a free spot always exists.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> x(-20, 620), y(-20, 460), wh(5, 200), lw(20, 120);
  std::vector<cv::Rect> more;
  std::vector<cv::Size> more_sizes;
  for (int i = 0; i < 60; ++i) {
    more.emplace_back(x(rng), y(rng), wh(rng), wh(rng));
    more_sizes.emplace_back(lw(rng), 14);
  }
  const std::vector<cv::Rect> more_labels = place_labels(more, more_sizes, image);
  for (const auto* set : {&labels, &more_labels}) {
    for (std::size_t i = 0; i < set->size(); ++i) {
      EXPECT_TRUE(inside((*set)[i], image)) << (*set)[i];
      for (std::size_t j = 0; j < i; ++j) EXPECT_EQ(((*set)[i] & (*set)[j]).area(), 0) << i << " overlaps " << j;
    }
  }
}

}  // namespace
}  // namespace tx2yolo
