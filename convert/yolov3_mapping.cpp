#include "convert/yolov3_mapping.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "weights/graph.h"

namespace tx2yolo {
namespace paddle {

namespace {

const char* const kBlockNames[13] = {"conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv4_1", "conv4_2", "conv5_1",
                                     "conv5_2", "conv5_3", "conv5_4", "conv5_5", "conv5_6", "conv6"};
// Neck conv sub-layer names (dygraph) and their static 0.x suffixes.
const char* const kNeckDygraph[6] = {"conv_module.conv0", "conv_module.conv1", "conv_module.conv2",
                                     "conv_module.conv3", "conv_module.route", "tip"};
const char* const kNeckStatic[6] = {"0.0", "0.1", "1.0", "1.1", "2", "tip"};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<const Node*> conv_nodes(const Graph& g) {
  std::vector<const Node*> out;
  for (const Node& n : g.nodes)
    if (n.op == OpKind::kConv2d) out.push_back(&n);
  return out;
}

bool is_head_output(const std::string& node) { return starts_with(node, "yolo_head."); }

// ---- names ---------------------------------------------------------------------

struct ParamNames {
  std::string weight, bias;               // bias only for head outputs
  std::string bn[4];                      // scale, bias, mean, variance; empty for head outputs
};

ParamNames dygraph_names(const std::string& node) {
  ParamNames n;
  if (is_head_output(node)) {
    n.weight = node + ".weight";
    n.bias = node + ".bias";
    return n;
  }
  const bool backbone = starts_with(node, "backbone.");
  const std::string conv = backbone ? "._conv" : ".conv";
  const std::string bn = backbone ? "._batch_norm." : ".batch_norm.";
  n.weight = node + conv + ".weight";
  const char* fields[4] = {"weight", "bias", "_mean", "_variance"};
  for (int i = 0; i < 4; ++i) n.bn[i] = node + bn + fields[i];
  return n;
}

// Static 0.x prefix of an engine node: "conv2_1_dw", "yolo_block.0.0.1",
// "yolo_block.0.0.1_dw" (separable part), "yolo_transition.0", "yolo_output.0".
std::string static_prefix(const std::string& node, bool* mobilenet_style) {
  *mobilenet_style = true;
  if (node == "backbone.conv1") return "conv1";
  if (starts_with(node, "backbone.")) {
    const std::string rest = node.substr(9);  // conv2_1._depthwise_conv
    const auto dot = rest.find('.');
    return rest.substr(0, dot) + (ends_with(rest, "._depthwise_conv") ? "_dw" : "_sep");
  }
  std::string part;
  std::string base = node;
  if (ends_with(node, "._depthwise_conv")) {
    part = "_dw";
    base = node.substr(0, node.size() - 16);
  } else if (ends_with(node, "._pointwise_conv")) {
    part = "_sep";
    base = node.substr(0, node.size() - 16);
  }
  *mobilenet_style = !part.empty();
  if (starts_with(base, "neck.yolo_block.")) {
    const std::string rest = base.substr(16);  // "0.conv_module.conv1"
    const std::string level = rest.substr(0, rest.find('.'));
    const std::string sub = rest.substr(rest.find('.') + 1);
    for (int k = 0; k < 6; ++k)
      if (sub == kNeckDygraph[k]) return "yolo_block." + level + "." + kNeckStatic[k] + part;
  }
  if (starts_with(base, "neck.yolo_transition.")) return base.substr(5);
  if (starts_with(base, "yolo_head.yolo_output.")) return base.substr(10);
  throw Error(cat("internal error: no static name for engine node ", node));
}

ParamNames static_names(const std::string& node) {
  ParamNames n;
  bool mobilenet_style = false;
  const std::string p = static_prefix(node, &mobilenet_style);
  if (is_head_output(node)) {
    n.weight = p + ".conv.weights";
    n.bias = p + ".conv.bias";
    return n;
  }
  if (mobilenet_style) {
    n.weight = p + "_weights";
    const char* fields[4] = {"_bn_scale", "_bn_offset", "_bn_mean", "_bn_variance"};
    for (int i = 0; i < 4; ++i) n.bn[i] = p + fields[i];
  } else {
    n.weight = p + ".conv.weights";
    const char* fields[4] = {".bn.scale", ".bn.offset", ".bn.mean", ".bn.var"};
    for (int i = 0; i < 4; ++i) n.bn[i] = p + fields[i];
  }
  return n;
}

const ParamTensor* required(const Checkpoint& c, const std::string& name, const std::string& node,
                            std::set<std::string>* used) {
  const ParamTensor* t = c.find(name);
  TX2_REQUIRE(t != nullptr, "missing parameter ", name, " (needed for ", node,
              "); the checkpoint is not a complete YOLOv3-MobileNetV1");
  used->insert(name);
  return t;
}

void map_by_name(const Checkpoint& c, bool dygraph, MappedModel* m) {
  std::set<std::string> used;
  for (const Node* n : conv_nodes(m->arch.graph)) {
    const ParamNames names = dygraph ? dygraph_names(n->name) : static_names(n->name);
    MappedConv mc;
    mc.node = n->name;
    mc.weight = required(c, names.weight, n->name, &used);
    if (!names.bias.empty()) mc.bias = required(c, names.bias, n->name, &used);
    if (!names.bn[0].empty()) {
      mc.has_bn = true;
      mc.bn.scale = required(c, names.bn[0], n->name, &used);
      mc.bn.bias = required(c, names.bn[1], n->name, &used);
      mc.bn.mean = required(c, names.bn[2], n->name, &used);
      mc.bn.variance = required(c, names.bn[3], n->name, &used);
    }
    m->convs.push_back(mc);
  }
  for (const std::string& name : c.order)
    if (!used.count(name)) m->unused.push_back(name);
}

// ---- program data flow -------------------------------------------------------------

bool is_conv_op(const std::string& type) { return type == "conv2d" || type == "depthwise_conv2d"; }

struct ProgramConv {
  std::size_t op = 0;
  std::string output;
  std::vector<std::string> sources;  // conv outputs (or "<input>") feeding it, in order
  bool assigned = false;
};

class DataFlow {
 public:
  explicit DataFlow(const Program& p) : p_(p) {
    for (std::size_t i = 0; i < p.ops.size(); ++i)
      for (const auto& slot : p.ops[i].outputs)
        for (const std::string& v : slot.second) producer_[v] = i;
  }

