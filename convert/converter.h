// The whole conversion, as a library call: read a Paddle checkpoint, map it
// onto the YOLOv3-MobileNetV1 template, build the model config (template
// defaults, then the program's yolo_box / NMS ops, then the PaddleDetection
// config, the labels file and the input size), fold BN, and return what
// write_model_file needs. `tx2yolo convert` prints and writes it; tests call
// it directly.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert/yolov3_mapping.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace paddle {

struct ConvertOptions {
  std::string input;   // file or folder
  std::string format;  // "" detects
  std::string config;  // PaddleDetection yml or infer_cfg.yml; "" for none
  std::string labels;  // one name per line (or a COCO annotation .json); "" for none
  // "voc" or "coco": accept PaddleDetection's published value for each of
  // anchors, input size, normalisation, thresholds and class names that no
  // other source gives; "" (the default): such a value is an error.
  std::string defaults;
  int input_h = 0;     // 0: from the config, the program or 608
  int input_w = 0;
  std::string prune;   // RATIOS (prune.h); "" for no pruning
  // Or the ratios themselves, by layer (node or checkpoint weight name), used
  // when `prune` is empty (sensitivity: no temporary files to name in errors).
  std::map<std::string, double> prune_ratios;
  std::string criterion = "l1";
  bool include_backbone = false;
};

struct PruneLayerReport {
  std::string node;
  int before = 0, after = 0;
  long long macs_before = 0, macs_after = 0;
  long long params_before = 0, params_after = 0;
};

struct ConvertResult {
  std::string format;                                    // the checkpoint format read
  // The mapping: naming, spec (widths) and template. Its parameter pointers
  // are cleared on return (the checkpoint they pointed into is gone).
  MappedModel mapped;
  ModelConfig config;
  nlohmann::json provenance;
  std::vector<std::pair<std::string, HostTensor>> tensors;  // folded, in graph order
  std::vector<std::string> notes;
  // Where each of convert_value_names() came from (ppdet_config.h).
  std::map<std::string, std::string> sources;
  // Pruning: every conv layer's MACs (at the config's input size) and
  // parameters before and after, when options.prune was given.
  std::vector<PruneLayerReport> prune_report;
  // Pruning, for PaddleSlim: the same pruning as PaddleSlim's dygraph
  // pruners' prune_vars(ratios, axis 0) input, keyed by the checkpoint's own
  // names of the conv weights, with the filters tx2yolo kept for checking
  // (scripts/paddle/finetune_pruned.py reads it). Null without pruning.
  nlohmann::json paddleslim;
};

ConvertResult convert_checkpoint(const ConvertOptions& options);

// Fills each of convert_value_names() that has no entry in `sources` from
// `published` (the template's values) when `defaults` is "voc" or "coco",
// recording the source; with `defaults` empty, throws one Error naming every
// missing value and how to give it.
void apply_published_defaults(const std::string& defaults, const ModelConfig& published, int num_classes,
                              const std::string& label_hint, ModelConfig* c,
                              std::map<std::string, std::string>* sources);

}  // namespace paddle
}  // namespace tx2yolo
