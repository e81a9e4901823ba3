// The network graph stored in the model file's __metadata__["graph"].
//
// A graph is a list of nodes in execution order. Each node reads named
// tensors (the graph input "image" or outputs of earlier nodes) and writes one
// tensor named after its `output`. Ops:
//   conv2d            1 input; weight [C_out, C_in/groups, K_h, K_w]; optional
//                     bias [C_out]; attrs kernel, stride, pad, groups,
//                     activation, alpha (BN is already folded into weight/bias)
//   upsample_nearest  1 input; attr scale (integer)
//   concat            2+ inputs of equal H, W; channels add up, in order
// Shapes are per image, [C, H, W]; the batch is a run-time choice.
// The JSON form is specified in docs/model-format.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/activation.h"

namespace tx2yolo {

enum class OpKind { kConv2d, kUpsampleNearest, kConcat };

const char* op_name(OpKind op);

struct ConvAttrs {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int groups = 1;
  Activation activation = Activation::kNone;
  float alpha = 0.f;
};

struct Node {
  std::string name;
  OpKind op = OpKind::kConv2d;
  std::vector<std::string> inputs;
  std::string output;
  // conv2d only
  ConvAttrs conv;
  std::string weight;  // tensor name
  std::string bias;    // tensor name, empty when the conv has no bias
  // upsample_nearest only
  int scale = 2;
};

struct GraphInput {
  std::string name = "image";
  int channels = 3;
};

struct Graph {
  GraphInput input;
  std::vector<Node> nodes;
  std::vector<std::string> outputs;
};

// Limits that keep every size computation inside int and every activation
// allocation sane: channels per tensor, and elements per activation tensor
// (2^28 floats = 1 GiB).
constexpr long long kMaxChannels = 1 << 20;
constexpr long long kMaxTensorElements = 1LL << 28;

struct TensorShape {
  int c = 0, h = 0, w = 0;
  long long numel() const { return static_cast<long long>(c) * h * w; }
  bool operator==(const TensorShape& o) const { return c == o.c && h == o.h && w == o.w; }
};

// "[32, 3, 3, 3]": the one shape formatter for messages and tables.
std::string shape_to_string(const std::vector<long long>& shape);

// Shape of every weight tensor the graph expects, as read from the file.
using WeightShapes = std::map<std::string, std::vector<long long>>;

// JSON conversion. graph_from_json checks structure and types only and throws
// Error("graph: ...") naming the node and field.
nlohmann::json graph_to_json(const Graph& g);
Graph graph_from_json(const nlohmann::json& j);

// Infers the [C, H, W] shape of every tensor for an input of input_h x
// input_w, checking along the way: names unique, every input produced
// earlier, weights present with the shape the conv implies, concat inputs of
// equal H and W, every output produced, and no tensor in `weights` left
// unused. Throws Error naming the node, tensor and both shapes.
std::map<std::string, TensorShape> infer_shapes(const Graph& g, const WeightShapes& weights,
                                                int input_h, int input_w);

// Convolution output channels of a conv node, read from its weight shape.
int conv_out_channels(const Node& n, const WeightShapes& weights);

// Multiply-accumulates of each conv node (name -> MACs) for the given shapes.
std::map<std::string, long long> graph_macs(const Graph& g, const WeightShapes& weights,
                                            const std::map<std::string, TensorShape>& shapes);

}  // namespace tx2yolo
