// The one place that maps graph ops to layer classes.
#include "layers/layer.h"

#include "core/error.h"
#include "layers/concat_layer.h"
#include "layers/conv_layer.h"
#include "layers/upsample_layer.h"

namespace tx2yolo {

std::unique_ptr<Layer> make_layer(const Node& node, const ModelFile& model,
                                  const std::map<std::string, TensorShape>& shapes, int batch) {
  switch (node.op) {
    case OpKind::kConv2d: return std::make_unique<ConvLayer>(node, model, shapes, batch);
    case OpKind::kUpsampleNearest: return std::make_unique<UpsampleLayer>(node, shapes, batch);
    case OpKind::kConcat: return std::make_unique<ConcatLayer>(node, shapes, batch);
  }
  throw Error(cat("node '", node.name, "': op ", op_name(node.op), " has no layer"));
}

}  // namespace tx2yolo
