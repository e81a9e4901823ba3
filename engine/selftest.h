// `tx2yolo selftest`: the engine checks itself on the user's own device.
//
// On CUDA it checks against the CPU reference, with the GPU tests'
// tolerances (kernels/tolerance.h):
//  * every conv tactic the device offers (verified or not: this is how an
//    unverified kernel is checked on a user's board), at every distinct conv
//    layer shape of the model (or of the three full-width architectures),
//    at batch 1 and at the largest configured batch; the fused depthwise +
//    pointwise kernel at every fusable pair's shape;
//  * preprocess, upsample, concat, yolo_box and the GPU NMS;
//  * the network graph against direct launches, and the whole-frame graph
//    against stage-by-stage launches (same kernels: identical results).
// On the CPU backend it checks the CPU conv kernel (the reference itself,
// multithreaded; no optimised CPU kernels exist yet) against the direct
// formula at sampled outputs.
//
// Each check's outputs are poisoned (NaN) first, so an unwritten element
// fails. At batch B the CPU reference is computed for images 0 and B-1 (the
// others must be finite): the cost stays that of two images.
//
// The checks are plain callbacks, so a test can plant a wrong kernel
// (ConvKernelUnderTest) and see selftest catch it without a GPU.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/detector.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_dwpw.h"
#include "kernels/tolerance.h"
#include "kernels/yolo_box.h"

namespace tx2yolo {

struct SelftestOptions {
  std::string model;             // "": the three full-width architectures (random weights)
  int input_h = 0, input_w = 0;  // 0: the model's input size (608 for the full-width architectures)
  Precision precision = Precision::kFp32;
  BackendKind backend = BackendKind::kAuto;
  int device = 0;
  int max_batch = 4;  // the largest configured batch, besides batch 1
  std::uint32_t seed = 1;
};

// One comparison's result, in the table's group (a tactic or an op).
struct SelftestOutcome {
  std::string group;   // "conv gemm64", "preprocess", "frame graph", ...
  std::string label;   // the shape or case, e.g. "backbone.conv5@608 b4"
  bool passed = false;
  double worst = 0;    // the worst error as a multiple of its bound (<= 1 passes)
  std::string detail;  // why it failed (or what it compared)
};

// A unit of work: runs and reports one or more outcomes. cpu_macs and
// gpu_macs are its work, for the estimate of the run's time on a TX2.
struct SelftestCheck {
  std::string label;
  double cpu_macs = 0;
  double gpu_macs = 0;
  std::function<std::vector<SelftestOutcome>()> run;
};

struct SelftestRow {
  std::string group;
  int passed = 0, failed = 0;
  double worst = 0;
  std::string first_failure;
};

struct SelftestReport {
  std::string device;   // what ran the checks
  std::string settings; // model, input size, precision, batch
  std::vector<std::string> notes;  // what is not checked here, and why
  std::vector<SelftestRow> rows;
  std::vector<SelftestOutcome> failures;
  double seconds = 0;
  double tx2_estimate_seconds = 0;
  bool ok() const { return failures.empty() && !rows.empty(); }
  std::string table() const;      // the printed table
  std::string json() const;       // the --json file
};

// The estimate of checks' time on a TX2 from the roofline model: GPU work at
// 30% of its FP32 peak (665.9 GFLOP/s), the CPU reference at 2 GMAC/s (its
// four A57 cores on the scalar reference loop; an assumption, not measured).
double selftest_tx2_estimate_seconds(const std::vector<SelftestCheck>& checks);

// Progress callbacks (either may be empty): start(checks, TX2 estimate in
// s) once, then step(done, total, label, elapsed s) before each check.
struct SelftestProgress {
  std::function<void(int, double)> start;
  std::function<void(int, int, const std::string&, double)> step;
};

// Runs the checks in order and gathers the report rows by group.
SelftestReport run_selftest_checks(const std::vector<SelftestCheck>& checks, const SelftestProgress& progress = {});

// A conv kernel under test, on host buffers: `run` reads `in` [N, C_in, H, W]
// (already rounded to FP16 where fp16_storage), `w` and `b`, and writes
// `out` [N, C_total, Ho, Wo], which the caller has filled with NaN.
struct ConvKernelUnderTest {
  std::string name;
  bool fp16_storage = false;   // activations stored as FP16 (in rounded before, out rounded by the kernel)
  bool fp16_operands = false;  // the kernel rounds its weights and inputs to FP16 (the reference is fed them so)
  Tolerance tolerance;
  std::function<bool(const Conv2dParams&)> supports;
  // A refusal (Error) at run time skips the case instead of failing it, as
  // the engine drops such a candidate (cuDNN may refuse what it planned).
  bool may_refuse = false;
  std::function<void(const Conv2dParams&, const std::vector<float>& in, const std::vector<float>& w,
                     const std::vector<float>& b, std::vector<float>* out)>
      run;
};

// A conv layer shape to check, at batch 1.
struct SelftestConvShape {
  std::string name;  // "<node>@<size>"
  Conv2dParams p;
};
// The distinct conv layer shapes of the model file, or (path "") of the
// three full-width architectures, at the input size (0: the model's).
std::vector<SelftestConvShape> selftest_conv_shapes(const std::string& model_path, int input_h, int input_w);
// The fusable depthwise + pointwise pairs among them (distinct shapes).
std::vector<std::pair<std::string, Conv2dDwPwParams>> selftest_dwpw_pairs(const std::string& model_path, int input_h,
                                                                          int input_w);

// One check per shape and batch (1 and max_batch), each running every
// kernel that supports the shape against the CPU reference.
std::vector<SelftestCheck> conv_selftest_checks(const std::vector<SelftestConvShape>& shapes,
                                                const std::vector<ConvKernelUnderTest>& kernels, int max_batch,
                                                std::uint32_t seed);

// The whole selftest for `options` on this build and machine: builds the
// checks for the chosen backend and runs them. Throws Error for bad options
// (a missing model, a device that does not exist).
SelftestReport run_selftest(const SelftestOptions& options, const SelftestProgress& progress = {});

// Seeded uniform values in [lo, hi) (std::mt19937), the checks' inputs.
std::vector<float> selftest_uniform(std::size_t n, std::uint32_t seed, float lo, float hi);

// The decode check's problem, which the GPU tests use too: one image of
// 375x500 at a 320 input, three levels (10, 20, 40 cells; COCO anchors), 20
// classes, and each level's head tensor of logits in [-6, 3] (some boxes
// gated, some wide enough to be clipped); levels[i] writes its slice of
// boxes [M, 4] and scores [C, M].
struct YoloBoxProblem {
  std::vector<YoloBoxParams> levels;
  std::vector<std::vector<float>> heads;
  int total_boxes = 0;
  int classes = 0;
};
YoloBoxProblem yolo_box_selftest_problem(std::uint32_t seed);

#ifdef TX2YOLO_WITH_CUDA
// The CUDA checks (engine/selftest_cuda.cpp).
std::vector<SelftestCheck> cuda_selftest_checks(const SelftestOptions& options, std::vector<std::string>* notes);
#endif

}  // namespace tx2yolo
