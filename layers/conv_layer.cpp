#include "layers/conv_layer.h"

#include "core/error.h"

namespace tx2yolo {

Conv2dParams conv2d_params_for(const Node& node, const TensorShape& in, int out_channels, int batch) {
  Conv2dParams p;
  p.batch = batch;
  p.in_channels = in.c;
  p.in_h = in.h;
  p.in_w = in.w;
  p.out_channels = out_channels;
  p.kernel_h = node.conv.kernel_h;
  p.kernel_w = node.conv.kernel_w;
  p.stride_h = node.conv.stride_h;
  p.stride_w = node.conv.stride_w;
  p.pad_h = node.conv.pad_h;
  p.pad_w = node.conv.pad_w;
  p.groups = node.conv.groups;
  p.activation = node.conv.activation;
  p.alpha = node.conv.alpha;
  try {
    finalize_conv2d_params(p);
  } catch (const Error& e) {
    throw Error(cat("node '", node.name, "': ", e.what()));
  }
  return p;
}

ConvLayer::ConvLayer(const Node& node, const ModelFile& model,
                     const std::map<std::string, TensorShape>& shapes, int batch)
    : Layer(node),
      params_(conv2d_params_for(node, shapes.at(node.inputs.at(0)),
                                static_cast<int>(model.tensor(node.weight).shape.at(0)), batch)) {
  const TensorShape& out = shapes.at(node.output);
  TX2_REQUIRE(out.c == params_.out_channels && out.h == params_.out_h && out.w == params_.out_w, "node '",
              node.name, "': kernel output ", params_.out_channels, "x", params_.out_h, "x", params_.out_w,
              " disagrees with the graph's ", out.c, "x", out.h, "x", out.w);
  weight_ = model.tensor_data(node.weight);
  bias_ = node.bias.empty() ? nullptr : model.tensor_data(node.bias);
}

const char* ConvLayer::kind() const {
  const Conv2dParams& p = params_;
  if (p.groups > 1 && p.groups == p.in_channels && p.groups == p.out_channels) return "depthwise";
  if (p.groups == 1 && p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
      p.pad_h == 0 && p.pad_w == 0)
    return "pointwise";
  return "standard";
}

std::string ConvLayer::describe() const {
  const Conv2dParams& p = params_;
  return cat(kind(), " ", p.kernel_h, "x", p.kernel_w, "/s", p.stride_h, " ", p.in_channels, "->",
             p.out_channels, (p.groups > 1 ? cat(" g", p.groups) : std::string()), " ",
             activation_name(p.activation), bias_ ? " +bias" : "");
}

void ConvLayer::forward_cpu(const std::vector<const float*>& inputs, float* output) const {
  conv2d_cpu(params_, inputs.at(0), weight_, bias_, output);
}

}  // namespace tx2yolo
