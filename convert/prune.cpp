#include "convert/prune.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/file_util.h"
#include "weights/graph.h"

namespace tx2yolo {
namespace paddle {

namespace {

const char* const kBlockConvs[6] = {"conv_module.conv0", "conv_module.conv1", "conv_module.conv2",
                                    "conv_module.conv3", "conv_module.route", "tip"};
const char* const kBackboneBlocks[13] = {"conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv4_1", "conv4_2", "conv5_1",
                                         "conv5_2", "conv5_3", "conv5_4", "conv5_5", "conv5_6", "conv6"};

bool is_head_output_name(const std::string& node) { return node.compare(0, 10, "yolo_head.") == 0; }

MappedConv* find_conv(MappedModel* m, const std::string& node) {
  for (MappedConv& c : m->convs)
    if (c.node == node) return &c;
  return nullptr;
}

const Node* producer(const Graph& g, const std::string& tensor) {
  for (const Node& n : g.nodes)
    if (n.output == tensor) return &n;
  return nullptr;
}

// Channels of a tensor, from the current conv weights.
int channels(MappedModel* m, const std::string& tensor) {
  const Graph& g = m->arch.graph;
  if (tensor == g.input.name) return g.input.channels;
  const Node* n = producer(g, tensor);
  TX2_REQUIRE(n != nullptr, "internal error: no producer of ", tensor);
  if (n->op == OpKind::kConv2d) return static_cast<int>(find_conv(m, n->name)->weight->shape[0]);
  if (n->op == OpKind::kConcat) {
    int sum = 0;
    for (const std::string& in : n->inputs) sum += channels(m, in);
    return sum;
  }
  return channels(m, n->inputs[0]);
}

class Pruner {
 public:
  Pruner(MappedModel* m, PruneResult* r) : m_(m), r_(r) {}

  // A copy of t restricted to `keep` along `axis` (0: output filters, 1: input channels).
  const ParamTensor* select(const ParamTensor* t, const std::vector<bool>& keep, int axis) {
    if (!t) return nullptr;
    TX2_REQUIRE(static_cast<int>(t->shape.size()) > axis &&
                    t->shape[static_cast<std::size_t>(axis)] == static_cast<long long>(keep.size()),
                "pruning: parameter ", t->name, " has shape ", shape_to_string(t->shape), ", expected ", keep.size(),
                " channels on axis ", axis);
    ParamTensor out;
    out.name = t->name;
    out.source_dtype = t->source_dtype;
    out.is_float = t->is_float;
    out.shape = t->shape;
    const long long kept = std::count(keep.begin(), keep.end(), true);
    out.shape[static_cast<std::size_t>(axis)] = kept;
    const std::size_t outer = axis == 0 ? 1 : static_cast<std::size_t>(t->shape[0]);
    const std::size_t n = keep.size();
    std::size_t inner = 1;
    for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < t->shape.size(); ++d)
      inner *= static_cast<std::size_t>(t->shape[d]);
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t c = 0; c < n; ++c)
        if (keep[c])
          out.values.insert(out.values.end(), t->values.begin() + static_cast<std::ptrdiff_t>((o * n + c) * inner),
                            t->values.begin() + static_cast<std::ptrdiff_t>((o * n + c + 1) * inner));
    r_->storage.push_back(std::move(out));
    return &r_->storage.back();
  }

  // Keeps only the `keep` output filters of a conv (weight rows, bias, BN).
  void select_filters(MappedConv* c, const std::vector<bool>& keep) {
    c->weight = select(c->weight, keep, 0);
    c->bias = select(c->bias, keep, 0);
    if (c->has_bn) {
      c->bn.scale = select(c->bn.scale, keep, 0);
      c->bn.bias = select(c->bn.bias, keep, 0);
      c->bn.mean = select(c->bn.mean, keep, 0);
      c->bn.variance = select(c->bn.variance, keep, 0);
    }
  }

