// `tx2yolo random-model`: writes a model file with the full-width
// YOLOv3-MobileNetV1 graph and seeded random weights, for timing an
// architecture without a trained checkpoint (as trtexec does with random
// weights). Its detections mean nothing.
//
//   standard          PaddleDetection's yolov3_mobilenet_v1 (3x3 convs in the head)
//   separable         the head's 3x3 convs as 3x3 depthwise + 1x1 pointwise
//   separable-pruned  separable, with PaddleDetection's "r578" pruning: every
//                     conv of yolo_block 0 / 1 / 2 keeps w - round(w * r) of its
//                     w filters, r = 0.5 / 0.7 / 0.8 (as `convert --prune r578`)
#include <cmath>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "weights/architecture.h"
#include "tools/commands.h"

namespace tx2yolo {

namespace {

struct RandomModelArgs {
  std::string arch = "standard";
  int classes = 80;
  unsigned seed = 1;
  std::string output;
};

int run_random_model(const RandomModelArgs& a) {
  TX2_REQUIRE(a.classes >= 1 && a.classes <= 1000, "--classes ", a.classes, " is outside [1, 1000]");
  const ArchitectureGraph arch = build_yolov3_mobilenet_v1(full_width_spec(a.arch, a.classes));
  const nlohmann::json provenance = {
      {"source", cat("tx2yolo random-model --arch ", a.arch, " --classes ", a.classes, " --seed ", a.seed)},
      {"note", "seeded random weights, for timing only: the detections mean nothing"}};
  write_model_file(a.output, arch.graph, arch.config, provenance, make_random_weights(arch, a.seed));
  long long params = 0;
  for (const auto& w : arch.weights) {
    long long n = 1;
    for (long long d : w.second) n *= d;
    params += n;
  }
  std::printf("wrote %s: %s, %d classes, %zu nodes, %.2fM parameters, seed %u (random weights, for timing only)\n",
              a.output.c_str(), a.arch.c_str(), a.classes, arch.graph.nodes.size(), params / 1e6, a.seed);
  return 0;
}

}  // namespace

CommandRunner add_random_model_command(CLI::App& app) {
  auto args = std::make_shared<RandomModelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "random-model", "Write a full-width model with seeded random weights, to time an architecture without a checkpoint");
  cmd->add_option("--arch", args->arch, "standard, separable or separable-pruned (r578)")
      ->check(CLI::IsMember({"standard", "separable", "separable-pruned"}))
      ->capture_default_str();
  cmd->add_option("--classes", args->classes, "Number of classes")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "Model file to write")->required();
  return [args] { return run_random_model(*args); };
}

}  // namespace tx2yolo
