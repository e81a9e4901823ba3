// The COCO detection metric (bounding boxes), reproduced from pycocotools'
// COCOeval so that `tx2yolo eval --coco` reports the numbers pycocotools
// reports for the same detections (pycocotools is only a test-time peer:
// scripts/coco/make_coco_fixture.py records its results).
//
// Annotation file: "images" (id, file_name, width, height), "annotations"
// (id, image_id, category_id, bbox [x, y, w, h], area, iscrowd) and
// "categories" (id, name); segmentations are not read. Results: a list of
// {image_id, category_id, bbox [x, y, w, h], score}; as loadRes does, each
// gets area w * h, iscrowd 0 and id = its position + 1, and an image id not
// in the annotation file is an error.
//
// Evaluation (COCOeval.evaluate / accumulate / summarize, iouType "bbox"):
//   - images and categories: every one in the annotation file, ids sorted;
//   - IoU thresholds 0.50:0.05:0.95 (np.linspace(.5, .95, 10)), 101 recall
//     thresholds 0:0.01:1, max detections 1, 10, 100, areas all [0, 1e10],
//     small [0, 32^2], medium [32^2, 96^2], large [96^2, 1e10] (inclusive);
//   - per image and category, detections sorted by score (stable,
//     descending), at most 100; IoU of [x, y, w, h] boxes in double, and
//     for a crowd ground truth the intersection over the detection's area;
//   - a ground truth is ignored when crowd or its annotation "area" is
//     outside the range; non-ignored ones are matched first; a detection
//     takes the best remaining ground truth with IoU >= the threshold (a
//     crowd one may take many; it stops at the first ignored one once it
//     has a non-ignored match); it is ignored when its match is, or when it
//     is unmatched and its area is outside the range;
//   - per category, area and max detections: every image's first maxDet
//     detections merged and stably sorted by score, cumulative TP and FP,
//     precision tp / (tp + fp + 2^-52) made monotone from the right, sampled
//     at the first recall >= each threshold (0 past the last); recall is the
//     final tp / non-ignored ground truths; categories with no non-ignored
//     ground truth are left out (-1);
//   - the 12 summary numbers are the means over the entries that are not -1.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

namespace tx2yolo {

struct CocoImage {
  long long id = 0;
  std::string file_name;
  int width = 0, height = 0;
};

struct CocoBox {
  long long id = 0;
  long long image_id = 0;
  long long category_id = 0;
  double bbox[4] = {0, 0, 0, 0};  // x, y, w, h
  double area = 0;
  bool iscrowd = false;
  double score = 0;  // results only
};

struct CocoCategory {
  long long id = 0;
  std::string name;
};

struct CocoDataset {
  std::string path;
  std::vector<CocoImage> images;         // in file order
  std::vector<CocoBox> annotations;
  std::vector<CocoCategory> categories;  // sorted by id
};

// Reads an annotation file; throws Error naming the file and the entry on
// anything missing or malformed (duplicate image or category ids included).
CocoDataset read_coco_annotations(const std::string& path);

// A COCO results list (file or JSON text); `what` names it in errors.
std::vector<CocoBox> parse_coco_results(const std::string& text, const std::string& what, const CocoDataset& gt);
std::vector<CocoBox> read_coco_results(const std::string& path, const CocoDataset& gt);

struct CocoStats {
  // AP @[.50:.95], AP50, AP75, AP small, medium, large; AR maxDets 1, 10,
  // 100; AR small, medium, large (pycocotools' stats[0..11]).
  std::array<double, 12> stats{};
  static const char* name(int i);  // "AP", "AP50", ..., "AR_large"
};

CocoStats coco_evaluate(const CocoDataset& gt, const std::vector<CocoBox>& results);

}  // namespace tx2yolo
