#include "weights/architecture.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/error.h"

namespace tx2yolo {

namespace {

constexpr float kRandomObjectnessShift = 4.5f;

int scale_width(int w, double factor) { return std::max(1, static_cast<int>(std::lround(w * factor))); }

class Builder {
 public:
  explicit Builder(ArchitectureGraph* out) : out_(out) {}

  // Adds a conv node reading `input` (of `in_channels` channels); returns its output name.
  std::string conv(const std::string& name, const std::string& input, int in_channels, int out_channels,
                   int kernel, int stride, int groups, Activation act) {
    TX2_REQUIRE(in_channels > 0 && out_channels > 0, "architecture: ", name, " has a zero width");
    Node n;
    n.name = name;
    n.op = OpKind::kConv2d;
    n.inputs = {input};
    n.output = name;
    n.conv.kernel_h = n.conv.kernel_w = kernel;
    n.conv.stride_h = n.conv.stride_w = stride;
    n.conv.pad_h = n.conv.pad_w = (kernel - 1) / 2;
    n.conv.groups = groups;
    n.conv.activation = act;
    n.conv.alpha = act == Activation::kLeakyRelu ? 0.1f : 0.f;
    n.weight = name + ".weight";
    n.bias = name + ".bias";
    out_->weights.emplace_back(n.weight, std::vector<long long>{out_channels, in_channels / groups, kernel, kernel});
    out_->weights.emplace_back(n.bias, std::vector<long long>{out_channels});
    out_->graph.nodes.push_back(std::move(n));
    return name;
  }

  // A neck 3x3 conv (leaky), or its separable replacement.
  std::string neck3x3(const std::string& name, const std::string& input, int in_channels, int out_channels,
                      bool separable) {
    if (!separable) return conv(name, input, in_channels, out_channels, 3, 1, 1, Activation::kLeakyRelu);
    const std::string dw = conv(name + "._depthwise_conv", input, in_channels, in_channels, 3, 1, in_channels,
                                Activation::kLeakyRelu);
    return conv(name + "._pointwise_conv", dw, in_channels, out_channels, 1, 1, 1, Activation::kLeakyRelu);
  }

  std::string upsample(const std::string& name, const std::string& input) {
    Node n;
    n.name = name;
    n.op = OpKind::kUpsampleNearest;
    n.inputs = {input};
    n.output = name;
    n.scale = 2;
    out_->graph.nodes.push_back(std::move(n));
    return name;
  }

  std::string concat(const std::string& name, const std::vector<std::string>& inputs) {
    Node n;
    n.name = name;
    n.op = OpKind::kConcat;
    n.inputs = inputs;
    n.output = name;
    out_->graph.nodes.push_back(std::move(n));
    return name;
  }

