// Shared test helpers: seeded random data, temporary directories, running the
// CLI, and a close-comparison that reports the first mismatches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "kernels/conv2d.h"
#include "kernels/multiclass_nms.h"
#include "kernels/tolerance.h"
#include "weights/architecture.h"

namespace tx2yolo {
namespace testing_util {

// Uniform floats in [lo, hi) from a fixed seed (std::mt19937).
std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float lo = -1.f, float hi = 1.f);

// A fresh empty directory under /tmp, removed (with its files) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the directory (including hidden ones), sorted.
  std::vector<std::string> entries() const;

 private:
  std::string path_;
};

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes);
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

// x rounded to the nearest FP16 value (ties to even), written from the
// format's spacing (10 fraction bits: 2^(e-11) at |x| in [2^(e-1), 2^e), never
// finer than the subnormal step 2^-24) and independent of core/half.cpp's
// bit manipulation and of CUDA's conversion: the oracle of both.
float round_to_half(float x);

// The factor by which the tests' wall-time limits are stretched: 1, or
// TX2YOLO_TEST_TIME_SCALE where the tests run under emulation
// (tools/aarch64-check.sh sets 10 for qemu-aarch64).
double time_limit_scale();

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line and captures stdout and stderr together.
CommandResult run_command(const std::string& command_line);
// Runs a shell command line and captures only its stderr (stdout discarded).
CommandResult run_command_stderr(const std::string& command_line);

// A fixed synthetic BGR scene (500x300: a disc, a box, a bright line) for
// end-to-end tests.
cv::Mat synthetic_scene();

// Two runs' detections, in order: the same count (and not none), the same
// classes, scores within score_tol and corners within px_tol. `what` names
// the run in failure messages.
void expect_same_detections(const std::vector<Detection>& expected, const std::vector<Detection>& actual,
                            float score_tol, float px_tol, const std::string& what = "");

// Writes the YOLOv3-MobileNetV1 template of `spec` with seeded random
// weights (make_random_weights) to dir/model.safetensors; returns the path.
std::string write_random_model(const TempDir& dir, const ArchitectureSpec& spec, std::uint32_t seed);

// Element-wise |a - b| <= atol + rtol * |b|; on failure reports the count and
// the first few mismatches with their indices.
// With a named bound from kernels/tolerance.h (the one place the GPU tests
// and selftest take their tolerances from).
// With t.sum_abs > 0, `magnitude` (sum |w x| per element) must be given.
::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<float>& expected,
                                     const Tolerance& t, const std::vector<float>* magnitude = nullptr);
::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<float>& expected,
                                     float atol, float rtol);

// A params struct's operator==: a copy equals the original, and each one
// of `changes` (one field each) makes it differ, both ways round.
template <typename P, typename Change>
void expect_field_wise_equality(const P& base, const std::vector<Change>& changes) {
  P copy = base;
  EXPECT_TRUE(copy == base);
  EXPECT_FALSE(copy != base);
  for (std::size_t i = 0; i < changes.size(); ++i) {
    P changed = base;
    changes[i](&changed);
    EXPECT_FALSE(changed == base) << "change " << i;
    EXPECT_FALSE(base == changed) << "change " << i;
    EXPECT_TRUE(changed != base) << "change " << i;
  }
}

// Every conv layer of a full-width architecture ("standard", "separable",
// "separable-pruned", 80 classes) at size x size, batch 1, finalized, in
// graph order.
struct ConvLayerShape {
  std::string name;
  std::string output;  // the node's output tensor
  Conv2dParams p;
};
std::vector<ConvLayerShape> full_width_conv_layers(const std::string& arch, int size);

// A finalized conv2d params struct from every extent (leaky slope 0.1 where
// the activation is leaky).
Conv2dParams conv_params(int batch, int cin, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw,
                         int groups, Activation act);

// A finalized conv2d params struct: square kernel k, stride and pad on both
// axes, batch 1.
Conv2dParams make_params(int cin, int h, int w, int cout, int k, int stride, int pad, int groups,
                         Activation act = Activation::kNone, float alpha = 0.f);

}  // namespace testing_util
}  // namespace tx2yolo
