// `tx2yolo selftest` without a GPU (engine/selftest.h): the conv checks with
// test doubles as the kernels under test (a correct kernel, planted wrong
// ones, an FP16-storage one), the report's rows, exit status and JSON, and
// the CPU backend's own selftest through the CLI.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/half.h"
#include "engine/selftest.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

using testing_util::TempDir;

ConvKernelUnderTest cpu_kernel(const std::string& name,
                               std::function<void(const Conv2dParams&, const float*, const float*, const float*, float*)> f) {
  ConvKernelUnderTest k;
  k.name = name;
  k.tolerance = tolerance::kConvFp32;
  k.supports = [](const Conv2dParams&) { return true; };
  k.run = [f](const Conv2dParams& p, const std::vector<float>& in, const std::vector<float>& w,
              const std::vector<float>& b, std::vector<float>* out) { f(p, in.data(), w.data(), b.data(), out->data()); };
  return k;
}

std::vector<SelftestConvShape> shapes() {
  // A stem-like conv, a depthwise conv on odd sizes, and a pointwise conv into a concat slice.
  std::vector<SelftestConvShape> s = {
      {"stem", testing_util::make_params(3, 17, 13, 8, 3, 2, 1, 1, Activation::kRelu, 0.f)},
      {"depthwise", testing_util::make_params(12, 9, 7, 12, 3, 1, 1, 12, Activation::kLeakyRelu, 0.1f)},
      {"pointwise", testing_util::make_params(10, 5, 6, 7, 1, 1, 0, 1, Activation::kNone, 0.f)}};
  s[2].p.out_channel_offset = 3;
  s[2].p.out_channels_total = 12;
  finalize_conv2d_params(s[2].p);
  return s;
}

TEST(Selftest, PlantedWrongKernelsFailAndTheReportSaysWhere) {
  std::vector<ConvKernelUnderTest> kernels;
  kernels.push_back(cpu_kernel("good", conv2d_cpu));
  // Wrong only in the last image of a batch: selftest compares the last image too.
  kernels.push_back(cpu_kernel("last-image-wrong", [](const Conv2dParams& p, const float* in, const float* w,
                                                      const float* b, float* out) {
    conv2d_cpu(p, in, w, b, out);
    if (p.batch > 1)
      out[(static_cast<std::size_t>(p.batch - 1) * p.out_channels_total + p.out_channel_offset) * p.out_h * p.out_w] +=
          1.f;
  }));
  // Writes nothing into the middle images (they stay NaN).
  kernels.push_back(cpu_kernel("middle-unwritten", [](const Conv2dParams& p, const float* in, const float* w,
                                                      const float* b, float* out) {
    Conv2dParams one = p;
    one.batch = 1;
    const std::size_t in_image = static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w;
    const std::size_t out_image = static_cast<std::size_t>(p.out_channels_total) * p.out_h * p.out_w;
    for (int n : {0, p.batch - 1}) conv2d_cpu(one, in + n * in_image, w, b, out + n * out_image);
  }));
  // An FP16-storage kernel: computes in FP32 and rounds each output to FP16.
  ConvKernelUnderTest half = cpu_kernel("fp16-storage", [](const Conv2dParams& p, const float* in, const float* w,
                                                           const float* b, float* out) {
    conv2d_cpu(p, in, w, b, out);
    const std::size_t n = static_cast<std::size_t>(p.batch) * p.out_channels_total * p.out_h * p.out_w;
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isnan(out[i])) out[i] = to_float(to_half(out[i]));
  });
  half.fp16_storage = true;
  half.tolerance = conv2d_tolerance(Conv2dCudaKernel::kGemm, true);
  kernels.push_back(half);
  // Does not support depthwise shapes: no outcome there.
  ConvKernelUnderTest gemm_only = cpu_kernel("not-depthwise", conv2d_cpu);
  gemm_only.supports = [](const Conv2dParams& p) { return p.groups == 1; };
  kernels.push_back(gemm_only);

  const std::vector<SelftestCheck> checks = conv_selftest_checks(shapes(), kernels, 3, 7);
  ASSERT_EQ(checks.size(), 6u);  // 3 shapes x batch 1 and 3
  int started = 0, steps = 0;
  SelftestProgress progress;
  progress.start = [&](int total, double estimate) {
    started = total;
    EXPECT_GT(estimate, 0.0);
  };
  progress.step = [&](int, int, const std::string&, double) { ++steps; };
  const SelftestReport r = run_selftest_checks(checks, progress);
  EXPECT_EQ(started, 6);
  EXPECT_EQ(steps, 6);
  EXPECT_FALSE(r.ok());
  std::map<std::string, SelftestRow> rows;
  for (const SelftestRow& row : r.rows) rows[row.group] = row;
  EXPECT_EQ(rows.at("conv good").passed, 6);
  EXPECT_EQ(rows.at("conv good").failed, 0);
  EXPECT_LE(rows.at("conv good").worst, 1.0);
  EXPECT_EQ(rows.at("conv fp16-storage").failed, 0) << rows.at("conv fp16-storage").first_failure;
  EXPECT_EQ(rows.at("conv last-image-wrong").passed, 3);  // batch 1 is right
  EXPECT_EQ(rows.at("conv last-image-wrong").failed, 3);
  EXPECT_NE(rows.at("conv last-image-wrong").first_failure.find("image 2"), std::string::npos)
      << rows.at("conv last-image-wrong").first_failure;
  EXPECT_EQ(rows.at("conv middle-unwritten").failed, 3);
  EXPECT_NE(rows.at("conv middle-unwritten").first_failure.find("image 1"), std::string::npos)
      << rows.at("conv middle-unwritten").first_failure;
  EXPECT_EQ(rows.at("conv not-depthwise").passed + rows.at("conv not-depthwise").failed, 4);
  EXPECT_EQ(r.failures.size(), 6u);
  // The JSON says the same.
  const nlohmann::json j = nlohmann::json::parse(r.json());
  EXPECT_EQ(j.at("format"), "tx2yolo-selftest");
  EXPECT_FALSE(j.at("passed").get<bool>());
  EXPECT_EQ(j.at("failures").size(), 6u);
  EXPECT_NE(r.table().find("conv last-image-wrong"), std::string::npos);
}

