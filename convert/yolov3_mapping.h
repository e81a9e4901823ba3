// Recognises a PaddleDetection YOLOv3-MobileNetV1 in a Paddle checkpoint and
// maps its parameters onto the engine's graph template
// (weights/architecture.h): MobileNetV1 backbone, YOLOv3FPN neck, YOLOv3Head,
// standard or separable head, any widths.
//
// Named checkpoints (.pdparams, per-variable folders) are mapped by name,
// in either naming family (shared/research/paddle-formats.md §5, and
// docs/paddle.md for the separable head):
//   dygraph 2.x  backbone.conv2_1._depthwise_conv._conv.weight,
//                neck.yolo_block.0.conv_module.conv1.conv.weight,
//                neck.yolo_block.0.conv_module.conv1._depthwise_conv.conv.weight (separable),
//                yolo_head.yolo_output.0.weight / .bias
//   static 0.x   conv2_1_dw_weights, yolo_block.0.0.1.conv.weights,
//                yolo_block.0.0.1_dw_weights / _sep_weights (separable),
//                yolo_output.0.conv.weights / .conv.bias
// Programs (.pdmodel / __model__) are mapped by data flow: each conv op is
// matched to the engine node whose inputs come from the same convs (through
// BN, activations, upsample and concat), so Paddle's auto-generated names
// (conv2d_12.w_0) and any op order work.
//
// Every width is read from the tensor shapes (so PaddleSlim-pruned models
// need no flags) and then checked against the template: depthwise convs have
// one input channel per group, concat widths add up, each head has
// 3 * (5 + classes) channels, BN vectors match their conv.
#pragma once

#include <string>
#include <vector>

#include "convert/checkpoint.h"
#include "weights/architecture.h"
#include "weights/model_config.h"

namespace tx2yolo {
namespace paddle {

// PaddleDetection's BatchNorm epsilon (nn.BatchNorm2D and fluid batch_norm
// defaults), used when the checkpoint carries no program to read it from.
constexpr double kDefaultBatchNormEps = 1e-5;

struct BatchNormRefs {
  const ParamTensor* scale = nullptr;     // gamma
  const ParamTensor* bias = nullptr;      // beta
  const ParamTensor* mean = nullptr;
  const ParamTensor* variance = nullptr;
  double eps = kDefaultBatchNormEps;
};

// One engine conv node and the Paddle parameters that make it.
struct MappedConv {
  std::string node;                       // engine node name
  const ParamTensor* weight = nullptr;
  const ParamTensor* bias = nullptr;      // conv bias (head outputs), or nullptr
  bool has_bn = false;
  BatchNormRefs bn;
};

// What a program says about decoding and NMS (yolo_box and
// multiclass_nms(3) op attributes), when it has those ops.
struct ProgramPostprocess {
  bool has_yolo_box = false;
  std::vector<HeadConfig> heads;          // level order; tensor names filled in
  DecodeConfig decode;
  bool has_nms = false;
  NmsConfig nms;
  int input_h = 0;                        // from the image feed's dims, when fixed
  int input_w = 0;
};

struct MappedModel {
  std::string naming;                     // "dygraph", "static" or "program"
  ArchitectureSpec spec;                  // widths and classes read from the shapes
  ArchitectureGraph arch;                 // the template built from spec
  std::vector<MappedConv> convs;          // one per conv node, in graph order
  std::vector<std::string> unused;        // checkpoint parameters the model does not use
  ProgramPostprocess postprocess;
};

MappedModel map_yolov3_mobilenet_v1(const Checkpoint& checkpoint);

// Re-reads m's widths from its conv weights, rebuilds its template and checks
// every shape (after the weights changed, e.g. by pruning).
void remap_widths(MappedModel* m);

}  // namespace paddle
}  // namespace tx2yolo
