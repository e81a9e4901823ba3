#include "tools/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace tx2yolo {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProgressBar::ProgressBar(std::string label, std::size_t total, std::string unit, Mode mode)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) != 0),
      silent_(mode == Mode::kTerminalOnly && !tty_), start_(now_s()) {}

void ProgressBar::update(std::size_t done) {
  if (silent_) return;
  const double s = now_s() - start_;
  const double rate = s > 0 ? done / s : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  const int width = 30;
  const int filled = static_cast<int>(width * done / std::max<std::size_t>(1, total_));
  if (tty_) {
    std::fprintf(stderr, "\r%s [%s%s] %zu/%zu %s, %.2f/s, ETA %.0f s ", label_.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), done, total_, unit_.c_str(), rate,
                 eta);
    if (done == total_) std::fprintf(stderr, "\n");
  } else if (done == total_ || done * 10 / std::max<std::size_t>(1, total_) != last_decile_) {
    last_decile_ = done * 10 / std::max<std::size_t>(1, total_);
    std::fprintf(stderr, "%s: %zu/%zu %s, %.2f/s, ETA %.0f s\n", label_.c_str(), done, total_, unit_.c_str(), rate,
                 eta);
  }
}

void ProgressBar::clear() {
  if (tty_ && !silent_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace tx2yolo
