// Per-layer tactics: which CUDA kernel each conv layer runs, chosen by
// timing the candidates on the device at first use, and remembered in a
// cache file so that the timing happens once per machine and setting.
//
// A cache entry is keyed by everything that can change the best choice or
// its correctness: the GPU's name and SM count, the CUDA runtime and driver
// versions, the model (SHA-256 of the model file), the input size, the
// batch, the precision and the list of candidate kernels. Within an entry,
// each conv layer (by graph node name) has its tactic, the times measured
// for every candidate, whether the candidates were validated against the
// reference kernel (engine/tactic_validation.h), and the candidates that
// disagreed with it, with the reason. A layer not marked validated is timed
// again.
//
// The cache file is JSON, written atomically:
//   {"format": "tx2yolo-tactics", "version": 2,
//    "entries": {"<key>": {"created": "...", "layers": {
//        "<node>": {"tactic": "gemm32", "ms": {"gemm64": 0.021, "gemm32": 0.015},
//                   "validated": true, "rejected": {"gemm128": "relative L2 0.7 ..."}}}}}}
// Reading never executes anything from the file; every field is checked,
// and an unknown tactic name makes that layer be timed again. A version 1
// file (choices never validated) is read as empty and rewritten at the next
// store.
//
// This file is plain C++ (no CUDA): the backend does the timing.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tx2yolo {

// How conv layers choose their kernel.
enum class TacticMode {
  kHeuristic,  // no timing: depthwise where it applies, the 64x64 GEMM otherwise
  kCached,     // the cache's choice where it has one; time the rest at first use and store them (default)
  kRetune,     // time every layer again and overwrite the cache entry (`tx2yolo tune`)
};
TacticMode tactic_mode_from_string(const std::string& s);  // heuristic, auto, retune; throws Error
const char* tactic_mode_name(TacticMode m);

// Precision of the CUDA backend. kFp16 stores every activation as FP16
// (rounded once per layer output; half the memory traffic), weights stay
// FP32, and the conv layers may take an FP16 kernel where it times faster:
// tensor cores on sm_70 and later (FP16 operands, FP32 accumulation), or
// paired FP16 arithmetic (half2) on sm_53 and later, the TX2's FP16 path.
// Every other kernel (upsample, decode, NMS) computes in FP32. The CPU
// backend is FP32 only.
enum class Precision { kFp32, kFp16 };
Precision precision_from_string(const std::string& s);  // fp32, fp16; throws Error
const char* precision_name(Precision p);

struct LayerTactic {
  std::string layer;                    // graph node name
  std::string tactic;                   // kernel name (conv2d_cuda_kernel_name)
  std::map<std::string, double> ms;     // candidate -> measured ms (empty when not timed)
  bool validated = false;               // every candidate compared with the reference kernel
  std::map<std::string, std::string> rejected;  // candidate -> why it disagreed (never chosen)
  bool from_cache = false;
};

struct TacticKey {
  std::string gpu;          // device name
  int sms = 0;              // multiprocessor count
  int cuda_runtime = 0;     // e.g. 11080
  int cuda_driver = 0;      // e.g. 12040
  std::string model_sha256;
  int input_h = 0, input_w = 0, batch = 1;
  std::string precision = "fp32";
  // The candidate kernels, e.g. "gemm64,gemm32,gemm64-splitk,depthwise": a
  // version that adds a kernel times its layers again instead of trusting a
  // choice made without it.
  std::string candidates;
  std::string str() const;  // one line, the entry's key in the file
};

// The default cache file: $TX2YOLO_TACTICS_CACHE, else
// $XDG_CACHE_HOME/tx2yolo/tactics.json, else $HOME/.cache/tx2yolo/tactics.json
// ("" when none of them is set).
std::string default_tactic_cache_path();

class TacticCache {
 public:
  // Loads `path` if it exists. A file that is not a valid cache throws Error
  // naming it (delete it, or pass another path).
  explicit TacticCache(std::string path);
  const std::string& path() const { return path_; }
  // Non-empty when the file was of an older version and its entries were
  // ignored (say so where the cache is described).
  const std::string& note() const { return note_; }
  // The stored layers for `key` (empty when there is no entry).
  std::map<std::string, LayerTactic> lookup(const TacticKey& key) const;
  // Replaces the entry for `key` and writes the file atomically (creating
  // its folder). Throws Error when it cannot be written.
  void store(const TacticKey& key, const std::vector<LayerTactic>& layers);

 private:
  std::string path_;
  std::map<std::string, std::map<std::string, LayerTactic>> entries_;
  std::map<std::string, std::string> created_;
  std::string note_;
};

}  // namespace tx2yolo
