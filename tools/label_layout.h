// Where the annotated images' labels go: inside the image, and apart from
// each other where the image has room. Pure geometry, for draw_detections
// and its tests.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace tx2yolo {

// Places one label of labels[i]'s size for each box[i], in order (the first
// placed wins a contested spot; pass the boxes by descending score). Each
// label tries, in turn: above its box, inside its box's top, below its box,
// inside its box's bottom, then lower and lower steps of its own height;
// every try is moved inside the image first. It takes the first try that
// overlaps no label placed before it, or the first try when none is free.
// A label larger than the image is cut to it. Returns the label rectangles.
std::vector<cv::Rect> place_labels(const std::vector<cv::Rect>& boxes, const std::vector<cv::Size>& labels,
                                   cv::Size image);

}  // namespace tx2yolo