  bool persistable(const std::string& v) const {
    const ProgramVar* var = p_.var(v);
    return var && var->persistable;
  }

  // The conv outputs a variable is computed from, through non-conv ops
  // ("<input>" for the image feed), in input order.
  const std::vector<std::string>& sources(const std::string& v, int depth = 0) {
    const auto memo = memo_.find(v);
    if (memo != memo_.end()) return memo->second;
    TX2_REQUIRE(depth < 10000, p_.source, ": the program's data flow is too deep");
    std::vector<std::string> out;
    const auto it = producer_.find(v);
    if (it == producer_.end() || p_.ops[it->second].type == "feed") {
      out.push_back("<input>");
    } else {
      const ProgramOp& op = p_.ops[it->second];
      if (is_conv_op(op.type)) {
        out.push_back(op.output("Output"));
      } else {
        std::vector<std::string> inputs;
        const auto x = op.inputs.find("X");
        if (x != op.inputs.end()) inputs = x->second;
        for (const auto& slot : op.inputs)
          if (slot.first != "X") inputs.insert(inputs.end(), slot.second.begin(), slot.second.end());
        for (const std::string& in : inputs) {
          if (persistable(in)) continue;
          for (const std::string& s : sources(in, depth + 1))
            if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
        }
      }
    }
    return memo_[v] = out;
  }

  // The parameter a variable is, or is a reshape of (dygraph-to-static
  // exports add a conv bias as elementwise_add(conv, reshape2(bias))); "" if none.
  std::string parameter_behind(const std::string& v) const {
    if (persistable(v)) return v;
    const auto it = producer_.find(v);
    if (it == producer_.end()) return "";
    const ProgramOp& op = p_.ops[it->second];
    static const char* kReshapes[] = {"reshape2", "reshape", "unsqueeze2", "unsqueeze", "squeeze2", "squeeze"};
    for (const char* r : kReshapes)
      if (op.type == r && persistable(op.input("X"))) return op.input("X");
    return "";
  }