 private:
  ArchitectureGraph* out_;
};

}  // namespace

ArchitectureSpec ArchitectureSpec::scaled(double factor, int num_classes) {
  TX2_REQUIRE(factor > 0 && factor <= 4, "architecture: width factor ", factor, " is outside (0, 4]");
  ArchitectureSpec s;
  s.num_classes = num_classes;
  s.stem_channels = scale_width(s.stem_channels, factor);
  for (int& c : s.block_channels) c = scale_width(c, factor);
  for (auto& block : s.det_block)
    for (int& c : block) c = scale_width(c, factor);
  for (int& c : s.transition) c = scale_width(c, factor);
  return s;
}

ArchitectureGraph build_yolov3_mobilenet_v1(const ArchitectureSpec& spec) {
  TX2_REQUIRE(spec.num_classes > 0, "architecture: num_classes must be positive");
  TX2_REQUIRE(spec.class_names.empty() || static_cast<int>(spec.class_names.size()) == spec.num_classes,
              "architecture: ", spec.class_names.size(), " class names for ", spec.num_classes, " classes");
  ArchitectureGraph arch;
  arch.graph.input = GraphInput{"image", 3};
  Builder b(&arch);

  // Backbone: conv1 (3x3 s2) then 13 depthwise-separable blocks.
  static const char* kBlockNames[13] = {"conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv4_1",
                                        "conv4_2", "conv5_1", "conv5_2", "conv5_3", "conv5_4",
                                        "conv5_5", "conv5_6", "conv6"};
  std::string x = b.conv("backbone.conv1", "image", 3, spec.stem_channels, 3, 2, 1, Activation::kRelu);
  int ch = spec.stem_channels;
  std::string taps[3];
  int tap_channels[3] = {0, 0, 0};
  for (int i = 0; i < 13; ++i) {
    const std::string prefix = std::string("backbone.") + kBlockNames[i];
    x = b.conv(prefix + "._depthwise_conv", x, ch, ch, 3, kMobileNetV1BlockStrides[i], ch, Activation::kRelu);
    x = b.conv(prefix + "._pointwise_conv", x, ch, spec.block_channels[i], 1, 1, 1, Activation::kRelu);
    ch = spec.block_channels[i];
    const int tap = i == 3 ? 0 : i == 5 ? 1 : i == 12 ? 2 : -1;  // blocks 4, 6, 13 (1-based)
    if (tap >= 0) {
      taps[tap] = x;
      tap_channels[tap] = ch;
    }
  }

  // Neck (YOLOv3FPN) and head; level 0 is the coarsest (stride 32).
  std::string route_up;
  int route_up_channels = 0;
  std::string heads[3];
  for (int i = 0; i < 3; ++i) {
    const int feature = 2 - i;  // C5, C4, C3
    std::string in = taps[feature];
    int in_ch = tap_channels[feature];
    if (i > 0) {
      in = b.concat(cat("neck.concat.", i), {route_up, taps[feature]});  // upsampled route first
      in_ch = route_up_channels + tap_channels[feature];
    }
    const auto& w = spec.det_block[i];
    const std::string p = cat("neck.yolo_block.", i, ".");
    std::string y = b.conv(p + "conv_module.conv0", in, in_ch, w[0], 1, 1, 1, Activation::kLeakyRelu);
    y = b.neck3x3(p + "conv_module.conv1", y, w[0], w[1], spec.separable_head);
    y = b.conv(p + "conv_module.conv2", y, w[1], w[2], 1, 1, 1, Activation::kLeakyRelu);
    y = b.neck3x3(p + "conv_module.conv3", y, w[2], w[3], spec.separable_head);
    const std::string route = b.conv(p + "conv_module.route", y, w[3], w[4], 1, 1, 1, Activation::kLeakyRelu);
    const std::string tip = b.neck3x3(p + "tip", route, w[4], w[5], spec.separable_head);
    heads[i] = b.conv(cat("yolo_head.yolo_output.", i), tip, w[5], 3 * (5 + spec.num_classes), 1, 1, 1,
                      Activation::kNone);
    if (i < 2) {
      const std::string t = b.conv(cat("neck.yolo_transition.", i), route, w[4], spec.transition[i], 1, 1, 1,
                                   Activation::kLeakyRelu);
      route_up = b.upsample(cat("neck.upsample.", i), t);
      route_up_channels = spec.transition[i];
    }
  }
  arch.graph.outputs = {heads[0], heads[1], heads[2]};

  // Paddle's yolov3_mobilenet_v1 defaults (configs/yolov3/_base_/yolov3_mobilenet_v1.yml).
  ModelConfig& c = arch.config;
  c.head_type = spec.separable_head ? "separable" : "standard";
  static const float kAnchors[9][2] = {{10, 13},  {16, 30},  {33, 23},   {30, 61},  {62, 45},
                                       {59, 119}, {116, 90}, {156, 198}, {373, 326}};
  static const int kMasks[3][3] = {{6, 7, 8}, {3, 4, 5}, {0, 1, 2}};
  static const int kDownsample[3] = {32, 16, 8};
  for (int i = 0; i < 3; ++i) {
    HeadConfig h;
    h.tensor = heads[i];
    h.downsample = kDownsample[i];
    for (int a : kMasks[i]) h.anchors.emplace_back(kAnchors[a][0], kAnchors[a][1]);
    c.heads.push_back(h);
  }
  if (spec.class_names.empty()) {
    for (int k = 0; k < spec.num_classes; ++k) c.classes.push_back(cat("class", k));
  } else {
    c.classes = spec.class_names;
  }
  c.nms.background_label = spec.num_classes;  // as BBoxPostProcess passes it: skips no real class
  return arch;
}

std::vector<std::pair<std::string, HostTensor>> make_random_weights(const ArchitectureGraph& arch,
                                                                    std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::pair<std::string, HostTensor>> out;
  for (const auto& w : arch.weights) {
    HostTensor t;
    t.shape = w.second;
    long long numel = 1;
    for (long long d : t.shape) numel *= d;
    t.data.resize(static_cast<std::size_t>(numel));
    if (t.shape.size() == 4) {
      // Uniform with variance 2 / fan_in (He), which keeps ReLU activations O(1).
      const double fan_in = static_cast<double>(t.shape[1] * t.shape[2] * t.shape[3]);
      const float limit = static_cast<float>(std::sqrt(6.0 / fan_in));
      std::uniform_real_distribution<float> dist(-limit, limit);
      for (float& v : t.data) v = dist(rng);
    } else {
      std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
      for (float& v : t.data) v = dist(rng);
    }
    out.emplace_back(w.first, std::move(t));
  }
  // Lower the objectness logits of the heads so that, as in a trained
  // detector, only a few cells are confident instead of half of them.
  const int per_anchor = 5 + static_cast<int>(arch.config.classes.size());
  for (const Node& n : arch.graph.nodes) {
    if (std::find(arch.graph.outputs.begin(), arch.graph.outputs.end(), n.output) == arch.graph.outputs.end()) continue;
    for (auto& t : out) {
      if (t.first != n.bias) continue;
      for (std::size_t k = 4; k < t.second.data.size(); k += per_anchor) t.second.data[k] -= kRandomObjectnessShift;
    }
  }
  return out;
}

ArchitectureSpec full_width_spec(const std::string& arch, int num_classes) {
  ArchitectureSpec spec;
  spec.num_classes = num_classes;
  if (arch == "standard") return spec;
  spec.separable_head = true;
  if (arch == "separable") return spec;
  TX2_REQUIRE(arch == "separable-pruned", "unknown architecture '", arch,
              "' (standard, separable or separable-pruned)");
  const double ratios[3] = {0.5, 0.7, 0.8};
  for (int i = 0; i < 3; ++i)
    for (int& w : spec.det_block[i]) w -= static_cast<int>(std::lround(w * ratios[i]));
  return spec;
}

ConvShapeKey conv_shape_key(const TensorShape& in, int out_channels, const Node& n) {
  return std::make_tuple(in.c, in.h, in.w, out_channels, n.conv.kernel_h, n.conv.stride_h, n.conv.groups);
}

std::vector<ConvShape> distinct_conv_shapes(const std::vector<int>& sizes) {
  std::vector<ConvShape> out;
  std::set<ConvShapeKey> seen;
  for (int size : sizes) {
    for (bool separable : {false, true}) {
      ArchitectureSpec spec;
      spec.separable_head = separable;
      const ArchitectureGraph arch = build_yolov3_mobilenet_v1(spec);
      WeightShapes w;
      for (const auto& t : arch.weights) w[t.first] = t.second;
      const auto shapes = infer_shapes(arch.graph, w, size, size);
      for (const Node& n : arch.graph.nodes) {
        if (n.op != OpKind::kConv2d) continue;
        const TensorShape& in = shapes.at(n.inputs[0]);
        const int cout = conv_out_channels(n, w);
        const ConvShapeKey key = conv_shape_key(in, cout, n);
        if (!seen.insert(key).second) continue;
        out.push_back({cat(n.name, "@", size), n, in, cout, key});
      }
    }
  }
  return out;
}

}  // namespace tx2yolo
