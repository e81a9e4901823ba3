// ConcatLayer: channel concatenation of the node's inputs, in order.
#pragma once

#include "kernels/concat.h"
#include "layers/layer.h"

namespace tx2yolo {

class ConcatLayer : public Layer {
 public:
  ConcatLayer(const Node& node, const std::map<std::string, TensorShape>& shapes, int batch);
  std::string describe() const override;
  void forward_cpu(const std::vector<const float*>& inputs, float* output) const override;
  const ConcatParams& params() const { return params_; }

 private:
  ConcatParams params_;
};

}  // namespace tx2yolo
