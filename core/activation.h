// Activation kinds shared by the model file (weights/) and the kernels.
// Paddle semantics (shared/research/paddle-semantics.md §6.4):
//   relu(x)       = max(x, 0)
//   leaky_relu(x) = max(x, alpha * x) for alpha < 1  (x > 0 ? x : alpha * x)
#pragma once

#include <string>

#if defined(__CUDACC__)
#define TX2_HOST_DEVICE __host__ __device__
#else
#define TX2_HOST_DEVICE
#endif

namespace tx2yolo {

enum class Activation : int { kNone = 0, kRelu = 1, kLeakyRelu = 2 };

// Applies the activation to one value. alpha is used only by kLeakyRelu.
TX2_HOST_DEVICE inline float apply_activation(Activation act, float alpha, float x) {
  if (act == Activation::kRelu) return x > 0.f ? x : 0.f;
  if (act == Activation::kLeakyRelu) return x > 0.f ? x : alpha * x;
  return x;
}

// "none", "relu", "leaky_relu". activation_from_string throws Error on anything else.
const char* activation_name(Activation act);
Activation activation_from_string(const std::string& name);

}  // namespace tx2yolo