  // The op that reads `v` through `slot` and has type `type`, or nullptr.
  const ProgramOp* consumer(const std::string& v, const std::string& type, const std::string& slot) const {
    for (const ProgramOp& op : p_.ops)
      if (op.type == type && op.input(slot) == v) return &op;
    return nullptr;
  }

 private:
  const Program& p_;
  std::map<std::string, std::size_t> producer_;
  std::map<std::string, std::vector<std::string>> memo_;
};

// The engine graph's analogue of DataFlow::sources.
std::vector<std::string> engine_sources(const Graph& g, const std::string& tensor) {
  if (tensor == g.input.name) return {"<input>"};
  for (const Node& n : g.nodes) {
    if (n.output != tensor) continue;
    if (n.op == OpKind::kConv2d) return {n.name};
    std::vector<std::string> out;
    for (const std::string& in : n.inputs)
      for (const std::string& s : engine_sources(g, in)) out.push_back(s);
    return out;
  }
  throw Error(cat("internal error: engine tensor ", tensor, " has no producer"));
}

const ParamTensor* program_param(const Checkpoint& c, const std::string& name, const std::string& what,
                                 std::set<std::string>* used) {
  const ParamTensor* t = c.find(name);
  TX2_REQUIRE(t != nullptr, c.program.source, ": ", what, " ", name, " is not in the parameters file");
  used->insert(name);
  return t;
}

void check_conv_attrs(const ProgramOp& op, const Node& n, const std::string& source) {
  const std::string what = cat(source, ": conv op writing ", op.output("Output"), " (engine node ", n.name, ")");
  const auto strides = op.numbers("strides");
  const auto paddings = op.numbers("paddings");
  const auto dilations = op.numbers("dilations");
  for (double s : strides)
    TX2_REQUIRE(static_cast<int>(s) == n.conv.stride_h, what, ": stride ", s, ", the model needs ", n.conv.stride_h);
  for (double p : paddings)
    TX2_REQUIRE(static_cast<int>(p) == n.conv.pad_h, what, ": padding ", p, ", the model needs ", n.conv.pad_h);
  for (double d : dilations) TX2_REQUIRE(d == 1, what, ": dilation ", d, ", the model needs 1");
  const double groups = op.number("groups", 1);
  TX2_REQUIRE(n.conv.groups == 1 ? groups == 1 : groups > 1, what, ": groups ", groups, ", the model needs ",
              n.conv.groups == 1 ? "1" : "one group per channel (depthwise)");
  if (op.attrs.count("padding_algorithm") && !op.attrs.at("padding_algorithm").strings.empty()) {
    const std::string& algo = op.attrs.at("padding_algorithm").strings[0];
    TX2_REQUIRE(algo == "EXPLICIT", what, ": padding_algorithm ", algo, ", expected EXPLICIT");
  }
  if (op.attrs.count("data_format") && !op.attrs.at("data_format").strings.empty()) {
    const std::string& fmt = op.attrs.at("data_format").strings[0];
    TX2_REQUIRE(fmt == "NCHW" || fmt == "AnyLayout", what, ": data_format ", fmt, ", expected NCHW");
  }
}

void read_postprocess(const Program& p, DataFlow& flow, const std::map<std::string, std::string>& conv_to_node,
                      MappedModel* m) {
  ProgramPostprocess& pp = m->postprocess;
  std::map<int, HeadConfig> levels;
  for (const ProgramOp& op : p.ops) {
    if (op.type == "yolo_box") {
      const auto src = flow.sources(op.input("X"));
      TX2_REQUIRE(src.size() == 1 && conv_to_node.count(src[0]), p.source, ": a yolo_box op does not read a head");
      const std::string& node = conv_to_node.at(src[0]);
      const int level = node.back() - '0';
      const auto anchors = op.numbers("anchors");
      TX2_REQUIRE(!anchors.empty() && anchors.size() % 2 == 0, p.source, ": yolo_box for ", node,
                  " has anchors of odd length ", anchors.size());
      HeadConfig h;
      h.tensor = node;
      h.downsample = static_cast<int>(op.number("downsample_ratio", 32));
      for (std::size_t i = 0; i < anchors.size(); i += 2)
        h.anchors.emplace_back(static_cast<float>(anchors[i]), static_cast<float>(anchors[i + 1]));
      levels[level] = h;
      pp.decode.conf_thresh = static_cast<float>(op.number("conf_thresh", pp.decode.conf_thresh));
      pp.decode.clip_bbox = op.number("clip_bbox", 1) != 0;
      pp.decode.scale_x_y = static_cast<float>(op.number("scale_x_y", 1));
      TX2_REQUIRE(op.number("iou_aware", 0) == 0, p.source, ": yolo_box with iou_aware is not supported");
      pp.has_yolo_box = true;
    }
    if (op.type == "multiclass_nms3" || op.type == "multiclass_nms" || op.type == "multiclass_nms2") {
      pp.has_nms = true;
      pp.nms.score_threshold = static_cast<float>(op.number("score_threshold", pp.nms.score_threshold));
      pp.nms.nms_top_k = static_cast<int>(op.number("nms_top_k", pp.nms.nms_top_k));
      pp.nms.keep_top_k = static_cast<int>(op.number("keep_top_k", pp.nms.keep_top_k));
      pp.nms.nms_threshold = static_cast<float>(op.number("nms_threshold", pp.nms.nms_threshold));
      pp.nms.normalized = op.number("normalized", 1) != 0;
      pp.nms.nms_eta = static_cast<float>(op.number("nms_eta", 1));
      pp.nms.background_label = static_cast<int>(op.number("background_label", -1));
    }
    if (op.type == "feed") {
      const ProgramVar* v = p.var(op.output("Out"));
      if (v && v->dims.size() == 4 && v->dims[1] == 3 && v->dims[2] > 0 && v->dims[3] > 0) {
        pp.input_h = static_cast<int>(v->dims[2]);
        pp.input_w = static_cast<int>(v->dims[3]);
      }
    }
  }
  for (const auto& l : levels) pp.heads.push_back(l.second);
}

void map_by_program(const Checkpoint& c, MappedModel* m) {
  const Program& p = c.program;
  DataFlow flow(p);
  std::vector<ProgramConv> convs;
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    if (!is_conv_op(p.ops[i].type)) continue;
    ProgramConv pc;
    pc.op = i;
    pc.output = p.ops[i].output("Output");
    TX2_REQUIRE(!pc.output.empty(), p.source, ": a ", p.ops[i].type, " op without an Output");
    pc.sources = flow.sources(p.ops[i].input("Input"));
    convs.push_back(pc);
  }
  std::set<std::string> used;
  std::map<std::string, std::string> conv_to_node;  // paddle conv output -> engine node
  std::map<std::string, std::string> node_to_conv;
  for (const Node* n : conv_nodes(m->arch.graph)) {
    std::vector<std::string> wanted;
    for (const std::string& s : engine_sources(m->arch.graph, n->inputs[0]))
      wanted.push_back(s == "<input>" ? s : node_to_conv.at(s));
    std::vector<ProgramConv*> candidates;
    for (ProgramConv& pc : convs) {
      if (pc.assigned || pc.sources != wanted) continue;
      const ParamTensor* w = c.find(p.ops[pc.op].input("Filter"));
      const bool depthwise = p.ops[pc.op].number("groups", 1) > 1;
      if (w && w->shape.size() == 4 && w->shape[2] == n->conv.kernel_h && w->shape[3] == n->conv.kernel_w &&
          depthwise == (n->conv.groups > 1))
        candidates.push_back(&pc);
    }
    // Convs with the same inputs and kernel (e.g. a head output and a
    // transition both reading a route in some other variant) would be
    // ambiguous; the template has none, so this is only a guard.
    if (candidates.size() > 1 && is_head_output(n->name)) {
      candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                      [&](ProgramConv* pc) { return flow.consumer(pc->output, "batch_norm", "X") != nullptr; }),
                       candidates.end());
    }
    TX2_REQUIRE(!candidates.empty(), p.source, ": no conv op fits engine node ", n->name, " (a ", n->conv.kernel_h, "x",
                n->conv.kernel_w, n->conv.groups > 1 ? " depthwise" : "",
                " conv fed by the layers the YOLOv3-MobileNetV1 template expects); not this architecture?");
    TX2_REQUIRE(candidates.size() == 1, p.source, ": ", candidates.size(), " conv ops fit engine node ", n->name,
                "; cannot tell them apart");
    ProgramConv& pc = *candidates[0];
    pc.assigned = true;
    conv_to_node[pc.output] = n->name;
    node_to_conv[n->name] = pc.output;
    const ProgramOp& op = p.ops[pc.op];
    check_conv_attrs(op, *n, p.source);

