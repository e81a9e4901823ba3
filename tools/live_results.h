// `detect --jsonl PATH|-`: one JSON object per frame, written as the frame
// is done and flushed, so that another program can follow it live
// (`tail -f`, a pipe). Each line is complete on its own:
//   {"source": "...", "frame": 12, "name": "frame-000012", "time": 1764850000.123,
//    "width": 1280, "height": 720,
//    "detections": [{"class_id": 0, "class": "person", "score": 0.91, "bbox": [x1, y1, x2, y2]}, ...],
//    "ms": {"preprocess": 1.2, "network": 8.0, "postprocess": 0.4, "total": 9.6}}
// "time" is when the frame's result was written (seconds since the epoch),
// "bbox" is in the frame's pixels, and every detection NMS keeps is listed.
// Unlike the other outputs this one is not held back until the end: a run
// stopped by an error leaves the whole lines written before it. A target that
// exists and is not a regular file (a folder, FIFO or device) is refused;
// "-" writes to standard output.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "engine/detector.h"

namespace tx2yolo {

class JsonlWriter {
 public:
  explicit JsonlWriter(const std::string& path);
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  bool to_stdout() const { return file_ == stdout; }
  // Writes one frame's line and flushes it. Throws Error if the write fails.
  void write(const std::string& source, int frame_index, const std::string& frame_name, int width, int height,
             const std::vector<Detection>& dets, const std::vector<std::string>& classes, const FrameTimings& t);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace tx2yolo
