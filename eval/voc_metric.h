// PaddleDetection's VOC evaluation, reproduced: the dataset reader
// (ppdet/data/source/voc.py) and the metric (ppdet/metrics/map_utils.py
// DetectionMAP, as VOCMetric drives it), so that `tx2yolo eval` reports the
// mAP PaddleDetection reports for the same detections.
//
// Dataset: DIR/ImageSets/Main/<split>.txt lists image ids; DIR/JPEGImages/<id>.jpg
// and DIR/Annotations/<id>.xml. Class names come from DIR/label_list.txt (one
// per line, ids in order), else from the model. Boxes are read as PaddleDetection
// reads them: x1 = max(0, xmin), y1 = max(0, ymin), x2 = min(w - 1, xmax),
// y2 = min(h - 1, ymax), kept when x2 > x1 and y2 > y1. Images without any
// <object> are skipped, as PaddleDetection drops them.
//
// Metric, per image, detections in the order the model gives them (NMS order):
//   - every ground truth of class c counts towards c's total unless it is
//     difficult;
//   - a detection of class l is compared with every ground truth of class l
//     (difficult ones too): IoU with the +1 pixel convention (boxes are pixel
//     indices), zero when the boxes do not overlap (x1 >= gx2, ...); the first
//     largest IoU wins;
//   - IoU > 0.5 (strictly): if that ground truth is difficult the detection
//     is ignored; else it is a true positive the first time, a false positive
//     after; IoU <= 0.5: a false positive.
// Per class, the (score, tp) records are stably sorted by score (descending);
// precision and recall accumulate; AP is the VOC07 11-point value (PaddleDetection's
// own loop) or the area ("integral": sum of precision x recall step over steps
// larger than 1e-6). Classes without ground truth are left out of the mean;
// classes with ground truth but no detections count as AP 0.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/multiclass_nms.h"

namespace tx2yolo {

struct VocObject {
  int class_id = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  bool difficult = false;
};

struct VocImage {
  std::string id;
  std::string image_path;
  int width = 0, height = 0;  // from the annotation
  std::vector<VocObject> objects;
};

struct VocDataset {
  std::string dir;
  std::string split;
  std::vector<std::string> classes;
  std::vector<VocImage> images;  // in list order, images without objects left out
  int skipped_empty = 0;
  int skipped_boxes = 0;         // boxes that were empty after clipping
};

// Reads the split. `model_classes` are used when DIR has no label_list.txt;
// with one, its names must equal the model's (in count; a name mismatch is
// reported as an error naming both). Throws Error naming the file on any
// problem (missing file, malformed XML, an unknown class name).
VocDataset read_voc_dataset(const std::string& dir, const std::string& split,
                            const std::vector<std::string>& model_classes);

// One annotation file's bytes (`xml_path` names it in errors): the image
// size and its objects, clipped to the image, into *im; *objects counts
// every <object>, *skipped_boxes is raised for each box empty after clipping.
// Throws Error naming the file on malformed XML, a missing element, a bad
// number or an unknown class.
void parse_voc_annotation(const std::vector<std::uint8_t>& bytes, const std::string& xml_path,
                          const std::map<std::string, int>& class_id, VocImage* im, int* objects, int* skipped_boxes);

struct ClassAp {
  std::string name;
  int ground_truth = 0;  // not difficult
  int detections = 0;    // records (true and false positives)
  double ap = 0;
};

struct VocMapResult {
  std::string map_type;  // "11point" or "integral"
  double map = 0;
  std::vector<ClassAp> classes;  // every class, including those without ground truth (ap 0, not in the mean)
};

class VocMetric {
 public:
  explicit VocMetric(std::vector<std::string> classes, double overlap_thresh = 0.5);
  // One image: its ground truth and the model's detections in their order.
  // Ground-truth boxes go through PaddleDetection's resize round trip
  // (x * s, clipped to the resized size, / s, in float32) for scale s =
  // input / original, as its eval pipeline does.
  void add_image(const VocImage& gt, const std::vector<Detection>& detections, int input_h, int input_w);
  VocMapResult accumulate(const std::string& map_type) const;

 private:
  struct Record {
    float score;
    bool tp;
  };
  std::vector<std::string> classes_;
  double overlap_thresh_;
  std::vector<std::vector<Record>> records_;
  std::vector<int> gt_counts_;
};

}  // namespace tx2yolo
