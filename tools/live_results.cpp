#include "tools/live_results.h"

#include <sys/stat.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tx2yolo {

JsonlWriter::JsonlWriter(const std::string& path) : path_(path) {
  if (path == "-") {
    file_ = stdout;
    return;
  }
  struct stat st {};
  TX2_REQUIRE(::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode), "--jsonl ", path,
              ": exists and is not a regular file; refusing to write to it");
  file_ = std::fopen(path.c_str(), "w");
  TX2_REQUIRE(file_ != nullptr, "--jsonl ", path, ": cannot open for writing");
}

JsonlWriter::~JsonlWriter() {
  if (file_ && file_ != stdout) std::fclose(file_);
}

void JsonlWriter::write(const std::string& source, int frame_index, const std::string& frame_name, int width,
                        int height, const std::vector<Detection>& dets, const std::vector<std::string>& classes,
                        const FrameTimings& t) {
  nlohmann::ordered_json detections = nlohmann::ordered_json::array();
  for (const Detection& d : dets) {
    const bool known = d.class_id >= 0 && static_cast<std::size_t>(d.class_id) < classes.size();
    detections.push_back({{"class_id", d.class_id},
                          {"class", known ? classes[static_cast<std::size_t>(d.class_id)] : std::string()},
                          {"score", d.score},
                          {"bbox", {d.x1, d.y1, d.x2, d.y2}}});
  }
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const nlohmann::ordered_json line = {
      {"source", source},
      {"frame", frame_index},
      {"name", frame_name},
      {"time", now},
      {"width", width},
      {"height", height},
      {"detections", detections},
      {"ms", {{"preprocess", t.preprocess_ms}, {"network", t.network_ms}, {"postprocess", t.postprocess_ms},
              {"total", t.total_ms}}}};
  const std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0;
  TX2_REQUIRE(ok, "--jsonl ", path_, ": write failed");
}

}  // namespace tx2yolo
