// FP16 on the host (core/half.h): the conversions the CUDA backend uses to
// upload FP16 inputs and read FP16 tensors back, against an independent
// rounding oracle (testing_util::round_to_half), itself checked by hand.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "core/half.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

using testing_util::round_to_half;

TEST(Half, RoundingOracleIsRightByHand) {
  EXPECT_EQ(round_to_half(1.f), 1.f);
  EXPECT_EQ(round_to_half(1.f + 1.f / 2048), 1.f);                // a tie: to even (1.0)
  EXPECT_EQ(round_to_half(1.f + 3.f / 2048), 1.f + 2.f / 1024);   // a tie: to even (1 + 2^-9)
  EXPECT_EQ(round_to_half(1.f + 1.5f / 2048), 1.f + 1.f / 1024);  // above the tie
  EXPECT_EQ(round_to_half(-3.14159f), -3.140625f);
  EXPECT_EQ(round_to_half(65504.f), 65504.f);  // the largest FP16
  EXPECT_TRUE(std::isinf(round_to_half(70000.f)));
  EXPECT_EQ(round_to_half(std::ldexp(1.f, -24)), std::ldexp(1.f, -24));  // the smallest subnormal
  EXPECT_EQ(round_to_half(std::ldexp(1.f, -26)), 0.f);
}

TEST(Half, EveryHalfValueRoundTripsThroughFloat) {
  int checked = 0;
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const std::uint16_t h = static_cast<std::uint16_t>(b);
    const float x = half_bits_to_float(h);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(x)))) << std::hex << b;
      continue;
    }
    ASSERT_EQ(float_to_half_bits(x), h) << std::hex << b << " -> " << x;
    EXPECT_EQ(round_to_half(x), x) << std::hex << b;  // an FP16 value is its own rounding
    ++checked;
  }
  EXPECT_EQ(checked, 65536 - 2 * 1023);  // all but the NaNs
  EXPECT_EQ(half_bits_to_float(0x3c00), 1.f);
  EXPECT_EQ(half_bits_to_float(0x7bff), 65504.f);
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.f, -24));
  EXPECT_TRUE(std::signbit(half_bits_to_float(0x8000)));
}

TEST(Half, FloatsRoundToNearestEvenLikeTheOracle) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mantissa(1.f, 2.f);
  std::uniform_int_distribution<int> exponent(-30, 17);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(mantissa(rng), exponent(rng)) * (i % 2 ? -1.f : 1.f);
    ASSERT_EQ(half_bits_to_float(float_to_half_bits(x)), round_to_half(x)) << x;
  }
  // Exact ties between two FP16 values, in the normal and the subnormal range.
  for (std::uint16_t h = 0x0001; h < 0x7bff; h = static_cast<std::uint16_t>(h + 97)) {
    const float lo = half_bits_to_float(h), hi = half_bits_to_float(static_cast<std::uint16_t>(h + 1));
    const float mid = lo + (hi - lo) / 2;  // exact in float
    const float even = (h & 1) ? hi : lo;
    EXPECT_EQ(half_bits_to_float(float_to_half_bits(mid)), even) << lo << " " << hi;
  }
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(float_to_half_bits(-1e30f), 0xfc00);
  EXPECT_EQ(float_to_half_bits(65519.f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.f), 0x7c00);
  EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(std::nanf("")))));
}

}  // namespace
}  // namespace tx2yolo
