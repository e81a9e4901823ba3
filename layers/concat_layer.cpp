#include "layers/concat_layer.h"

#include "core/error.h"

namespace tx2yolo {

ConcatLayer::ConcatLayer(const Node& node, const std::map<std::string, TensorShape>& shapes, int batch)
    : Layer(node) {
  TX2_REQUIRE(node.inputs.size() <= static_cast<std::size_t>(kMaxConcatInputs), "node '", node.name,
              "': concat of ", node.inputs.size(), " inputs; at most ", kMaxConcatInputs, " are supported");
  const TensorShape& first = shapes.at(node.inputs.at(0));
  params_.batch = batch;
  params_.height = first.h;
  params_.width = first.w;
  params_.num_inputs = static_cast<int>(node.inputs.size());
  for (std::size_t i = 0; i < node.inputs.size(); ++i) params_.channels[i] = shapes.at(node.inputs[i]).c;
  concat_output_channels(params_);
}

std::string ConcatLayer::describe() const {
  std::string parts;
  for (int i = 0; i < params_.num_inputs; ++i) parts += cat(i ? "+" : "", params_.channels[i]);
  return cat("concat ", parts, " ch");
}

void ConcatLayer::forward_cpu(const std::vector<const float*>& inputs, float* output) const {
  concat_cpu(params_, inputs.data(), output);
}

}  // namespace tx2yolo
