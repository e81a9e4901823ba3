// A one-line progress bar with throughput and ETA on stderr, for the CLI's
// long commands (eval, sensitivity, bench).
#pragma once

#include <cstddef>
#include <string>

namespace tx2yolo {

class ProgressBar {
 public:
  // kAlways: redrawn in place on a terminal, one line per 10% otherwise
  // (logs, CI). kTerminalOnly: nothing at all unless stderr is a terminal
  // (bench, whose output scripts read).
  enum class Mode { kAlways, kTerminalOnly };
  ProgressBar(std::string label, std::size_t total, std::string unit, Mode mode = Mode::kAlways);
  void update(std::size_t done);
  // Erases the bar from a terminal line (before printing a result there).
  void clear();

 private:
  std::string label_, unit_;
  std::size_t total_;
  bool tty_;
  bool silent_;
  double start_;
  std::size_t last_decile_ = 0;
};

}  // namespace tx2yolo
