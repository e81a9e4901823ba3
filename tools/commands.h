// The tx2yolo subcommands. Each registers its options on a CLI11 app and
// returns the function that runs it (returning the process exit code).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace CLI {
class App;
class Validator;
}

namespace tx2yolo {
struct DetectorOptions;
class Detector;

using CommandRunner = std::function<int()>;

CommandRunner add_detect_command(CLI::App& app);
CommandRunner add_inspect_command(CLI::App& app);
CommandRunner add_convert_command(CLI::App& app);
CommandRunner add_compare_command(CLI::App& app);
CommandRunner add_eval_command(CLI::App& app);
CommandRunner add_sensitivity_command(CLI::App& app);
CommandRunner add_bench_command(CLI::App& app);
CommandRunner add_tune_command(CLI::App& app);
CommandRunner add_random_model_command(CLI::App& app);
CommandRunner add_selftest_command(CLI::App& app);
CommandRunner add_triton_repo_command(CLI::App& app);

// The --input-size "H [W]" option (W defaults to H): when it was given,
// checks it (positive multiples of 32, at most 8192; throws Error naming
// --input-size otherwise), sets *h and *w and returns true; leaves them
// alone otherwise. Every command reads --input-size through it.
bool input_size_option(const std::vector<int>& values, int* h, int* w);
// A CLI11 check for a number in [0, 1]: refuses NaN and infinities too
// (CLI::Range lets NaN through). Every threshold option uses it.
CLI::Validator unit_interval();

// The CUDA run options detect and bench share: --precision, --no-cuda-graph,
// --tactics, --tactics-cache and --zero-copy, registered on `cmd` and
// applied to a DetectorOptions.
struct CudaRunArgs {
  std::string precision = "fp32";
  bool no_cuda_graph = false;
  std::string tactics = "auto";
  std::string tactics_cache;
  bool zero_copy = false;
  bool unverified = false;
  std::string cpu_convs = "auto";  // the CPU backend's convs: auto, reference or gemm
};
// The --unverified flag's help text (detect, bench, tune, eval).
extern const char* const kUnverifiedHelp;
// The --precision option's help text (detect, bench, eval).
extern const char* const kPrecisionHelp;
void add_cuda_run_options(CLI::App* cmd, CudaRunArgs* args);
// --cpu-convs auto|reference|gemm|onednn (DetectorOptions::cpu_convs,
// read with cpu_convs_from_string).
void add_cpu_convs_option(CLI::App* cmd, std::string* value);
void apply_cuda_run_options(const CudaRunArgs& args, DetectorOptions* options);
// Prints the detector's warnings to stderr, one "warning: ..." line each.
void print_detector_warnings(const Detector& detector);
// Writes `j` (indented, newline-terminated) to `path` atomically: a temporary
// file renamed into place, so a failure leaves no partial file.
void write_json_file(const std::string& path, const nlohmann::json& j);

// The bundled demo model and image (under TX2YOLO_DATA_DIR, set at build time).
std::string default_model_path();
std::string default_image_path();

}  // namespace tx2yolo
