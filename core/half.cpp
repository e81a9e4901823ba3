// FP16 <-> float on the host (core/half.h).
#include "core/half.h"

#include <cmath>
#include <cstring>

namespace tx2yolo {

std::uint16_t float_to_half_bits(float x) {
  std::uint32_t f = 0;
  std::memcpy(&f, &x, 4);
  const std::uint16_t sign = static_cast<std::uint16_t>((f >> 16) & 0x8000u);
  const std::uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));
  const float a = std::fabs(x);
  if (a >= 65520.f) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504: infinity
  if (a < 6.103515625e-05f) {
    // Subnormal (or zero): a multiple of 2^-24; nearbyint rounds ties to even.
    const float units = std::nearbyint(a * 16777216.f);  // a / 2^-24, exact scaling
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(units));  // 1024 units is the smallest normal
  }
  // Normal: keep 10 of float's 23 fraction bits, rounding the other 13 to nearest even.
  std::uint32_t exponent = (abs >> 23) - 127 + 15;
  std::uint32_t mantissa = abs & 0x7fffffu;
  const std::uint32_t rest = mantissa & 0x1fffu;
  mantissa >>= 13;
  if (rest > 0x1000u || (rest == 0x1000u && (mantissa & 1u))) {
    if (++mantissa == 0x400u) {  // carried into the exponent
      mantissa = 0;
      ++exponent;
    }
  }
  return static_cast<std::uint16_t>(sign | (exponent << 10) | mantissa);
}

float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t f;
  if (exponent == 0x1fu) {
    f = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    f = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  } else {
    const float v = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal: exact
    return sign ? -v : v;
  }
  float x;
  std::memcpy(&x, &f, 4);
  return x;
}

}  // namespace tx2yolo
