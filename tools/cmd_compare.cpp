// `tx2yolo compare`: per-layer parity of a model file against a reference
// dumped from Paddle (scripts/paddle/dump_reference.py). Prints a table (max
// |diff|, relative L2, pass/fail per tensor) and a detections comparison;
// exits 0 when everything passes, 1 otherwise.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/commands.h"
#include "tools/image_read.h"
#include "parity/parity.h"

namespace tx2yolo {

namespace {

struct CompareArgs {
  std::string model;
  std::string reference;
  std::string image;
  std::string backend = "cpu";
  std::string json;
  ParityOptions options;
};

int run_compare(CompareArgs& a) {
  a.options.backend = backend_from_string(a.backend);
  const Reference ref = load_reference(a.reference);
  cv::Mat image;
  if (!a.image.empty()) {
    image = read_image(a.image);
  }
  const ParityReport r = compare_with_reference(a.model, ref, a.options, image.empty() ? nullptr : &image);
  print_parity_report(r, stdout);
  if (!a.json.empty()) {
    write_json_file(a.json, parity_report_to_json(r));
  }
  return r.passed ? 0 : 1;
}

}  // namespace

CommandRunner add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare a model file with a Paddle reference, layer by layer and detection by detection");
  cmd->add_option("--model", args->model, "Model file (.safetensors)")->required();
  cmd->add_option("--reference", args->reference, "Reference from scripts/paddle/dump_reference.py")->required();
  cmd->add_option("--image", args->image, "The photograph the reference was made from (adds a preprocessing check)");
  cmd->add_option("--backend", args->backend, "cpu, cuda or auto")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--max-rel-l2", args->options.max_rel_l2, "Per-tensor relative L2 tolerance")->capture_default_str();
  cmd->add_option("--min-iou", args->options.min_iou, "IoU for two detections to match")->capture_default_str();
  cmd->add_option("--max-score-delta", args->options.max_score_delta, "Score difference for a match")->capture_default_str();
  cmd->add_option("--json", args->json, "Also write the report as JSON");
  return [args] { return run_compare(*args); };
}

}  // namespace tx2yolo
