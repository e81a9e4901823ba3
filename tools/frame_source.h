// Where `tx2yolo detect` gets its frames: one image, a folder of images, a
// video file, a camera (an index such as "0", or a GStreamer pipeline
// such as Jetson's "nvarguscamerasrc ! ... ! appsink"), or a network stream
// (rtsp://, rtmp://, http(s)://; tools/network_stream.h), all through OpenCV.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "tools/image_header.h"
#include "tools/network_stream.h"

namespace tx2yolo {

enum class SourceKind { kImage, kImageFolder, kVideo, kCamera, kNetwork };

struct Frame {
  cv::Mat bgr;
  std::string name;  // file name for images, "frame-000012" for video/camera
  int index = 0;
};

class FrameSource {
 public:
  // Classifies and opens the input; throws Error with a one-line reason
  // (missing path, empty folder, camera that cannot be opened, ...). Images
  // over `max_pixels` (read from their headers) are refused before decoding.
  // A network stream is read on its own thread with `network`'s queue and
  // reconnection settings.
  explicit FrameSource(const std::string& input, long long max_pixels = kDefaultMaxImagePixels,
                       NetworkStreamOptions network = {});
  SourceKind kind() const { return kind_; }
  bool is_stream() const {
    return kind_ == SourceKind::kVideo || kind_ == SourceKind::kCamera || kind_ == SourceKind::kNetwork;
  }
  // Network streams: frames dropped from the full queue, and reopens.
  long long dropped_frames() const { return network_ ? network_->dropped() : 0; }
  int reconnects() const { return network_ ? network_->reconnects() : 0; }
  // Frames per second of a video/camera (0 when unknown).
  double fps() const;
  // Next frame; false at the end. Throws Error if an image cannot be decoded.
  bool next(Frame* frame);

 private:
  SourceKind kind_ = SourceKind::kImage;
  std::string input_;
  std::vector<std::string> files_;
  std::size_t next_file_ = 0;
  cv::VideoCapture capture_;
  std::unique_ptr<NetworkStream> network_;
  int frame_index_ = 0;
  long long max_pixels_ = kDefaultMaxImagePixels;
};

bool has_image_extension(const std::string& path);
bool has_video_extension(const std::string& path);

}  // namespace tx2yolo
