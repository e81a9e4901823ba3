// Folds inference BatchNorm into the conv before it:
//
//   y = gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta
//     = conv(x, W * s) + (b - mean) * s + beta,  s = gamma / sqrt(var + eps)
//
// per output channel, computed in double and rounded once to float. Paddle's
// CPU kernel computes the same scale and shift (paddle-semantics.md §6.3).
// Each fold is self-checked: a few seeded random input patches go through the
// unfolded conv+BN in double and through the folded weights, and the fold
// fails loudly if they disagree beyond float rounding.
#pragma once

#include <string>

#include "convert/yolov3_mapping.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace paddle {

struct FoldedConv {
  HostTensor weight;  // [out, in/groups, kh, kw]
  HostTensor bias;    // [out]
  double max_self_check_error = 0;  // largest |unfolded - folded| / scale seen by the self-check
};

// Throws Error naming the parameter when a value is not finite or
// var + eps <= 0, or when the self-check fails.
FoldedConv fold_conv(const MappedConv& conv);

}  // namespace paddle
}  // namespace tx2yolo