  // The channels of `tensor` where keep is false disappear: from every consumer.
  void propagate(const std::string& tensor, const std::vector<bool>& keep) {
    const Graph& g = m_->arch.graph;
    for (const Node& n : g.nodes) {
      for (std::size_t slot = 0; slot < n.inputs.size(); ++slot) {
        if (n.inputs[slot] != tensor) continue;
        if (n.op == OpKind::kConv2d) {
          MappedConv* c = find_conv(m_, n.name);
          const bool depthwise = n.conv.groups > 1;
          if (depthwise) {
            select_filters(c, keep);  // one filter per input channel
            propagate(n.output, keep);
          } else {
            c->weight = select(c->weight, keep, 1);
          }
        } else if (n.op == OpKind::kConcat) {
          std::vector<bool> out;
          for (std::size_t k = 0; k < n.inputs.size(); ++k) {
            if (k == slot) {
              out.insert(out.end(), keep.begin(), keep.end());
            } else {
              out.insert(out.end(), static_cast<std::size_t>(channels(m_, n.inputs[k])), true);
            }
          }
          propagate(n.output, out);
        } else {
          propagate(n.output, keep);  // upsample: same channels
        }
      }
    }
  }

 private:
  MappedModel* m_;
  PruneResult* r_;
};

double round_half_even(double v) {
  const int mode = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double r = std::nearbyint(v);
  std::fesetround(mode);
  return r;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

}  // namespace

PruneCriterion prune_criterion_from_string(const std::string& s) {
  if (s == "l1") return PruneCriterion::kL1;
  if (s == "l0") return PruneCriterion::kL0;
  if (s == "fpgm") return PruneCriterion::kFpgm;
  throw Error(cat("unknown pruning criterion \"", s, "\" (expected l1, l0 or fpgm)"));
}

const char* prune_criterion_name(PruneCriterion c) {
  switch (c) {
    case PruneCriterion::kL1: return "l1";
    case PruneCriterion::kL0: return "l0";
    case PruneCriterion::kFpgm: return "fpgm";
  }
  return "?";
}

std::vector<double> filter_scores(const ParamTensor& w, PruneCriterion c) {
  TX2_REQUIRE(!w.shape.empty() && w.shape[0] > 0 && w.is_float, "pruning: parameter ", w.name,
              " is not a float conv weight");
  const auto n = static_cast<std::size_t>(w.shape[0]);
  const std::size_t k = w.values.size() / n;
  std::vector<double> scores(n, 0.0);
  for (std::size_t o = 0; o < n; ++o) {
    const float* row = &w.values[o * k];
    if (c == PruneCriterion::kL1) {
      for (std::size_t i = 0; i < k; ++i) scores[o] += std::fabs(static_cast<double>(row[i]));
    } else if (c == PruneCriterion::kL0) {
      for (std::size_t i = 0; i < k; ++i) scores[o] += row[i] != 0.f ? 1.0 : 0.0;
    } else {
      for (std::size_t p = 0; p < n; ++p) {
        const float* other = &w.values[p * k];
        double d2 = 0;
        for (std::size_t i = 0; i < k; ++i) {
          const double d = static_cast<double>(row[i]) - other[i];
          d2 += d * d;
        }
        scores[o] += std::sqrt(d2);
      }
    }
  }
  return scores;
}

std::vector<int> kept_filters(const std::vector<double>& scores, double ratio, const std::string& layer) {
  TX2_REQUIRE(ratio > 0 && ratio < 1, "pruning ", layer, ": ratio ", ratio, " is outside (0, 1)");
  const int c = static_cast<int>(scores.size());
  const int n = static_cast<int>(round_half_even(c * ratio));
  TX2_REQUIRE(n > 0, "pruning ", layer, ": ratio ", ratio, " of ", c, " filters rounds to 0 filters to prune");
  TX2_REQUIRE(n < c, "pruning ", layer, ": ratio ", ratio, " of ", c, " filters rounds to all ", c,
              " filters; at least one must stay");
  std::vector<int> order(static_cast<std::size_t>(c));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return scores[static_cast<std::size_t>(a)] < scores[static_cast<std::size_t>(b)];
  });
  std::vector<int> kept(order.begin() + n, order.end());
  std::sort(kept.begin(), kept.end());
  return kept;
}

std::vector<std::string> default_prunable_layers(const MappedModel& m, bool include_backbone) {
  std::vector<std::string> out;
  if (include_backbone) {
    out.push_back("backbone.conv1");
    for (const char* b : kBackboneBlocks) out.push_back(cat("backbone.", b, "._pointwise_conv"));
  }
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 6; ++k) {
      std::string node = cat("neck.yolo_block.", i, ".", kBlockConvs[k]);
      if (m.spec.separable_head && (k == 1 || k == 3 || k == 5)) node += "._pointwise_conv";
      out.push_back(node);
    }
  }
  return out;
}