// At batch 1 each shape writes into a slice of a wider tensor (as a
// concat's producer does): a kernel that writes around its slice fails.
TEST(Selftest, AKernelWritingOutsideItsSliceFails) {
  std::vector<ConvKernelUnderTest> kernels = {
      cpu_kernel("spills", [](const Conv2dParams& p, const float* in, const float* w, const float* b, float* out) {
        conv2d_cpu(p, in, w, b, out);
        if (p.out_channel_offset > 0) out[0] = 0.f;  // channel 0 of image 0: outside the slice
      })};
  const SelftestReport r = run_selftest_checks(conv_selftest_checks({shapes()[0]}, kernels, 2, 3));
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].failed, 1);  // batch 1 (sliced)
  EXPECT_EQ(r.rows[0].passed, 1);  // batch 2 (the whole tensor)
  EXPECT_NE(r.rows[0].first_failure.find("outside its slice"), std::string::npos) << r.rows[0].first_failure;
}

TEST(Selftest, ShapesOfTheFullWidthModelsAreDistinctAndIncludeFusablePairs) {
  const auto all = selftest_conv_shapes("", 608, 608);
  EXPECT_GT(all.size(), 40u);
  const auto pairs = selftest_dwpw_pairs("", 608, 608);
  EXPECT_GE(pairs.size(), 13u);  // the backbone's at least
  for (const auto& p : pairs) EXPECT_TRUE(conv2d_dwpw_fusable(p.second.dw, p.second.pw)) << p.first;
}

// The CPU backend's selftest through the CLI: a table, exit 0, the JSON; and
// bad options are one-line errors.
TEST(Selftest, CliOnTheCpuBackend) {
  TempDir dir;
  const std::string cli = TX2YOLO_CLI_PATH;
  const std::string model = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
  const auto r = testing_util::run_command(cli + " selftest --backend cpu --model " + model + " --json " +
                                           dir.file("st.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cpu conv2d vs direct formula"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PASSED"), std::string::npos) << r.output;
  const nlohmann::json j = nlohmann::json::parse(testing_util::read_text(dir.file("st.json")));
  EXPECT_TRUE(j.at("passed").get<bool>());
  EXPECT_GT(j.at("rows").at(0).at("passed").get<int>(), 10);
  for (const char* bad : {" selftest --max-batch 0", " selftest --backend cpu --precision fp16",
                          " selftest --model /no/such/model.safetensors", " selftest --input-size 30"}) {
    const auto e = testing_util::run_command_stderr(cli + bad);
    EXPECT_NE(e.exit_code, 0) << bad;
    EXPECT_EQ(e.output.rfind("error: ", 0), 0u) << bad << ": " << e.output;
  }
}

}  // namespace
}  // namespace tx2yolo

namespace tx2yolo {
namespace {

// The selftest budget: under 60 s on a TX2-class device, by the roofline
// estimate, for the default run (the three full-width architectures at 608,
// batch 1 and 4) with the kernels a TX2 offers: at FP32 gemm64, gemm32,
// gemm128, depthwise and cudnn (no split-K on 2 SMs); at FP16 the same
// with gemm64-half2 for cudnn, on FP16 storage (two CPU references).
TEST(Selftest, DefaultRunFitsTheTx2BudgetByTheRooflineEstimate) {
  const auto shapes = selftest_conv_shapes("", 608, 608);
  for (bool half : {false, true}) {
    std::vector<ConvKernelUnderTest> kernels;
    for (const char* name : {"gemm64", "gemm32", "gemm128", "depthwise", half ? "gemm64-half2" : "cudnn"}) {
      ConvKernelUnderTest k;
      k.name = name;
      k.fp16_storage = half;
      k.fp16_operands = std::string(name) == "gemm64-half2";
      const bool depthwise = std::string(name) == "depthwise";
      k.supports = [depthwise](const Conv2dParams& p) {
        return !depthwise || (p.groups == p.in_channels && p.groups == p.out_channels);
      };
      kernels.push_back(k);
    }
    const double seconds = selftest_tx2_estimate_seconds(conv_selftest_checks(shapes, kernels, 4, 1));
    std::printf("%s: the conv checks take about %.1f s on a TX2 (roofline estimate)\n", half ? "fp16" : "fp32",
                seconds);
    // The rest (fused pairs, the other ops, the graphs) is estimated at under 10 s.
    EXPECT_LT(seconds, 50.0 * testing_util::time_limit_scale()) << (half ? "fp16" : "fp32");
  }
}

}  // namespace
}  // namespace tx2yolo
