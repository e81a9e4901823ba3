// `tx2yolo triton-repo MODEL -o REPO`: a ready Triton model repository for
// the tx2yolo backend (triton/backend.cpp): REPO/NAME/config.pbtxt and
// REPO/NAME/1/model.safetensors. The model is validated first, and the
// folder appears whole or not at all (built beside it, then renamed).
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/commands.h"
#include "weights/model_file.h"

namespace tx2yolo {

namespace {

struct TritonRepoArgs {
  std::string model;
  std::string repo;
  std::string name = "tx2yolo";
  std::string kind = "gpu";
  int count = 1;
  int max_batch = 8;
  int delay_us = 2000;
  std::string precision = "fp32";
  std::string color_order = "BGR";
  int threads = 0;
  std::vector<std::string> params;  // KEY=VALUE backend parameters
};

std::string config_pbtxt(const TritonRepoArgs& a, const ModelConfig& model) {
  std::string s = cat("# Written by tx2yolo triton-repo for the tx2yolo backend (libtriton_tx2yolo.so).\n",
                      "# Model: ", model.classes.size(), " classes; detections are class, score, x1, y1, x2, y2\n",
                      "# in the input image's pixels, every one NMS keeps (docs/serving.md).\n",
                      "name: \"", a.name, "\"\nbackend: \"tx2yolo\"\nmax_batch_size: ", a.max_batch, "\n");
  s += "input [\n  { name: \"IMAGE\" data_type: TYPE_UINT8 dims: [ -1, -1, 3 ] }\n]\n";
  s += "output [\n  { name: \"DETECTIONS\" data_type: TYPE_FP32 dims: [ -1, 6 ] },\n"
       "  { name: \"CLASS_NAMES\" data_type: TYPE_STRING dims: [ -1 ] }\n]\n";
  if (a.max_batch > 0) s += cat("dynamic_batching { max_queue_delay_microseconds: ", a.delay_us, " }\n");
  s += cat("instance_group [\n  { count: ", a.count, " kind: ", a.kind == "gpu" ? "KIND_GPU" : "KIND_CPU", " }\n]\n");
  auto param = [&](const char* key, const std::string& value) {
    s += cat("parameters { key: \"", key, "\" value: { string_value: \"", value, "\" } }\n");
  };
  param("model_file", "model.safetensors");
  param("color_order", a.color_order);
  param("precision", a.precision);
  if (a.threads > 0) param("threads", cat(a.threads));
  for (const std::string& kv : a.params) {
    const std::size_t eq = kv.find('=');
    param(kv.substr(0, eq).c_str(), kv.substr(eq + 1));
  }
  return s;
}

int run_triton_repo(const TritonRepoArgs& a) {
  for (char c : a.name)
    TX2_REQUIRE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.', "--name ", a.name,
                ": letters, digits, _, - and . only");
  TX2_REQUIRE(!a.name.empty() && a.name[0] != '.', "--name must not be empty or start with a dot");
  TX2_REQUIRE(a.precision == "fp32" || a.kind == "gpu", "--precision fp16 needs --kind gpu");
  for (const std::string& kv : a.params) {
    const std::size_t eq = kv.find('=');
    TX2_REQUIRE(eq != std::string::npos, "--param ", kv, ": expected KEY=VALUE");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    TX2_REQUIRE(key == "conf_threshold" || key == "score_threshold" || key == "nms_threshold" || key == "keep_top_k",
                "--param ", key, ": one of conf_threshold, score_threshold, nms_threshold, keep_top_k");
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    TX2_REQUIRE(!value.empty() && end && *end == '\0' && std::isfinite(v), "--param ", kv, ": not a number");
    TX2_REQUIRE(key == "keep_top_k" ? (v >= -1 && v == std::floor(v)) : (v >= 0 && v <= 1), "--param ", kv,
                key == "keep_top_k" ? ": an integer >= -1" : ": outside [0, 1]");
  }
  const ModelFile model = ModelFile::load(a.model);  // validated before anything is written
  TX2_REQUIRE(!file_exists(a.repo) || is_directory(a.repo), "-o ", a.repo, ": exists and is not a folder");
  make_directories(a.repo);
  const std::string final_dir = path_join(a.repo, a.name);
  TX2_REQUIRE(!file_exists(final_dir), final_dir, " already exists; remove it or choose another --name");
  const std::string partial = path_join(a.repo, cat(".", a.name, ".partial-", ::getpid()));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      if (!dir.empty()) {
        std::remove(path_join(dir, "1/model.safetensors").c_str());
        ::rmdir(path_join(dir, "1").c_str());
        std::remove(path_join(dir, "config.pbtxt").c_str());
        ::rmdir(dir.c_str());
      }
    }
  } cleanup{partial};
  make_directories(path_join(partial, "1"));
  const std::string config = config_pbtxt(a, model.config());
  write_file_atomic(path_join(partial, "config.pbtxt"), config.data(), config.size());
  const std::vector<std::uint8_t> bytes = read_file_bytes(a.model, 1ull << 33);
  write_file_atomic(path_join(partial, "1/model.safetensors"), bytes.data(), bytes.size());
  TX2_REQUIRE(std::rename(partial.c_str(), final_dir.c_str()) == 0, "cannot move the finished folder to ", final_dir);
  cleanup.dir.clear();
  std::printf("wrote %s: config.pbtxt (%s, %d instance%s, max_batch_size %d, %s) and 1/model.safetensors\n",
              final_dir.c_str(), a.kind == "gpu" ? "KIND_GPU" : "KIND_CPU", a.count, a.count == 1 ? "" : "s",
              a.max_batch, a.precision.c_str());
  std::printf("serve: tritonserver --model-repository %s --backend-directory DIR (DIR/tx2yolo/libtriton_tx2yolo.so)\n",
              a.repo.c_str());
  return 0;
}

}  // namespace

CommandRunner add_triton_repo_command(CLI::App& app) {
  auto args = std::make_shared<TritonRepoArgs>();
  CLI::App* cmd = app.add_subcommand("triton-repo", "Write a Triton model repository for the tx2yolo backend");
  cmd->add_option("model", args->model, "Model file (.safetensors)")->required();
  cmd->add_option("-o,--output", args->repo, "Model repository folder (created if missing)")->required();
  cmd->add_option("--name", args->name, "Model name in the repository")->capture_default_str();
  cmd->add_option("--kind", args->kind, "Instance kind: gpu (a detector per GPU instance) or cpu")
      ->check(CLI::IsMember({"gpu", "cpu"}))
      ->capture_default_str();
  cmd->add_option("--count", args->count, "Instances per device")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--max-batch", args->max_batch, "max_batch_size: images per network run (0: no dynamic batching)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option("--delay-us", args->delay_us, "Dynamic batching: the longest wait for more requests, in microseconds")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  cmd->add_option("--precision", args->precision, "fp32 or fp16 (GPU)")
      ->check(CLI::IsMember({"fp32", "fp16"}))
      ->capture_default_str();
  cmd->add_option("--color-order", args->color_order, "The IMAGE input's channel order: BGR or RGB")
      ->check(CLI::IsMember({"BGR", "RGB"}))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU instances: threads each (0: all cores)")->check(CLI::Range(0, 256));
  cmd->add_option("--param", args->params,
                  "A backend parameter KEY=VALUE overriding the model's: conf_threshold, score_threshold, "
                  "nms_threshold or keep_top_k (repeatable)");
  return [args]() { return run_triton_repo(*args); };
}

}  // namespace tx2yolo