std::string resolve_prunable_layer(const MappedModel& m, const std::string& name, const std::string& where) {
  // A layer may be named by its engine node or its conv weight's checkpoint name.
  std::string node;
  for (const MappedConv& c : m.convs)
    if (c.node == name || (c.weight && c.weight->name == name)) node = c.node;
  TX2_REQUIRE(!node.empty(), where, ": no conv layer named \"", name, "\" in this model");
  TX2_REQUIRE(!is_head_output_name(node), where, ": ", name, " is a head output; its width is fixed at 3 * (5 + classes)");
  TX2_REQUIRE(node.find("._depthwise_conv") == std::string::npos, where, ": ", name,
              " is a depthwise conv: its filters follow its input, so prune the conv before it");
  return node;
}

std::map<std::string, double> parse_prune_ratios(const std::string& spec, const MappedModel& m,
                                                 bool include_backbone) {
  std::map<std::string, double> ratios;
  const std::vector<std::string> layers = default_prunable_layers(m, include_backbone);
  char* end = nullptr;
  const double uniform = std::strtod(spec.c_str(), &end);
  if (!spec.empty() && end && *end == '\0') {
    for (const std::string& l : layers) ratios[l] = uniform;
    return ratios;
  }
  if (spec == "r578") {
    const double r[3] = {0.5, 0.7, 0.8};
    for (const std::string& l : default_prunable_layers(m, false))
      ratios[l] = r[l[16] - '0'];  // "neck.yolo_block.<i>..."
    return ratios;
  }
  TX2_REQUIRE(is_regular_file(spec), "--prune ", spec, ": not a ratio, not \"r578\", and no such file");
  const std::vector<std::uint8_t> bytes = read_file_bytes(spec, 1u << 20);
  std::string text(bytes.begin(), bytes.end());
  std::size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    const std::size_t nl = std::min(text.find('\n', pos), text.size());
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto space = line.find_last_of(" \t:");
    TX2_REQUIRE(space != std::string::npos, spec, ":", line_no, ": expected \"<layer> <ratio>\"");
    const std::string name = trim(line.substr(0, space));
    const std::string value = trim(line.substr(space + 1));
    const double r = std::strtod(value.c_str(), &end);
    TX2_REQUIRE(!value.empty() && end && *end == '\0', spec, ":", line_no, ": \"", value, "\" is not a ratio");
    const std::string node = resolve_prunable_layer(m, name, cat(spec, ":", line_no));
    TX2_REQUIRE(!ratios.count(node), spec, ":", line_no, ": ", name, " is listed twice");
    ratios[node] = r;
  }
  TX2_REQUIRE(!ratios.empty(), spec, ": no \"<layer> <ratio>\" lines");
  return ratios;
}

void prune_mapped_model(MappedModel* m, const std::map<std::string, double>& ratios, PruneCriterion criterion,
                        PruneResult* result) {
  result->criterion = prune_criterion_name(criterion);
  // Plan every layer on the original weights, then apply in graph order.
  std::map<std::string, std::vector<int>> plans;
  for (const auto& kv : ratios) {
    MappedConv* c = find_conv(m, kv.first);
    TX2_REQUIRE(c != nullptr, "pruning: no conv layer ", kv.first);
    plans[kv.first] = kept_filters(filter_scores(*c->weight, criterion), kv.second, kv.first);
  }
  Pruner pruner(m, result);
  for (const Node& n : m->arch.graph.nodes) {
    const auto plan = plans.find(n.name);
    if (plan == plans.end()) continue;
    MappedConv* c = find_conv(m, n.name);
    const int before = static_cast<int>(c->weight->shape[0]);
    std::vector<bool> keep(static_cast<std::size_t>(before), false);
    for (int k : plan->second) keep[static_cast<std::size_t>(k)] = true;
    pruner.select_filters(c, keep);
    pruner.propagate(n.output, keep);
    result->layers.push_back({n.name, before, static_cast<int>(plan->second.size()), plan->second});
  }
  remap_widths(m);
}

}  // namespace paddle
}  // namespace tx2yolo
