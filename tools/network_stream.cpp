#include "tools/network_stream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <opencv2/core/utils/logger.hpp>

#include "core/error.h"
#include "tools/quiet_stderr.h"

namespace tx2yolo {

namespace {

// OpenCV and FFmpeg print their own messages about a failing stream; the
// first open silences stderr around it, but the capture thread must not (fd 2
// belongs to the whole process), so OpenCV's log is turned down instead
// (FFmpeg's is already: OPENCV_FFMPEG_LOGLEVEL, set by FrameSource).
bool open_capture(cv::VideoCapture* capture, const std::string& url, int timeout_ms, bool silence_stderr) {
  std::unique_ptr<QuietStderr> quiet;
  if (silence_stderr) quiet = std::make_unique<QuietStderr>();
  try {
#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR >= 6)
    const std::vector<int> params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv::CAP_PROP_READ_TIMEOUT_MSEC,
                                     timeout_ms};
    return capture->open(url, cv::CAP_FFMPEG, params) && capture->isOpened();
#else
    (void)timeout_ms;  // OpenCV < 4.6 (JetPack's 4.1.1): FFmpeg's own timeouts
    return capture->open(url, cv::CAP_FFMPEG) && capture->isOpened();
#endif
  } catch (const cv::Exception&) {
    return false;
  }
}

}  // namespace

bool is_network_url(const std::string& input) {
  for (const char* scheme : {"rtsp://", "rtsps://", "rtmp://", "http://", "https://"})
    if (input.compare(0, std::char_traits<char>::length(scheme), scheme) == 0) return true;
  return false;
}

NetworkStream::NetworkStream(std::string url, NetworkStreamOptions options)
    : url_(std::move(url)), options_(options) {
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  TX2_REQUIRE(options_.queue >= 1, "--queue must be at least 1");
  TX2_REQUIRE(options_.reconnect >= 0, "--reconnect must be 0 or more");
  TX2_REQUIRE(open_with_retries(true), url_, ": cannot open the stream",
              options_.reconnect > 0 ? cat(" (", options_.reconnect + 1, " tries)") : std::string());
  const double fps = capture_.get(cv::CAP_PROP_FPS);
  fps_ = fps > 0 && fps < 1000 ? fps : 0;
  thread_ = std::thread(&NetworkStream::capture_loop, this);
}

NetworkStream::~NetworkStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// Opens the stream. A first open gets one try and then up to
// options_.reconnect retries; a reopen after a loss gets up to
// options_.reconnect tries. Each retry waits 0.5, 1, 2, 4, then 8 s (cut
// short when the stream is stopped). False if every try failed.
bool NetworkStream::open_with_retries(bool first) {
  const int tries = first ? options_.reconnect + 1 : options_.reconnect;
  for (int t = 0; t < tries; ++t) {
    const int retry = first ? t : t + 1;  // 1-based number of this retry; 0 for a first open
    if (retry > 0) {
      const int wait_ms = std::min(8000, 500 << std::min(retry - 1, 4));
      std::fprintf(stderr, "warning: %s: %s; reconnecting (try %d of %d) in %.1f s\n", url_.c_str(),
                   first ? "cannot open the stream" : "stream lost", retry, options_.reconnect, wait_ms / 1000.0);
      std::unique_lock<std::mutex> lock(mutex_);
      if (changed_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_; })) return false;
    }
    capture_.release();
    if (open_capture(&capture_, url_, options_.timeout_ms, first)) return true;
  }
  return false;
}

void NetworkStream::capture_loop() {
  int index = 0;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) break;
    }
    cv::Mat frame;
    bool ok = false;
    try {
      ok = capture_.read(frame) && !frame.empty();
    } catch (const cv::Exception&) {
      ok = false;
    }
    if (!ok) {
      if (options_.reconnect > 0 && open_with_retries(false)) {
        std::lock_guard<std::mutex> lock(mutex_);
        ++reconnects_;
        continue;
      }
      break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (!options_.drop_oldest)
      changed_.wait(lock, [this] { return stop_ || queue_.size() < static_cast<std::size_t>(options_.queue); });
    if (stop_) break;
    while (queue_.size() >= static_cast<std::size_t>(options_.queue)) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.emplace_back(index++, std::move(frame));
    lock.unlock();
    changed_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
  }
  changed_.notify_all();
  capture_.release();
}

bool NetworkStream::next(cv::Mat* frame, int* index) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !queue_.empty() || ended_; });
  if (queue_.empty()) return false;
  *index = queue_.front().first;
  *frame = std::move(queue_.front().second);
  queue_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return true;
}

long long NetworkStream::dropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

int NetworkStream::reconnects() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reconnects_;
}

}  // namespace tx2yolo
