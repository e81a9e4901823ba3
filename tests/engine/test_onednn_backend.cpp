// The CPU backend's oneDNN path (--cpu-convs onednn, engine/onednn_backend.h)
// against the reference kernels, the oracle:
//   - the bundled demo model on the demo image: the same detections, heads
//     within relative L2 1e-5, a batch of two that gives each image its
//     single-image result, 1 thread, and the adaptive default thread count
//     over frames that run both of its plans;
//   - every tensor of the three full-width architectures, and of the
//     standard head pruned r578 (random weights, 320x416, so that every layer
//     shape of each runs, pruned channel counts that are not multiples of
//     the block included) within the FP32 agreement bound of
//     kernels/tolerance.h. With AVX-512 the standard head's 3x3 convs must
//     run oneDNN's Winograd kernels.
// Skipped, with the reason, where oneDNN is not available; then the
// backend must refuse with an Error. tests/CMakeLists.txt runs this file a
// second time with ONEDNN_MAX_CPU_ISA=AVX2, the nChw8c layout.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "engine/detector.h"
#include "engine/onednn_api.h"
#include "kernels/tolerance.h"
#include "tests/test_util.h"
#include "weights/architecture.h"

namespace tx2yolo {
namespace {

#define SKIP_WITHOUT_ONEDNN(options)                                   \
  do {                                                                 \
    std::string why;                                                   \
    if (!onednn_available(&why)) {                                     \
      EXPECT_THROW(Detector(model, options), Error);                   \
      GTEST_SKIP() << why;                                             \
    }                                                                  \
  } while (0)

// The CPU backend at 2 threads with the given convs (and input size; 0: the model's).
DetectorOptions cpu_options(CpuConvs convs, int input_h = 0, int input_w = 0) {
  DetectorOptions o;
  o.backend = BackendKind::kCpu;
  o.threads = 2;
  o.cpu_convs = convs;
  o.input_h = input_h;
  o.input_w = input_w;
  return o;
}

// The layout the backend should pick: nChw8c when the test runs with
// ONEDNN_MAX_CPU_ISA=AVX2 (or on a CPU without AVX-512), else nChw16c.
void expect_layout(const Detector& d) {
  const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA");
  const std::string desc = d.backend_description();
  EXPECT_NE(desc.find("; oneDNN 2."), std::string::npos) << desc;
  if (isa && std::string(isa) == "AVX2") {
    EXPECT_NE(desc.find("nChw8c"), std::string::npos) << desc;
  }
#if defined(__x86_64__)
  // Every conv got a real kernel, never oneDNN's reference loops. (Debian's
  // arm64 oneDNN, built without the Arm Compute Library, has mostly those.)
  EXPECT_EQ(desc.find("ref:"), std::string::npos) << desc;
#endif
  std::printf("%s\n", desc.c_str());
}

// Runs both detectors on the synthetic scene and checks every tensor of the
// oneDNN one against the reference, within kAgreeFp32; returns the count.
int expect_every_tensor_agrees(Detector& r, Detector& f, const std::string& what) {
  const cv::Mat scene = testing_util::synthetic_scene();
  r.detect(scene);
  f.detect(scene);
  int tensors = 0;
  double worst_l2 = 0, worst_max = 0;
  for (const Node& node : r.model().graph().nodes) {
    const std::vector<float> a = f.tensor(node.output), b = r.tensor(node.output);
    EXPECT_EQ(a.size(), b.size()) << what << " " << node.output;
    if (a.size() != b.size()) continue;
    const Agreement ag = measure_agreement(a.data(), b.data(), a.size());
    EXPECT_EQ(ag.failure(tolerance::kAgreeFp32), "") << what << " " << node.name << ": relative L2 "
                                                     << ag.relative_l2 << ", max/rms " << ag.max_over_rms;
    worst_l2 = std::max(worst_l2, ag.relative_l2);
    worst_max = std::max(worst_max, ag.max_over_rms);
    ++tensors;
  }
  std::printf("%s: %d tensors agree (worst relative L2 %.2g, worst max/rms %.2g)\n", what.c_str(), tensors,
              worst_l2, worst_max);
  return tensors;
}

TEST(OnednnBackend, DemoModelKeepsTheReferenceDetections) {
  const std::string model = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
  const cv::Mat image = cv::imread(std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg");
  ASSERT_FALSE(image.empty());
  const DetectorOptions ref = cpu_options(CpuConvs::kReference), fast = cpu_options(CpuConvs::kOnednn);
  SKIP_WITHOUT_ONEDNN(fast);
  Detector r(model, ref), f(model, fast);
  expect_layout(f);
  const auto rd = r.detect(image), fd = f.detect(image);
  testing_util::expect_same_detections(rd, fd, 1e-4f, 1e-2f);
  for (const HeadConfig& head : r.config().heads) {
    const std::vector<float> a = f.tensor(head.tensor), b = r.tensor(head.tensor);
    ASSERT_EQ(a.size(), b.size());
    const Agreement ag = measure_agreement(a.data(), b.data(), a.size());
    EXPECT_LT(ag.relative_l2, 1e-5) << head.tensor;
  }
  DetectorOptions batched = fast;
  batched.batch = 2;
  Detector b(model, batched);
  cv::Mat flipped;
  cv::flip(image, flipped, 1);
  const auto both = b.detect_batch({image, flipped});
  const auto single_flipped = f.detect(flipped);
  ASSERT_EQ(both.size(), 2u);
  for (const auto& pair : {std::make_pair(&both[0], &fd), std::make_pair(&both[1], &single_flipped)}) {
    ASSERT_EQ(pair.first->size(), pair.second->size());
    for (std::size_t i = 0; i < pair.first->size(); ++i) {
      EXPECT_NEAR((*pair.first)[i].score, (*pair.second)[i].score, 1e-6) << i;
      EXPECT_NEAR((*pair.first)[i].x1, (*pair.second)[i].x1, 1e-3) << i;
    }
  }
  // One thread runs the same network.
  DetectorOptions one = fast;
  one.threads = 1;
  Detector o(model, one);
  const auto od = o.detect(image);
  ASSERT_EQ(od.size(), fd.size());
  for (std::size_t i = 0; i < od.size(); ++i) EXPECT_NEAR(od[i].score, fd[i].score, 1e-5) << i;
  // The default thread count adapts between a plan for all cores and one
  // for one thread; its first 10 frames time both, and every frame keeps
  // the reference's detections.
  DetectorOptions adaptive = fast;
  adaptive.threads = 0;
  Detector ad(model, adaptive);
  if (ad.backend_description().find("or 1 while that measures faster") == std::string::npos) {
    EXPECT_EQ(std::thread::hardware_concurrency(), 1u) << ad.backend_description();
  }
  for (int frame = 0; frame < 12; ++frame)
    testing_util::expect_same_detections(rd, ad.detect(image), 1e-4f, 1e-2f, cat("adaptive frame ", frame));
}

// The architectures the full-width test runs: the three, and the standard
// head pruned as r578 would prune it (its 3x3 convs with 154 and 51 filters).
std::vector<std::pair<std::string, ArchitectureSpec>> full_width_and_pruned_standard() {
  std::vector<std::pair<std::string, ArchitectureSpec>> v;
  for (const char* arch : kFullWidthArchitectures) v.emplace_back(arch, full_width_spec(arch));
  ArchitectureSpec pruned = full_width_spec("standard");
  pruned.det_block = {{{256, 512, 256, 512, 256, 512}, {77, 154, 77, 154, 77, 154}, {26, 51, 26, 51, 26, 51}}};
  v.emplace_back("standard-pruned", pruned);
  return v;
}

TEST(OnednnBackend, EveryTensorOfTheFullWidthArchitecturesAgreesWithTheReference) {
  for (const auto& named : full_width_and_pruned_standard()) {
    const char* arch = named.first.c_str();
    testing_util::TempDir dir;
    const std::string model = testing_util::write_random_model(dir, named.second, 97);
    const DetectorOptions ref = cpu_options(CpuConvs::kReference, 320, 416),
                          fast = cpu_options(CpuConvs::kOnednn, 320, 416);
    SKIP_WITHOUT_ONEDNN(fast);
    Detector r(model, ref), f(model, fast);
    expect_layout(f);
    const std::string desc = f.backend_description();
    if (!named.second.separable_head && desc.find("nChw16c") != std::string::npos) {
      EXPECT_NE(desc.find("jit_wino_4x3:"), std::string::npos) << arch << ": " << desc;
    }
    const int tensors = expect_every_tensor_agrees(r, f, arch);
    EXPECT_GT(tensors, 50) << arch;
  }
}

// Every tensor of the demo model and of a narrow standard head (x0.15,
// channel counts such as 5, 19 and 77) at a small input, 64x96, where even
// oneDNN's reference kernels are quick: the oneDNN test that CI's aarch64 run
// under qemu takes (tests/CMakeLists.txt), for Debian's arm64 oneDNN, whose
// convs are mostly those reference kernels.
TEST(OnednnBackend, SmallInputEveryTensorAgreesWithTheReference) {
  testing_util::TempDir dir;
  ArchitectureSpec spec = ArchitectureSpec::scaled(0.15, 3);
  // The concats' first inputs at multiples of 16 channels: with others,
  // oneDNN concatenates blocked tensors with its reference loop, which the
  // x86-64 check of expect_layout refuses.
  spec.transition = {32, 16};
  const std::string narrow = testing_util::write_random_model(dir, spec, 5);
  for (const std::string& model : {std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors", narrow}) {
    const DetectorOptions ref = cpu_options(CpuConvs::kReference, 64, 96),
                          fast = cpu_options(CpuConvs::kOnednn, 64, 96);
    SKIP_WITHOUT_ONEDNN(fast);
    Detector r(model, ref), f(model, fast);
    expect_layout(f);
    EXPECT_GT(expect_every_tensor_agrees(r, f, model), 50) << model;
  }
}

}  // namespace
}  // namespace tx2yolo
