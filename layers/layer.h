// Layer: one graph node bound to its weights, with its kernel params fixed
// for one input size and batch. The engine runs layers in graph order.
// Layers hold pointers into the ModelFile's data, which must outlive them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weights/graph.h"
#include "weights/model_file.h"

namespace tx2yolo {

class Layer {
 public:
  explicit Layer(const Node& node) : node_(node) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const Node& node() const { return node_; }
  // Multiply-accumulates of one forward pass (0 for data movement).
  virtual long long macs() const { return 0; }
  // One line for `inspect`: kernel choice and params.
  virtual std::string describe() const = 0;
  // CPU reference forward. inputs follow node().inputs; output is the node's
  // output tensor [batch, C, H, W].
  virtual void forward_cpu(const std::vector<const float*>& inputs, float* output) const = 0;

 private:
  Node node_;
};

// Builds the layer for a node. `shapes` come from infer_shapes at the chosen
// input size. Throws Error naming the node if the node cannot be built.
std::unique_ptr<Layer> make_layer(const Node& node, const ModelFile& model,
                                  const std::map<std::string, TensorShape>& shapes, int batch);

}  // namespace tx2yolo