    MappedConv mc;
    mc.node = n->name;
    mc.weight = program_param(c, op.input("Filter"), "conv filter", &used);
    if (const ProgramOp* bn = flow.consumer(pc.output, "batch_norm", "X")) {
      mc.has_bn = true;
      mc.bn.scale = program_param(c, bn->input("Scale"), "batch_norm Scale", &used);
      mc.bn.bias = program_param(c, bn->input("Bias"), "batch_norm Bias", &used);
      mc.bn.mean = program_param(c, bn->input("Mean"), "batch_norm Mean", &used);
      mc.bn.variance = program_param(c, bn->input("Variance"), "batch_norm Variance", &used);
      mc.bn.eps = bn->number("epsilon", kDefaultBatchNormEps);
    }
    if (const ProgramOp* add = flow.consumer(pc.output, "elementwise_add", "X")) {
      const std::string bias = flow.parameter_behind(add->input("Y"));
      if (!bias.empty()) mc.bias = program_param(c, bias, "conv bias", &used);
    }
    TX2_REQUIRE(mc.has_bn || mc.bias, p.source, ": conv op for ", n->name, " has neither a batch_norm nor a bias");
    TX2_REQUIRE(!(is_head_output(n->name) && mc.has_bn), p.source, ": the head output conv ", n->name,
                " has a batch_norm; YOLOv3Head's outputs have a bias only");
    m->convs.push_back(mc);
  }
  for (const ProgramConv& pc : convs)
    TX2_REQUIRE(pc.assigned, p.source, ": conv op writing ", pc.output,
                " is not part of YOLOv3-MobileNetV1 (an extra layer this template does not have)");
  for (const std::string& name : c.order)
    if (!used.count(name)) m->unused.push_back(name);
  read_postprocess(p, flow, conv_to_node, m);
}

