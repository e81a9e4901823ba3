// UpsampleLayer: nearest-neighbour integer upsampling (Paddle nearest_interp_v2).
#pragma once

#include "kernels/upsample_nearest.h"
#include "layers/layer.h"

namespace tx2yolo {

class UpsampleLayer : public Layer {
 public:
  UpsampleLayer(const Node& node, const std::map<std::string, TensorShape>& shapes, int batch);
  std::string describe() const override;
  void forward_cpu(const std::vector<const float*>& inputs, float* output) const override;
  const UpsampleNearestParams& params() const { return params_; }

 private:
  UpsampleNearestParams params_;
};

}  // namespace tx2yolo
