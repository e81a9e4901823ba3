// The verified-features table (engine/verification.h) and the defaults that
// follow it, on the CPU: every conv tactic and CUDA feature has a row, the
// default options allow only the verified ones, and the switch opts in.
#include <cstdlib>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "engine/detector.h"
#include "engine/verification.h"
#include "kernels/conv2d.h"

namespace tx2yolo {
namespace {

TEST(Verification, EveryConvTacticAndFeatureHasOneRow) {
  std::set<std::string> names;
  for (const VerifiedFeature& f : verified_features()) {
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate row " << f.name;
    EXPECT_FALSE(f.kind.empty()) << f.name;
    EXPECT_FALSE(f.what.empty()) << f.name;
    // A verified row names the whole run; an unverified one names none of it.
    EXPECT_EQ(f.card.empty(), f.date.empty()) << f.name;
    EXPECT_EQ(f.card.empty(), f.commit.empty()) << f.name;
    if (f.verified()) {
      EXPECT_EQ(f.date.size(), 10u) << f.name;
      EXPECT_EQ(f.last_verification(), f.card + ", " + f.date + ", " + f.commit);
    } else {
      EXPECT_EQ(f.last_verification(), "never run on a GPU");
    }
  }
  for (Conv2dCudaKernel k : kConv2dCudaTactics) EXPECT_EQ(names.count(conv2d_cuda_kernel_name(k)), 1u) << conv2d_cuda_kernel_name(k);
  for (const char* f : {"dwpw-fused", "frame-graph", "network-graph", "zero-copy", "fp16", "chunked-launch"})
    EXPECT_EQ(names.count(f), 1u) << f;
  EXPECT_THROW(verified_feature("no-such-feature"), Error);
}

// The features written since the last GPU run (the GPU verification issue's
// list) are not verified, so the defaults leave them out.
TEST(Verification, DefaultsUseOnlyVerifiedFeatures) {
  if (unverified_allowed_by_environment()) GTEST_SKIP() << "TX2YOLO_UNVERIFIED_KERNELS=1 allows every feature";
  const DetectorOptions defaults;
  EXPECT_FALSE(defaults.unverified);
  EXPECT_EQ(defaults.precision, Precision::kFp32);
  EXPECT_FALSE(defaults.zero_copy_input);
  for (const char* never : {"gemm128", "wmma-fp16", "gemm64-half2", "cudnn", "dwpw-fused", "frame-graph", "zero-copy",
                            "fp16", "chunked-launch"}) {
    EXPECT_FALSE(verified_feature(never).verified()) << never;
    EXPECT_FALSE(feature_allowed(never, defaults.unverified)) << never;
    EXPECT_TRUE(feature_allowed(never, true)) << never << ": --unverified opts in";
  }
  // What the default path runs on every layer was verified.
  for (const char* verified : {"gemm64", "depthwise", "network-graph", "gpu-preprocess", "gpu-nms"})
    EXPECT_TRUE(feature_allowed(verified, defaults.unverified)) << verified;
  // The conv tactics the defaults may choose from are exactly the verified ones.
  for (Conv2dCudaKernel k : kConv2dCudaTactics) {
    const std::string name = conv2d_cuda_kernel_name(k);
    EXPECT_EQ(feature_allowed(name, false), verified_feature(name).verified()) << name;
  }
}

TEST(Verification, MarkdownTableHasEveryRowAndItsDefault) {
  const std::string md = verified_features_markdown();
  for (const VerifiedFeature& f : verified_features()) {
    const std::string row = "| `" + f.name + "` | ";
    const auto at = md.find(row);
    ASSERT_NE(at, std::string::npos) << f.name;
    const std::string line = md.substr(at, md.find('\n', at) - at);
    EXPECT_NE(line.find(f.verified() ? "| on |" : "| off: `--unverified` |"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace tx2yolo