// ---- widths --------------------------------------------------------------------------

const MappedConv& conv_for(const MappedModel& m, const std::string& node) {
  for (const MappedConv& c : m.convs)
    if (c.node == node) return c;
  throw Error(cat("internal error: engine node ", node, " was not mapped"));
}

int out_channels(const MappedModel& m, const std::string& node) {
  const ParamTensor* w = conv_for(m, node).weight;
  TX2_REQUIRE(w->shape.size() == 4 && w->shape[0] > 0, "parameter ", w->name, " has shape ",
              shape_to_string(w->shape), ", expected a 4-D conv weight [out, in/groups, kh, kw]");
  return static_cast<int>(w->shape[0]);
}

ArchitectureSpec spec_from_shapes(const MappedModel& m, bool separable) {
  ArchitectureSpec s;
  s.separable_head = separable;
  s.stem_channels = out_channels(m, "backbone.conv1");
  for (int i = 0; i < 13; ++i)
    s.block_channels[static_cast<std::size_t>(i)] = out_channels(m, cat("backbone.", kBlockNames[i], "._pointwise_conv"));
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 6; ++k) {
      std::string node = cat("neck.yolo_block.", i, ".", kNeckDygraph[k]);
      if (separable && (k == 1 || k == 3 || k == 5)) node += "._pointwise_conv";
      s.det_block[static_cast<std::size_t>(i)][static_cast<std::size_t>(k)] = out_channels(m, node);
    }
  }
  for (int i = 0; i < 2; ++i) s.transition[static_cast<std::size_t>(i)] = out_channels(m, cat("neck.yolo_transition.", i));
  int head = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string node = cat("yolo_head.yolo_output.", i);
    const int o = out_channels(m, node);
    const ParamTensor* w = conv_for(m, node).weight;
    TX2_REQUIRE(o % 3 == 0 && o / 3 > 5, "parameter ", w->name, " has ", o,
                " output channels; a YOLOv3 head has 3 * (5 + classes) with at least one class");
    TX2_REQUIRE(i == 0 || o == head, "parameter ", w->name, " has ", o, " output channels but yolo_output.0 has ",
                head, "; the three heads must agree on the class count");
    head = o;
  }
  s.num_classes = head / 3 - 5;
  return s;
}

