#include "layers/upsample_layer.h"

#include "core/error.h"

namespace tx2yolo {

UpsampleLayer::UpsampleLayer(const Node& node, const std::map<std::string, TensorShape>& shapes, int batch)
    : Layer(node) {
  const TensorShape& in = shapes.at(node.inputs.at(0));
  params_.batch = batch;
  params_.channels = in.c;
  params_.in_h = in.h;
  params_.in_w = in.w;
  params_.scale = node.scale;
  try {
    finalize_upsample_nearest_params(params_);
  } catch (const Error& e) {
    throw Error(cat("node '", node.name, "': ", e.what()));
  }
}

std::string UpsampleLayer::describe() const { return cat("nearest x", params_.scale, " ", params_.channels, "ch"); }

void UpsampleLayer::forward_cpu(const std::vector<const float*>& inputs, float* output) const {
  upsample_nearest_cpu(params_, inputs.at(0), output);
}

}  // namespace tx2yolo
