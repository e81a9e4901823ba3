// ConvLayer: a conv2d node (standard, depthwise or pointwise by its groups and
// kernel) with BN folded into weight and bias and a fused activation.
#pragma once

#include "kernels/conv2d.h"
#include "layers/layer.h"

namespace tx2yolo {

// The finalized Conv2dParams of conv node `node` reading a `batch` of `in`
// and writing `out_channels` channels. Throws Error naming the node.
Conv2dParams conv2d_params_for(const Node& node, const TensorShape& in, int out_channels, int batch);

class ConvLayer : public Layer {
 public:
  ConvLayer(const Node& node, const ModelFile& model, const std::map<std::string, TensorShape>& shapes,
            int batch);
  long long macs() const override { return conv2d_macs(params_); }
  std::string describe() const override;
  void forward_cpu(const std::vector<const float*>& inputs, float* output) const override;
  const Conv2dParams& params() const { return params_; }
  const float* weight() const { return weight_; }
  const float* bias() const { return bias_; }  // null when the conv has none
  // "standard", "depthwise" or "pointwise".
  const char* kind() const;

 private:
  Conv2dParams params_;
  const float* weight_ = nullptr;
  const float* bias_ = nullptr;
};

}  // namespace tx2yolo
