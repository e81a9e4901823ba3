// `tx2yolo selftest`: checks the engine on this device against the CPU
// reference (engine/selftest.h), prints a table and exits non-zero on any
// failure.
//
//   tx2yolo selftest [--model M] [--input-size H [W]] [--precision fp32|fp16]
//                    [--backend auto|cpu|cuda] [--device N] [--max-batch B] [--json out.json]
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/selftest.h"
#include "tools/commands.h"

namespace tx2yolo {

namespace {

struct SelftestArgs {
  std::string model;
  std::vector<int> input_size;
  std::string precision = "fp32";
  std::string backend = "auto";
  int device = 0;
  int max_batch = 4;
  std::string json;
};

int run_selftest_command(const SelftestArgs& a) {
  TX2_REQUIRE(a.json.empty() || !is_directory(a.json), a.json, ": is a folder, expected a file name");
  SelftestOptions o;
  o.model = a.model;
  input_size_option(a.input_size, &o.input_h, &o.input_w);
  o.precision = precision_from_string(a.precision);
  o.backend = backend_from_string(a.backend);
  o.device = a.device;
  o.max_batch = a.max_batch;
  SelftestProgress progress;
  progress.start = [](int total, double estimate) {
    std::fprintf(stderr, "selftest: %d checks; about %.0f s on a TX2-class device (roofline estimate)\n", total,
                 estimate);
  };
  // A line a second at most (and the first and the last check).
  auto last = std::make_shared<double>(-1.0);
  progress.step = [last](int done, int total, const std::string& label, double elapsed) {
    if (done != 0 && done + 1 != total && elapsed - *last < 1.0) return;
    *last = elapsed;
    std::fprintf(stderr, "selftest: [%d/%d] %.1f s  %s\n", done + 1, total, elapsed, label.c_str());
  };
  const SelftestReport r = run_selftest(o, progress);
  std::printf("tx2yolo selftest\ndevice: %s\nsettings: %s\n", r.device.c_str(), r.settings.c_str());
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("\n%s\n", r.table().c_str());
  for (const SelftestOutcome& f : r.failures)
    std::printf("FAILED %s, %s: %s\n", f.group.c_str(), f.label.c_str(), f.detail.c_str());
  int compared = 0;
  for (const SelftestRow& row : r.rows) compared += row.passed + row.failed;
  std::printf("%s: %d comparisons in %zu groups, %zu failed, in %.1f s (estimated %.0f s on a TX2-class device)\n",
              r.ok() ? "PASSED" : "FAILED", compared, r.rows.size(), r.failures.size(), r.seconds,
              r.tx2_estimate_seconds);
  if (!a.json.empty()) {
    const std::string text = r.json();
    write_file_atomic(a.json, text.data(), text.size());
  }
  return r.ok() ? 0 : 1;
}

}  // namespace

CommandRunner add_selftest_command(CLI::App& app) {
  auto args = std::make_shared<SelftestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "selftest", "Check every kernel this device offers (and the graphs) against the CPU reference on this device");
  cmd->add_option("--model", args->model,
                  "Model file whose layer shapes to check (default: the three full-width architectures)");
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32 (default: the model's)")
      ->expected(1, 2);
  cmd->add_option("--precision", args->precision, "fp32, or fp16 (CUDA: FP16 storage and the FP16 kernels)")
      ->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_option("--backend", args->backend, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--device", args->device, "CUDA device index")->check(CLI::Range(0, 64));
  cmd->add_option("--max-batch", args->max_batch, "The largest batch to check besides 1 (1 to 64)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--json", args->json, "Write the report as JSON");
  return [args] { return run_selftest_command(*args); };
}

}  // namespace tx2yolo
