// upsample_nearest and concat CPU references on hand-made cases.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/concat.h"
#include "kernels/upsample_nearest.h"

namespace tx2yolo {
namespace {

TEST(UpsampleNearest, Scale2ReplicatesEachPixelIntoA2x2Block) {
  UpsampleNearestParams p;
  p.channels = 1;
  p.in_h = 2;
  p.in_w = 3;
  finalize_upsample_nearest_params(p);
  const std::vector<float> in = {1, 2, 3, 4, 5, 6};
  std::vector<float> out(24, std::numeric_limits<float>::quiet_NaN());
  upsample_nearest_cpu(p, in.data(), out.data());
  const std::vector<float> expected = {1, 1, 2, 2, 3, 3,  //
                                       1, 1, 2, 2, 3, 3,  //
                                       4, 4, 5, 5, 6, 6,  //
                                       4, 4, 5, 5, 6, 6};
  EXPECT_EQ(out, expected);
}

TEST(UpsampleNearest, SourceIndexIsFloorOfHalf) {
  // src(k) = floor(k / 2) for every output index of an odd-sized input.
  UpsampleNearestParams p;
  p.channels = 1;
  p.in_h = 1;
  p.in_w = 7;
  finalize_upsample_nearest_params(p);
  std::vector<float> in(7);
  for (int i = 0; i < 7; ++i) in[i] = static_cast<float>(i);
  std::vector<float> out(2 * 14);
  upsample_nearest_cpu(p, in.data(), out.data());
  for (int k = 0; k < 14; ++k) EXPECT_EQ(out[k], static_cast<float>(k / 2)) << "k=" << k;
}

TEST(UpsampleNearest, WritesIntoItsConcatSliceOnly) {
  UpsampleNearestParams p;
  p.channels = 1;
  p.in_h = p.in_w = 1;
  p.out_channel_offset = 0;
  p.out_channels_total = 2;
  finalize_upsample_nearest_params(p);
  const float in = 7.f;
  std::vector<float> out(8, -1.f);
  upsample_nearest_cpu(p, &in, out.data());
  EXPECT_EQ(out, (std::vector<float>{7, 7, 7, 7, -1, -1, -1, -1}));
  p.out_channel_offset = 2;
  EXPECT_THROW(finalize_upsample_nearest_params(p), Error);
}

TEST(Concat, KeepsInputOrderAlongChannels) {
  // [route_up (2 ch), backbone (1 ch)] at 1x2, batch 2: Paddle's concat order.
  ConcatParams p;
  p.batch = 2;
  p.height = 1;
  p.width = 2;
  p.num_inputs = 2;
  p.channels[0] = 2;
  p.channels[1] = 1;
  ASSERT_EQ(concat_output_channels(p), 3);
  const std::vector<float> a = {1, 2, 3, 4, /*n1*/ 5, 6, 7, 8};
  const std::vector<float> b = {10, 20, /*n1*/ 30, 40};
  const float* inputs[2] = {a.data(), b.data()};
  std::vector<float> out(12);
  concat_cpu(p, inputs, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 4, 10, 20, 5, 6, 7, 8, 30, 40}));
}

TEST(Concat, RejectsBadParams) {
  ConcatParams p;
  p.height = p.width = 1;
  p.num_inputs = 0;
  EXPECT_THROW(concat_output_channels(p), Error);
  p.num_inputs = 2;
  p.channels[0] = 3;
  p.channels[1] = 0;
  EXPECT_THROW(concat_output_channels(p), Error);
}

}  // namespace
}  // namespace tx2yolo
