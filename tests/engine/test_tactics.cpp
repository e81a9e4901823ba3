// The tactics cache (engine/tactics.h): keys, round trip, bad files. The
// timing itself needs a GPU (tests/engine/gpu_backend.cpp).
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/tactics.h"
#include "kernels/device.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

using testing_util::TempDir;

TacticKey key(int h) {
  TacticKey k;
  k.gpu = "NVIDIA Tegra X2";
  k.sms = 2;
  k.cuda_runtime = 10020;
  k.model_sha256 = "ab12";
  k.input_h = k.input_w = h;
  return k;
}

LayerTactic layer(const std::string& name, const std::string& tactic, double gemm64, double gemm32) {
  LayerTactic t;
  t.layer = name;
  t.tactic = tactic;
  t.ms = {{"gemm64", gemm64}, {"gemm32", gemm32}};
  return t;
}

TEST(Tactics, KeyNamesEverythingThatChangesTheChoice) {
  const TacticKey a = key(608);
  for (int field = 0; field < 9; ++field) {
    TacticKey b = a;
    switch (field) {
      case 8: b.cuda_driver = 12040; break;
      case 0: b.gpu = "NVIDIA H100"; break;
      case 1: b.sms = 132; break;
      case 2: b.cuda_runtime = 12040; break;
      case 3: b.model_sha256 = "cd34"; break;
      case 4: b.input_w = 416; break;
      case 5: b.batch = 8; break;
      case 6: b.precision = "fp16"; break;
      case 7: b.candidates = "gemm64,gemm32,gemm64-splitk,depthwise"; break;
    }
    EXPECT_NE(a.str(), b.str()) << "field " << field;
  }
}

TEST(Tactics, CacheRoundTripsAndKeepsOtherEntries) {
  TempDir dir;
  const std::string path = dir.file("sub/folder/tactics.json");  // folders are created
  {
    TacticCache cache(path);
    EXPECT_TRUE(cache.lookup(key(608)).empty());
    cache.store(key(608), {layer("backbone.conv1", "gemm64", 0.5, 0.7), layer("neck.x", "gemm32", 0.2, 0.1)});
    cache.store(key(320), {layer("backbone.conv1", "gemm32", 0.3, 0.2)});
  }
  TacticCache again(path);
  const auto at608 = again.lookup(key(608));
  ASSERT_EQ(at608.size(), 2u);
  EXPECT_EQ(at608.at("neck.x").tactic, "gemm32");
  EXPECT_DOUBLE_EQ(at608.at("neck.x").ms.at("gemm32"), 0.1);
  EXPECT_TRUE(at608.at("neck.x").from_cache);
  EXPECT_EQ(again.lookup(key(320)).at("backbone.conv1").tactic, "gemm32");
  EXPECT_TRUE(again.lookup(key(416)).empty());
  // Replacing one entry leaves the other alone.
  again.store(key(320), {layer("backbone.conv1", "gemm64", 0.1, 0.2)});
  TacticCache third(path);
  EXPECT_EQ(third.lookup(key(320)).at("backbone.conv1").tactic, "gemm64");
  EXPECT_EQ(third.lookup(key(608)).size(), 2u);
}

// Validation results survive the file: "validated" and each rejected
// candidate with its reason. A version 1 file (never validated) is read as
// empty, said so, and rewritten at the next store.
TEST(Tactics, CacheKeepsValidationAndIgnoresUnvalidatedOldFiles) {
  TempDir dir;
  const std::string path = dir.file("tactics.json");
  LayerTactic t = layer("neck.x", "gemm32", 0.2, 0.1);
  t.validated = true;
  t.rejected["gemm128"] = "relative L2 0.7 against the reference kernel (at most 0.0001)";
  TacticCache(path).store(key(608), {t, layer("neck.y", "gemm64", 0.1, 0.2)});
  const auto back = TacticCache(path).lookup(key(608));
  EXPECT_TRUE(back.at("neck.x").validated);
  EXPECT_EQ(back.at("neck.x").rejected.at("gemm128"), t.rejected.at("gemm128"));
  EXPECT_FALSE(back.at("neck.y").validated);
  EXPECT_TRUE(back.at("neck.y").rejected.empty());
  testing_util::write_text(path, R"({"format": "tx2yolo-tactics", "version": 1, "entries": {"k": {"layers": {"a": {"tactic": "gemm64"}}}}})");
  TacticCache old(path);
  EXPECT_NE(old.note().find("not validated"), std::string::npos) << old.note();
  EXPECT_TRUE(old.lookup(key(608)).empty());
  old.store(key(608), {t});
  EXPECT_TRUE(TacticCache(path).note().empty());
  EXPECT_TRUE(TacticCache(path).lookup(key(608)).at("neck.x").validated);
}

TEST(Tactics, BadCacheFilesAreRefusedByName) {
  TempDir dir;
  auto refused = [&](const std::string& text, const std::string& needle) {
    const std::string path = dir.file("bad.json");
    testing_util::write_text(path, text);
    try {
      TacticCache c(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    }
  };
  refused("{not json", "not a tx2yolo tactics cache");
  refused("[1, 2]", "not a tx2yolo tactics cache");
  refused(R"({"format": "something-else", "version": 1, "entries": {}})", "not a tx2yolo tactics cache");
  refused(R"({"format": "tx2yolo-tactics", "version": 99, "entries": {}})", "version 99");
  refused(R"({"format": "tx2yolo-tactics", "version": 2})", "no entries");
  refused(R"({"format": "tx2yolo-tactics", "version": 2, "entries": {"k": {"layers": {"a": {}}}}})", "has no tactic");
  refused(R"({"format": "tx2yolo-tactics", "version": 2, "entries": {"k": {"layers": {"a": {"tactic": "gemm64", "validated": 1}}}}})",
          "validated is not true or false");
  refused(R"({"format": "tx2yolo-tactics", "version": 2, "entries": {"k": {"layers": {"a": {"tactic": "gemm64", "rejected": {"gemm128": 3}}}}}})",
          "rejection reason is not a string");
  refused(R"({"format": "tx2yolo-tactics", "version": 2, "entries": {"k": {"layers": {"a": {"tactic": "gemm64", "ms": {"x": "fast"}}}}}})",
          "not a number");
}

TEST(Tactics, ModesAndDefaultPath) {
  EXPECT_EQ(tactic_mode_from_string("auto"), TacticMode::kCached);
  EXPECT_EQ(tactic_mode_from_string("heuristic"), TacticMode::kHeuristic);
  EXPECT_EQ(tactic_mode_from_string("retune"), TacticMode::kRetune);
  EXPECT_THROW(tactic_mode_from_string("fastest"), Error);
  ::setenv("TX2YOLO_TACTICS_CACHE", "/tmp/x/t.json", 1);
  EXPECT_EQ(default_tactic_cache_path(), "/tmp/x/t.json");
  ::unsetenv("TX2YOLO_TACTICS_CACHE");
  const char* home = std::getenv("HOME");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (!xdg && home) {
    EXPECT_EQ(default_tactic_cache_path(), std::string(home) + "/.cache/tx2yolo/tactics.json");
  }
}

TEST(Tactics, TuneWithoutAGpuIsOneClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  TempDir dir;
  const auto r = testing_util::run_command_stderr(std::string(TX2YOLO_CLI_PATH) + " tune --tactics-cache " +
                                                  dir.file("t.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("error: tune needs a CUDA device", 0), 0u) << r.output;
  EXPECT_FALSE(file_exists(dir.file("t.json")));
}

}  // namespace
}  // namespace tx2yolo
