// Verified defaults: the one table of what each CUDA feature last ran on.
//
// Code that has never run on the hardware it targets is not on the default
// path. Each feature here (a conv tactic, a graph mode, an input path, a
// precision) names its last verification on a GPU (card, date, commit) or
// says it has never run on one. The engine's defaults pick only verified
// features; the unverified ones are opt-in, all behind one switch:
// DetectorOptions::unverified, the CLI's --unverified, or the environment
// variable TX2YOLO_UNVERIFIED_KERNELS=1 (which tools/gpu-check.sh sets, so
// that a GPU run checks them).
//
// `tx2yolo inspect --device` prints the table for the present device, and
// the README's status table of these features is generated from it
// (`tx2yolo inspect --verified-markdown`; the Docs.VerifiedFeaturesTableIsCurrent
// test fails when they differ). When a GPU run verifies a feature, its row
// here is updated, with the run recorded in docs/testing.md.
#pragma once

#include <string>
#include <vector>

namespace tx2yolo {

struct VerifiedFeature {
  std::string name;    // "gemm64", "frame-graph", "fp16", ...: a conv2d_cuda_kernel_name for conv tactics
  std::string kind;    // "conv tactic", "graph", "input", "precision", "post-processing"
  std::string what;    // one line
  std::string card;    // the last GPU it ran on; "" when it has never run on a GPU
  std::string date;    // of that run (YYYY-MM-DD)
  std::string commit;  // the commit that run tested
  std::string checks;  // what passed in that run: "GPU tests, memcheck, initcheck", ...
  // Why it stays opt-in although it ran ("" when nothing holds it back):
  // a check it needs that could not be run or did not pass.
  std::string held_back;
  bool ran_on_gpu() const { return !card.empty(); }
  bool verified() const { return ran_on_gpu() && held_back.empty(); }
  // "NVIDIA H200, 2026-12-04, a93d096 (GPU tests, memcheck, initcheck)", or
  // "never run on a GPU".
  std::string last_verification() const;
};

// Every CUDA feature, in a fixed order.
const std::vector<VerifiedFeature>& verified_features();
// The feature by name; throws Error for an unknown name.
const VerifiedFeature& verified_feature(const std::string& name);
// Whether `name` may be used: verified, or unverified features allowed.
bool feature_allowed(const std::string& name, bool allow_unverified);
// Whether the environment opts in to unverified features
// (TX2YOLO_UNVERIFIED_KERNELS=1), read once.
bool unverified_allowed_by_environment();

// Whether the feature can run on CUDA device `device` of this build:
// "yes", or "no: <why>" (e.g. no tensor cores before sm_70, no libcudnn).
// Throws Error when there is no such device.
std::string feature_availability(const std::string& name, int device);
// The table for that device, as `tx2yolo inspect --device` prints it.
std::string verified_features_for_device(int device);

// The README's table: feature | kind | last verified on a GPU | default.
std::string verified_features_markdown();

}  // namespace tx2yolo
