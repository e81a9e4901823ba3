// The YOLOv3-MobileNetV1 graph template: PaddleDetection's MobileNetV1
// backbone (scale 1, taps after blocks 4, 6, 13), YOLOv3FPN neck and
// YOLOv3Head (shared/research/paddle-semantics.md §1-§2), with every width a
// parameter so pruned and narrow models use the same template, and the
// paper's separable head (each neck 3x3 conv -> 3x3 depthwise + 1x1 pointwise,
// each with BN + leaky 0.1).
//
// BN is folded, so every conv has a bias. Node names follow the dygraph
// parameter prefixes (backbone.conv2_1._depthwise_conv,
// neck.yolo_block.0.conv_module.conv1, yolo_head.yolo_output.0); a separable
// conv X becomes X._depthwise_conv and X._pointwise_conv, the sub-layer names
// of scripts/paddle/sep_head.py. Weight tensors are "<node>.weight" and
// "<node>.bias".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "weights/graph.h"
#include "weights/model_config.h"
#include "weights/model_file.h"

namespace tx2yolo {

struct ArchitectureSpec {
  int num_classes = 20;
  bool separable_head = false;
  int stem_channels = 32;
  // Output width of the pointwise conv of each of the 13 DepthwiseSeparable blocks.
  std::array<int, 13> block_channels = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
  // Per detection block i (19x19, 38x38, 76x76 at 608): widths of
  // conv0, conv1, conv2, conv3, route, tip.
  std::array<std::array<int, 6>, 3> det_block = {{{512, 1024, 512, 1024, 512, 1024},
                                                   {256, 512, 256, 512, 256, 512},
                                                   {128, 256, 128, 256, 128, 256}}};
  std::array<int, 2> transition = {256, 128};
  std::vector<std::string> class_names;  // empty: "class0", "class1", ...

  // Every width multiplied by factor and rounded, at least 1.
  static ArchitectureSpec scaled(double factor, int num_classes);
};

// The three full-width architectures the project times and checks:
//   standard          PaddleDetection's yolov3_mobilenet_v1 (3x3 convs in the head)
//   separable         the head's 3x3 convs as 3x3 depthwise + 1x1 pointwise
//   separable-pruned  separable, with PaddleDetection's "r578" pruning: every
//                     conv of yolo_block 0 / 1 / 2 keeps w - round(w * r) of its
//                     w filters, r = 0.5 / 0.7 / 0.8 (as `convert --prune r578`)
constexpr const char* kFullWidthArchitectures[] = {"standard", "separable", "separable-pruned"};
// The spec of one of them by name; throws Error for another name.
ArchitectureSpec full_width_spec(const std::string& arch, int num_classes = 80);

// Strides of the 13 DepthwiseSeparable blocks' depthwise convs.
constexpr std::array<int, 13> kMobileNetV1BlockStrides = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};

struct ArchitectureGraph {
  Graph graph;
  // Every weight tensor (conv weight, then its bias), in graph order.
  std::vector<std::pair<std::string, std::vector<long long>>> weights;
  // Paddle's defaults: 608x608, ImageNet mean/std, the 9 COCO anchors with
  // masks [[6,7,8],[3,4,5],[0,1,2]], yolo_box conf 0.005, NMS 0.01/1000/100/0.45.
  ModelConfig config;
};

ArchitectureGraph build_yolov3_mobilenet_v1(const ArchitectureSpec& spec);

// Seeded random weights for the template (uniform, scaled by fan-in so
// activations stay O(1) through the network; head objectness biases lowered
// so that few cells are confident). For tests and the generated
// demo model only; a trained model comes from `tx2yolo convert`.
std::vector<std::pair<std::string, HostTensor>> make_random_weights(const ArchitectureGraph& arch,
                                                                    std::uint32_t seed);

// The distinct conv layer shapes of the full-width template (VOC, 20 classes;
// standard and separable head) at the given input sizes, each named after its
// first layer ("<node>@<size>"): what the CUDA kernel benchmarks time, the GPU
// tests check and the TX2 roofline reads back.
using ConvShapeKey = std::tuple<int, int, int, int, int, int, int>;  // C_in, H, W, C_out, kernel, stride, groups
ConvShapeKey conv_shape_key(const TensorShape& in, int out_channels, const Node& n);
struct ConvShape {
  std::string name;
  Node node;
  TensorShape in;
  int out_channels = 0;
  ConvShapeKey key;
};
std::vector<ConvShape> distinct_conv_shapes(const std::vector<int>& sizes = {320, 416, 608});

}  // namespace tx2yolo
