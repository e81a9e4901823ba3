// Options and defaults shared by the tx2yolo subcommands (tools/commands.h).
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "engine/detector.h"
#include "tools/commands.h"

namespace tx2yolo {

bool input_size_option(const std::vector<int>& values, int* h, int* w) {
  if (values.empty()) return false;
  const int hh = values[0], ww = values.size() > 1 ? values[1] : values[0];
  validate_input_size(hh, ww, "--input-size");
  *h = hh;
  *w = ww;
  return true;
}

CLI::Validator unit_interval() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end == text.c_str() || *end != '\0') return "'" + text + "' is not a number";
        if (!(v >= 0.0 && v <= 1.0)) return "'" + text + "' is not a number in [0, 1]";
        return "";
      },
      "in [0, 1]");
}

const char* const kPrecisionHelp =
    "fp32, or fp16 (CUDA): activations stored as FP16; with --unverified, conv layers may also take tensor cores "
    "(sm_70+) or paired FP16 arithmetic (sm_53+, the TX2) where faster";

const char* const kUnverifiedHelp =
    "CUDA: allow the features not verified on a GPU (the gemm128, wmma-fp16, gemm64-half2 and dwpw-fused kernels: "
    "they ran and passed their tests, racecheck pending; cudnn-fp16: never run on a GPU); `tx2yolo inspect "
    "--device` lists every feature";

void add_cpu_convs_option(CLI::App* cmd, std::string* value) {
  cmd->add_option("--cpu-convs", *value,
                  "CPU backend convs: auto (default: onednn on x86-64 where libdnnl2 loads, else gemm on x86-64 "
                  "builds with OpenBLAS, else reference), reference (the oracle), gemm (OpenBLAS GEMMs, and wide "
                  "depthwise convs row by row) or onednn (the whole network as oneDNN primitives in a blocked "
                  "layout)")
      ->check(CLI::IsMember({"auto", "reference", "gemm", "onednn"}));
}

void add_cuda_run_options(CLI::App* cmd, CudaRunArgs* args) {
  cmd->add_flag("--unverified", args->unverified, kUnverifiedHelp);
  cmd->add_option("--precision", args->precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_flag("--no-cuda-graph", args->no_cuda_graph,
                "CUDA: launch the layers one by one instead of replaying a captured CUDA graph");
  cmd->add_option("--tactics", args->tactics,
                  "CUDA conv kernel choice: auto (timed at first use, cached), heuristic, retune")
      ->check(CLI::IsMember({"auto", "heuristic", "retune"}));
  cmd->add_option("--tactics-cache", args->tactics_cache,
                  "CUDA tactics cache file (default ~/.cache/tx2yolo/tactics.json; none: no file)");
  add_cpu_convs_option(cmd, &args->cpu_convs);
  cmd->add_flag("--zero-copy", args->zero_copy,
                "CUDA: read the input image in place from pinned host memory instead of copying it to the device "
                "(for measuring on a Jetson; verified on a discrete GPU, never timed on a Jetson)");
}

void apply_cuda_run_options(const CudaRunArgs& args, DetectorOptions* options) {
  options->precision = precision_from_string(args.precision);
  options->cuda_graph = !args.no_cuda_graph;
  options->tactics = tactic_mode_from_string(args.tactics);
  options->tactics_cache = args.tactics_cache;
  options->zero_copy_input = args.zero_copy;
  options->unverified = args.unverified;
  options->cpu_convs = cpu_convs_from_string(args.cpu_convs);
}

void print_detector_warnings(const Detector& detector) {
  for (const std::string& w : detector.warnings()) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(path, text.data(), text.size());
}

std::string default_model_path() { return path_join(TX2YOLO_DATA_DIR, "models/demo.safetensors"); }
std::string default_image_path() { return path_join(TX2YOLO_DATA_DIR, "assets/demo.jpg"); }

}  // namespace tx2yolo
