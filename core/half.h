// IEEE 754 binary16 ("FP16", CUDA's __half) on the host: the storage type of
// the CUDA backend's activations at --precision fp16, and conversions to and
// from float with round-to-nearest-even (as __float2half_rn does), written
// from the format's definition: 1 sign bit, 5 exponent bits (bias 15), 10
// fraction bits; subnormals below 2^-14; 65504 is the largest finite value.
#pragma once

#include <cstdint>

namespace tx2yolo {

// The bits of one FP16 value. Host code never does arithmetic on it; device
// code reinterprets it as __half (same size and layout).
struct half_t {
  std::uint16_t bits;
};
static_assert(sizeof(half_t) == 2, "half_t must be 2 bytes");

std::uint16_t float_to_half_bits(float x);  // round to nearest, ties to even; NaN stays NaN
float half_bits_to_float(std::uint16_t h);  // exact

inline half_t to_half(float x) { return half_t{float_to_half_bits(x)}; }
inline float to_float(half_t h) { return half_bits_to_float(h.bits); }

}  // namespace tx2yolo
