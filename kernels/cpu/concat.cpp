// CPU reference for concat (formula in kernels/concat.h).
#include "kernels/concat.h"

#include <cstring>

#include "core/error.h"

namespace tx2yolo {

int concat_output_channels(const ConcatParams& p) {
  TX2_REQUIRE(p.num_inputs >= 1 && p.num_inputs <= kMaxConcatInputs, "concat: ", p.num_inputs,
              " inputs; expected 1..", kMaxConcatInputs);
  TX2_REQUIRE(p.batch > 0 && p.height > 0 && p.width > 0, "concat: sizes must be positive");
  long long total = 0;
  for (int i = 0; i < p.num_inputs; ++i) {
    TX2_REQUIRE(p.channels[i] > 0, "concat: input ", i, " has ", p.channels[i], " channels");
    total += p.channels[i];
  }
  TX2_REQUIRE(total <= (1 << 30), "concat: ", total, " output channels is too many");
  return static_cast<int>(total);
}

void concat_cpu(const ConcatParams& p, const float* const* inputs, float* out) {
  const int total = concat_output_channels(p);
  const std::size_t plane = static_cast<std::size_t>(p.height) * p.width;
  for (int n = 0; n < p.batch; ++n) {
    int offset = 0;
    for (int i = 0; i < p.num_inputs; ++i) {
      const std::size_t count = static_cast<std::size_t>(p.channels[i]) * plane;
      std::memcpy(out + (static_cast<std::size_t>(n) * total + offset) * plane,
                  inputs[i] + static_cast<std::size_t>(n) * count, count * sizeof(float));
      offset += p.channels[i];
    }
  }
}

}  // namespace tx2yolo
