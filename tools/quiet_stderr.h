// Silences this process's stderr (fd 2) while alive. Image and video decoders
// (libpng, libjpeg, FFmpeg) print their own warnings there, which would break
// the CLI's one-line error; our exceptions say what failed instead.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace tx2yolo {

class QuietStderr {
 public:
  QuietStderr() {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (saved_ >= 0 && null_fd >= 0) ::dup2(null_fd, 2);
    if (null_fd >= 0) ::close(null_fd);
  }
  ~QuietStderr() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
    }
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace tx2yolo