void check_shapes(const MappedModel& m) {
  std::map<std::string, std::vector<long long>> expected;
  for (const auto& w : m.arch.weights) expected[w.first] = w.second;
  for (const MappedConv& c : m.convs) {
    const std::vector<long long>& want = expected.at(c.node + ".weight");
    TX2_REQUIRE(c.weight->shape == want, "parameter ", c.weight->name, " has shape ", shape_to_string(c.weight->shape),
                ", but the model needs ", shape_to_string(want), " for ", c.node,
                want.size() == 4 && want[1] == 1 && want[0] > 1
                    ? " (a depthwise conv: one input channel per group, one group per channel of its input)"
                    : " (input channels = the width of the layers feeding it; after an upsample+concat, the sum)");
    const long long out = want[0];
    auto check_vector = [&](const ParamTensor* t) {
      if (!t) return;
      TX2_REQUIRE(t->shape == std::vector<long long>{out}, "parameter ", t->name, " has shape ",
                  shape_to_string(t->shape), ", but ", c.node, " has ", out, " output channels (expected [", out, "])");
    };
    check_vector(c.bias);
    if (c.has_bn) {
      check_vector(c.bn.scale);
      check_vector(c.bn.bias);
      check_vector(c.bn.mean);
      check_vector(c.bn.variance);
    }
    for (const ParamTensor* t : {c.weight, c.bias, c.bn.scale, c.bn.bias, c.bn.mean, c.bn.variance}) {
      TX2_REQUIRE(!t || t->is_float, "parameter ", t ? t->name : "", " is ", t ? t->source_dtype : "",
                  "; conv and batch-norm parameters must be floating point");
    }
  }
}

bool has_any(const Checkpoint& c, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (c.find(n)) return true;
  return false;
}

}  // namespace

MappedModel map_yolov3_mobilenet_v1(const Checkpoint& c) {
  MappedModel m;
  bool separable = false;
  if (c.has_program) {
    m.naming = "program";
    int n = 0;
    for (const ProgramOp& op : c.program.ops) n += is_conv_op(op.type) ? 1 : 0;
    const int standard = static_cast<int>(conv_nodes(build_yolov3_mobilenet_v1(ArchitectureSpec()).graph).size());
    ArchitectureSpec sep;
    sep.separable_head = true;
    const int separable_count = static_cast<int>(conv_nodes(build_yolov3_mobilenet_v1(sep).graph).size());
    TX2_REQUIRE(n == standard || n == separable_count, c.program.source, ": the program has ", n,
                " convolutions; YOLOv3-MobileNetV1 has ", standard, " (standard head) or ", separable_count,
                " (separable head)");
    separable = n == separable_count;
  } else if (has_any(c, {"backbone.conv1._conv.weight"})) {
    m.naming = "dygraph";
    separable = has_any(c, {"neck.yolo_block.0.conv_module.conv1._depthwise_conv.conv.weight"});
  } else if (has_any(c, {"conv1_weights"})) {
    m.naming = "static";
    separable = has_any(c, {"yolo_block.0.0.1_dw_weights"});
  } else {
    throw Error(cat("not a YOLOv3-MobileNetV1 checkpoint: it has neither backbone.conv1._conv.weight (PaddleDetection "
                    "2.x names) nor conv1_weights (0.x static names); first parameters: ",
                    c.order.empty() ? std::string("none")
                                    : c.order[0] + (c.order.size() > 1 ? ", " + c.order[1] : std::string())));
  }
  // Map onto a template with default widths (node names do not depend on
  // widths), read the real widths, then rebuild and check every shape.
  ArchitectureSpec placeholder;
  placeholder.separable_head = separable;
  m.arch = build_yolov3_mobilenet_v1(placeholder);
  if (c.has_program) {
    map_by_program(c, &m);
  } else {
    map_by_name(c, m.naming == "dygraph", &m);
  }
  m.spec.separable_head = separable;
  remap_widths(&m);
  return m;
}

void remap_widths(MappedModel* m) {
  m->spec = spec_from_shapes(*m, m->spec.separable_head);
  m->arch = build_yolov3_mobilenet_v1(m->spec);
  check_shapes(*m);
}

}  // namespace paddle
}  // namespace tx2yolo
