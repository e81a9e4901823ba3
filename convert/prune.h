// Filter pruning at conversion (`tx2yolo convert --prune RATIOS --criterion
// l1|l0|fpgm`), the paper's compression method, done as PaddleSlim's
// filter pruners do it: on the original conv weights, before BN folding.
//
// For a conv with C output filters W[o] and a ratio r:
//   n = round(C * r), half to even (Python 3's round, as PaddleSlim uses);
//   refused when n is 0 or C;
//   score(o): L1   sum |W[o]|
//             L0   count of W[o] != 0
//             FPGM sum over p of ||W[o] - W[p]||_2  (distance to every other filter)
//   the n filters with the smallest scores are pruned; among equal scores the
//   lower index is pruned first (a stable ascending sort). Kept filters keep
//   their order.
// Pruning removes the filter's weight row, its bias and BN entries, and
// propagates: every consumer of the conv's output loses the matching input
// channels (at the right offset after a concat; through upsample), and a
// depthwise consumer loses the matching filters (with their BN) and
// propagates in turn to its own consumers.
#pragma once

#include <list>
#include <map>
#include <string>
#include <vector>

#include "convert/yolov3_mapping.h"

namespace tx2yolo {
namespace paddle {

enum class PruneCriterion { kL1, kL0, kFpgm };
PruneCriterion prune_criterion_from_string(const std::string& s);  // l1, l0, fpgm; throws Error
const char* prune_criterion_name(PruneCriterion c);

// One score per output filter of a conv weight [O, ...].
std::vector<double> filter_scores(const ParamTensor& weight, PruneCriterion c);

// The filters kept when `ratio` of them are pruned (ascending indices).
// `layer` names the conv in errors.
std::vector<int> kept_filters(const std::vector<double>& scores, double ratio, const std::string& layer);

// The default prunable convs: the 18 detection-block convs (conv0, conv1,
// conv2, conv3, route, tip of each block; for the separable head the
// pointwise part of conv1, conv3 and tip), plus, with include_backbone, the
// stem and the 13 pointwise convs of the backbone. Engine node names.
std::vector<std::string> default_prunable_layers(const MappedModel& m, bool include_backbone);

// The engine node of a prunable conv given by its node name or its conv
// weight's checkpoint name; refuses unknown names, head outputs and
// depthwise convs. `where` starts each error (e.g. "--layers").
std::string resolve_prunable_layer(const MappedModel& m, const std::string& name, const std::string& where);

// RATIOS: a number (the same ratio for every default layer); "r578" (0.5,
// 0.7, 0.8 for the three detection blocks, as PaddleSlim's YOLOv3 example);
// or a file of "<layer> <ratio>" lines (# starts a comment), where a layer is
// an engine node name or the name of its conv weight in the checkpoint.
std::map<std::string, double> parse_prune_ratios(const std::string& spec, const MappedModel& m,
                                                 bool include_backbone);

struct PrunedLayer {
  std::string node;
  int before = 0;
  int after = 0;
  std::vector<int> kept;
};

struct PruneResult {
  std::string criterion;
  std::vector<PrunedLayer> layers;   // in graph order
  std::list<ParamTensor> storage;    // the pruned tensors the model now points to
};

// Prunes `m` in place: its MappedConv pointers are re-bound to tensors in
// result->storage (which must outlive m's use), then its widths and template
// are re-read from the shapes and checked. Every layer is scored on the
// original weights, before any pruning is applied (as PaddleSlim's
// prune_vars plans all layers first), then the plans are applied in graph
// order.
void prune_mapped_model(MappedModel* m, const std::map<std::string, double>& ratios, PruneCriterion criterion,
                        PruneResult* result);

}  // namespace paddle
}  // namespace tx2yolo
