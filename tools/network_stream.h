// A network video source for `tx2yolo detect` (rtsp://, rtsps://, rtmp://,
// http://, https://), opened through OpenCV's FFmpeg backend.
//
// Capture runs on its own thread into a bounded queue, so a slow network
// never stalls inference and a slow detector never stalls the network: when
// the queue is full the oldest frame is dropped (the default; or the capture
// waits, with drop_oldest off). A lost stream is reopened up to `reconnect`
// times in a row, waiting 0.5, 1, 2, 4, then 8 s between tries; a frame read
// after a reopen resets the count. Frame indices count every frame read from
// the network, so the frames dropped show as gaps.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

namespace tx2yolo {

// True for the URL schemes NetworkStream opens.
bool is_network_url(const std::string& input);

struct NetworkStreamOptions {
  int reconnect = 0;         // reopen attempts after a loss (0: the stream ends when lost)
  int queue = 2;             // frames held between capture and inference, >= 1
  bool drop_oldest = true;   // a full queue drops its oldest frame; false: capture waits
  int timeout_ms = 10000;    // open and read timeouts (OpenCV >= 4.6)
};

class NetworkStream {
 public:
  // Opens the stream (retrying as for a loss); throws Error with a one-line
  // reason if it cannot be opened.
  NetworkStream(std::string url, NetworkStreamOptions options);
  ~NetworkStream();
  NetworkStream(const NetworkStream&) = delete;
  NetworkStream& operator=(const NetworkStream&) = delete;

  // Waits for the next frame; false once the stream has ended for good.
  bool next(cv::Mat* frame, int* index);
  double fps() const { return fps_; }
  long long dropped() const;
  int reconnects() const;

 private:
  bool open_with_retries(bool first);
  void capture_loop();

  std::string url_;
  NetworkStreamOptions options_;
  cv::VideoCapture capture_;
  double fps_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<int, cv::Mat>> queue_;
  bool ended_ = false;
  bool stop_ = false;
  long long dropped_ = 0;
  int reconnects_ = 0;
  std::thread thread_;
};

}  // namespace tx2yolo
