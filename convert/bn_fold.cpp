#include "convert/bn_fold.h"

#include <cmath>
#include <random>

#include "core/error.h"

namespace tx2yolo {
namespace paddle {

namespace {

constexpr int kSelfCheckPatches = 4;
// Float rounding of the folded weights and bias: a few ulps of the terms' magnitude.
constexpr double kSelfCheckTolerance = 1e-5;

void require_finite(const ParamTensor* t) {
  if (!t) return;
  for (std::size_t i = 0; i < t->values.size(); ++i)
    TX2_REQUIRE(std::isfinite(t->values[i]), "parameter ", t->name, " has a non-finite value (", t->values[i],
                ") at index ", i);
}

}  // namespace

FoldedConv fold_conv(const MappedConv& c) {
  const ParamTensor& w = *c.weight;
  for (const ParamTensor* t : {c.weight, c.bias, c.bn.scale, c.bn.bias, c.bn.mean, c.bn.variance}) require_finite(t);
  const auto out = static_cast<std::size_t>(w.shape[0]);
  const std::size_t per_filter = w.values.size() / out;

  // Per-channel scale and shift in double.
  std::vector<double> scale(out, 1.0), shift(out, 0.0);
  for (std::size_t o = 0; o < out; ++o) {
    const double b = c.bias ? c.bias->values[o] : 0.0;
    if (c.has_bn) {
      const double var = c.bn.variance->values[o];
      TX2_REQUIRE(var + c.bn.eps > 0, "parameter ", c.bn.variance->name, "[", o, "] = ", var, " with epsilon ",
                  c.bn.eps, " gives a non-positive variance; cannot fold batch norm");
      scale[o] = c.bn.scale->values[o] / std::sqrt(var + c.bn.eps);
      shift[o] = (b - c.bn.mean->values[o]) * scale[o] + c.bn.bias->values[o];
    } else {
      shift[o] = b;
    }
  }

  FoldedConv f;
  f.weight.shape = w.shape;
  f.weight.data.resize(w.values.size());
  f.bias.shape = {static_cast<long long>(out)};
  f.bias.data.resize(out);
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t k = 0; k < per_filter; ++k)
      f.weight.data[o * per_filter + k] = static_cast<float>(w.values[o * per_filter + k] * scale[o]);
    f.bias.data[o] = static_cast<float>(shift[o]);
    TX2_REQUIRE(std::isfinite(f.weight.data[o * per_filter]) && std::isfinite(f.bias.data[o]), "folding ", c.node,
                " channel ", o, " overflows float (scale ", scale[o], ")");
  }

  // Self-check: unfolded conv + BN in double against the folded float weights.
  std::mt19937 rng(0x5eed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> x(per_filter);
  for (int patch = 0; patch < kSelfCheckPatches; ++patch) {
    for (double& v : x) v = dist(rng);
    for (std::size_t o = 0; o < out; ++o) {
      double z = c.bias ? c.bias->values[o] : 0.0, folded = f.bias.data[o], magnitude = std::fabs(folded);
      for (std::size_t k = 0; k < per_filter; ++k) {
        z += w.values[o * per_filter + k] * x[k];
        const double term = static_cast<double>(f.weight.data[o * per_filter + k]) * x[k];
        folded += term;
        magnitude += std::fabs(term);
      }
      const double unfolded = c.has_bn ? c.bn.scale->values[o] * (z - c.bn.mean->values[o]) /
                                                 std::sqrt(c.bn.variance->values[o] + c.bn.eps) +
                                             c.bn.bias->values[o]
                                       : z;
      const double error = std::fabs(unfolded - folded) / std::max(magnitude, 1e-30);
      f.max_self_check_error = std::max(f.max_self_check_error, error);
      TX2_REQUIRE(error <= kSelfCheckTolerance, "batch-norm fold self-check failed for ", c.node, " channel ", o,
                  ": unfolded ", unfolded, ", folded ", folded, " (relative error ", error, ")");
    }
  }
  return f;
}

}  // namespace paddle
}  // namespace tx2yolo
