#include "core/activation.h"

#include "core/error.h"

namespace tx2yolo {

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kLeakyRelu: return "leaky_relu";
  }
  return "unknown";
}

Activation activation_from_string(const std::string& name) {
  if (name == "none") return Activation::kNone;
  if (name == "relu") return Activation::kRelu;
  if (name == "leaky_relu") return Activation::kLeakyRelu;
  throw Error(cat("unknown activation '", name, "' (expected none, relu or leaky_relu)"));
}

}  // namespace tx2yolo
