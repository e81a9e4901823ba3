#include "engine/tactics.h"

#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"

namespace tx2yolo {

namespace {
constexpr const char* kFormat = "tx2yolo-tactics";
constexpr int kVersion = 2;
constexpr std::uint64_t kMaxCacheBytes = 64ull << 20;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}
}  // namespace

TacticMode tactic_mode_from_string(const std::string& s) {
  if (s == "heuristic") return TacticMode::kHeuristic;
  if (s == "auto") return TacticMode::kCached;
  if (s == "retune") return TacticMode::kRetune;
  throw Error(cat("unknown tactics mode '", s, "' (expected auto, heuristic or retune)"));
}

const char* tactic_mode_name(TacticMode m) {
  switch (m) {
    case TacticMode::kHeuristic: return "heuristic";
    case TacticMode::kCached: return "auto";
    case TacticMode::kRetune: return "retune";
  }
  return "?";
}

Precision precision_from_string(const std::string& s) {
  if (s == "fp32") return Precision::kFp32;
  if (s == "fp16") return Precision::kFp16;
  throw Error(cat("unknown precision '", s, "' (expected fp32 or fp16)"));
}

const char* precision_name(Precision p) { return p == Precision::kFp16 ? "fp16" : "fp32"; }

std::string TacticKey::str() const {
  return cat(gpu, " | ", sms, " SMs | CUDA ", cuda_runtime, " | driver ", cuda_driver, " | model ", model_sha256, " | ", input_h, "x", input_w,
             " | batch ", batch, " | ", precision, candidates.empty() ? "" : " | ", candidates);
}

std::string default_tactic_cache_path() {
  const std::string explicit_path = env("TX2YOLO_TACTICS_CACHE");
  if (!explicit_path.empty()) return explicit_path;
  const std::string xdg = env("XDG_CACHE_HOME");
  if (!xdg.empty()) return path_join(path_join(xdg, "tx2yolo"), "tactics.json");
  const std::string home = env("HOME");
  if (!home.empty()) return path_join(path_join(path_join(home, ".cache"), "tx2yolo"), "tactics.json");
  return "";
}

TacticCache::TacticCache(std::string path) : path_(std::move(path)) {
  TX2_REQUIRE(!path_.empty(), "tactics cache: no path (set TX2YOLO_TACTICS_CACHE or HOME)");
  if (!file_exists(path_)) return;
  const std::vector<std::uint8_t> bytes = read_file_bytes(path_, kMaxCacheBytes);
  const std::string bad = cat(path_, ": not a tx2yolo tactics cache");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(bad, " (", e.what(), "); delete it to start a new one"));
  }
  TX2_REQUIRE(j.is_object() && j.value("format", "") == kFormat, bad, "; delete it to start a new one");
  const int version = j.value("version", 0);
  if (version == 1) {  // choices made before validation: all timed again, the file rewritten at the next store
    note_ = "an older cache whose choices were not validated; its entries are ignored";
    return;
  }
  TX2_REQUIRE(version == kVersion, path_, ": tactics cache version ", version, " (this tx2yolo writes ", kVersion,
              "); delete it to start a new one");
  const auto entries = j.find("entries");
  TX2_REQUIRE(entries != j.end() && entries->is_object(), bad, " (no entries)");
  for (const auto& e : entries->items()) {
    TX2_REQUIRE(e.value().is_object() && e.value().contains("layers") && e.value()["layers"].is_object(), bad,
                " (entry without layers)");
    created_[e.key()] = e.value().value("created", "");
    auto& layers = entries_[e.key()];
    for (const auto& l : e.value()["layers"].items()) {
      const nlohmann::json& v = l.value();
      TX2_REQUIRE(v.is_object() && v.contains("tactic") && v["tactic"].is_string(), bad, " (layer '", l.key(),
                  "' has no tactic)");
      LayerTactic t;
      t.layer = l.key();
      t.tactic = v["tactic"].get<std::string>();
      t.from_cache = true;
      if (v.contains("validated")) {
        TX2_REQUIRE(v["validated"].is_boolean(), bad, " (layer '", l.key(), "': validated is not true or false)");
        t.validated = v["validated"].get<bool>();
      }
      if (v.contains("rejected")) {
        TX2_REQUIRE(v["rejected"].is_object(), bad, " (layer '", l.key(), "': rejected is not an object)");
        for (const auto& r : v["rejected"].items()) {
          TX2_REQUIRE(r.value().is_string(), bad, " (layer '", l.key(), "': a rejection reason is not a string)");
          t.rejected[r.key()] = r.value().get<std::string>();
        }
      }
      if (v.contains("ms")) {
        TX2_REQUIRE(v["ms"].is_object(), bad, " (layer '", l.key(), "': ms is not an object)");
        for (const auto& m : v["ms"].items()) {
          TX2_REQUIRE(m.value().is_number(), bad, " (layer '", l.key(), "': a time is not a number)");
          t.ms[m.key()] = m.value().get<double>();
        }
      }
      layers[t.layer] = t;
    }
  }
}

std::map<std::string, LayerTactic> TacticCache::lookup(const TacticKey& key) const {
  const auto it = entries_.find(key.str());
  return it == entries_.end() ? std::map<std::string, LayerTactic>() : it->second;
}

void TacticCache::store(const TacticKey& key, const std::vector<LayerTactic>& layers) {
  auto& entry = entries_[key.str()];
  entry.clear();
  for (const LayerTactic& l : layers) entry[l.layer] = l;
  char stamp[32] = "";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  if (gmtime_r(&now, &utc)) std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &utc);
  created_[key.str()] = stamp;
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["entries"] = nlohmann::json::object();
  for (const auto& e : entries_) {
    nlohmann::json layers_json = nlohmann::json::object();
    for (const auto& l : e.second) {
      nlohmann::json v;
      v["tactic"] = l.second.tactic;
      v["ms"] = nlohmann::json::object();
      for (const auto& m : l.second.ms) v["ms"][m.first] = m.second;
      v["validated"] = l.second.validated;
      if (!l.second.rejected.empty()) {
        v["rejected"] = nlohmann::json::object();
        for (const auto& r : l.second.rejected) v["rejected"][r.first] = r.second;
      }
      layers_json[l.first] = v;
    }
    j["entries"][e.first] = {{"created", created_[e.first]}, {"layers", layers_json}};
  }
  const std::string text = j.dump(1) + "\n";
  const std::string dir = path_dirname(path_);
  if (dir != "." && !dir.empty()) make_directories(dir);
  write_file_atomic(path_, text.data(), text.size());
}

}  // namespace tx2yolo
