// PaddleDetection configs: reads a config yml (2.x dygraph or 0.x static),
// following its `_BASE_` / `__BASE__` / `_READER_` includes (bases first,
// the including file's keys override, maps merged recursively as
// PaddleDetection's workspace does), and applies what it says to a
// ModelConfig: anchors and masks, YOLOBox / yolo_box settings, NMS settings,
// input size and normalisation, labels. Also the default label lists
// (VOC for 20 classes, COCO for 80). YAML is data only: tags such as
// `!ResizeImage` name a transform, nothing is ever constructed from them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "weights/model_config.h"

namespace YAML {
class Node;
}

namespace tx2yolo {
namespace paddle {

// "dygraph" (PaddleDetection 2.x) or "static" (0.x): the two differ in
// post-processing (paddle-semantics.md §9): the static one gives yolo_box the
// exact image size and runs NMS with normalized = false and background -1.
void apply_postprocess_family(const std::string& family, ModelConfig* c);

struct PpdetConfig {
  std::string path;
  std::string family;                     // "dygraph" or "static", from the keys present
  std::vector<std::string> files;         // the yml files read, bases first
  std::vector<std::string> notes;
  // What the config itself gave, by value ("anchors", "input_size",
  // "normalisation", "thresholds", "class_names"): the file and key, e.g.
  // "configs/x.yml: YOLOv3Head.anchors". A value it did not give is absent.
  std::map<std::string, std::string> sources;
  // Why the dataset's class names were not taken, when it names a label
  // list that cannot be found ("" otherwise).
  std::string label_hint;
};

// Reads `path` and its includes and applies them to `c`, whose heads must
// already name their tensors (level order, coarsest first). Throws Error
// naming the file and key on anything malformed or inconsistent (e.g. a
// num_classes that differs from the checkpoint's).
PpdetConfig apply_ppdet_config(const std::string& path, ModelConfig* c);

// VOC's 20 or COCO's 80 class names for those counts; otherwise "class0", ...
std::vector<std::string> default_labels(int num_classes, std::string* which);

// One label per non-empty line; throws Error unless there are num_classes.
// A .json file is read as a COCO annotation file: its categories' names in
// ascending id order.
std::vector<std::string> read_labels_file(const std::string& path, int num_classes);

// The values a convert needs a source for, in the order they are reported.
const std::vector<std::string>& convert_value_names();

}  // namespace paddle
}  // namespace tx2yolo
