#include "tools/frame_source.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/image_read.h"
#include "tools/quiet_stderr.h"

namespace tx2yolo {

namespace {

constexpr std::uint64_t kMaxImageFileBytes = 1ull << 30;

// FFmpeg's own log (e.g. "[h264 @ 0x...] error while decoding MB ...") is
// printed from its decoding threads at any time, so no QuietStderr window
// can cover it: OpenCV sets FFmpeg's level from this variable when it first
// opens a file (AV_LOG_QUIET). A user's own setting is kept.
void quiet_ffmpeg() { ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0); }

std::string lower_extension(const std::string& path) {
  std::string ext = path_extension(path);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

std::string stream_frame_name(int index) {
  char name[32];
  std::snprintf(name, sizeof(name), "frame-%06d", index);
  return name;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 6 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

bool has_image_extension(const std::string& path) {
  static const char* kExt[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  const std::string ext = lower_extension(path);
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

bool has_video_extension(const std::string& path) {
  static const char* kExt[] = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".h264", ".mjpeg", ".ts", ".flv"};
  const std::string ext = lower_extension(path);
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

FrameSource::FrameSource(const std::string& input, long long max_pixels, NetworkStreamOptions network)
    : input_(input), max_pixels_(max_pixels) {
  quiet_ffmpeg();
  TX2_REQUIRE(!input.empty(), "no input given");
  if (is_network_url(input)) {
    kind_ = SourceKind::kNetwork;
    network_ = std::make_unique<NetworkStream>(input, network);
  } else if (is_directory(input)) {
    kind_ = SourceKind::kImageFolder;
    for (const std::string& f : list_directory_files(input))
      if (has_image_extension(f)) files_.push_back(f);
    TX2_REQUIRE(!files_.empty(), input, ": the folder holds no images (.jpg, .png, .bmp, .tif, .webp)");
  } else if (file_exists(input)) {
    TX2_REQUIRE(is_regular_file(input), input, ": not a regular file, a folder or a camera");
    if (has_video_extension(input)) {
      kind_ = SourceKind::kVideo;
      QuietStderr quiet;
      TX2_REQUIRE(capture_.open(input, cv::CAP_ANY), input, ": cannot open video");
    } else {
      kind_ = SourceKind::kImage;
      files_.push_back(input);
    }
  } else if (all_digits(input)) {
    kind_ = SourceKind::kCamera;
    const int index = std::stoi(input);
    QuietStderr quiet;
    TX2_REQUIRE(capture_.open(index, cv::CAP_ANY), "cannot open camera ", index,
                " (no such device, or it is busy)");
  } else if (input.find('!') != std::string::npos) {
    kind_ = SourceKind::kCamera;
    QuietStderr quiet;
    TX2_REQUIRE(capture_.open(input, cv::CAP_GSTREAMER), "cannot open GStreamer pipeline '", input,
                "' (is OpenCV built with GStreamer, and does the pipeline end in appsink?)");
  } else {
    throw Error(cat(input, ": no such file or folder (a camera is a number such as 0 or a GStreamer pipeline; a "
                    "network stream starts with rtsp://, rtmp://, http:// or https://)"));
  }
}

double FrameSource::fps() const {
  if (!is_stream()) return 0;
  if (network_) return network_->fps();
  const double fps = capture_.get(cv::CAP_PROP_FPS);
  return fps > 0 && fps < 1000 ? fps : 0;
}

bool FrameSource::next(Frame* frame) {
  if (!is_stream()) {
    if (next_file_ >= files_.size()) return false;
    const std::string& path = files_[next_file_];
    frame->index = static_cast<int>(next_file_++);
    frame->name = path_basename(path);
    // Read the bytes ourselves (regular files only, size-capped), then decode.
    frame->bgr = decode_image(read_file_bytes(path, kMaxImageFileBytes), path, max_pixels_);
    return true;
  }
  if (network_) {
    if (!network_->next(&frame->bgr, &frame->index)) return false;
    frame->name = stream_frame_name(frame->index);
    return true;
  }
  bool ok = false;
  {
    QuietStderr quiet;
    ok = capture_.read(frame->bgr);
  }
  if (!ok || frame->bgr.empty()) return false;
  frame->index = frame_index_++;
  frame->name = stream_frame_name(frame->index);
  return true;
}

}  // namespace tx2yolo
