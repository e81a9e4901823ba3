// Reading the photograph a subcommand works on. Two definitions, chosen at
// link time: image_read.cpp decodes files with OpenCV's imgcodecs (the
// tx2yolo CLI); image_read_none.cpp refuses with a reason (tx2yolo-bench,
// which needs only OpenCV core and imgproc, for GPU machines that have no
// OpenCV codecs and use `bench --synthetic`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tools/image_header.h"

namespace tx2yolo {

// An 8-bit BGR image; throws Error (one line, naming the file) when the file
// is missing or cannot be decoded, when its header (tools/image_header.h)
// gives more than `max_pixels` pixels, or when this build decodes no files.
cv::Mat read_image(const std::string& path, long long max_pixels = kDefaultMaxImagePixels);
// The same from the file's bytes (`name` for messages). The header is read
// and the pixel limit checked before anything is decoded.
cv::Mat decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name,
                     long long max_pixels = kDefaultMaxImagePixels);

// `image` encoded as PNG and written atomically to `path` (plots); throws
// Error when this build has no codecs (tx2yolo-bench) or encoding fails.
void write_png(const std::string& path, const cv::Mat& image);
// Whether this build encodes and decodes image files (false: tx2yolo-bench).
bool image_codecs_available();

// A deterministic 8-bit BGR scene like the demo data (red circles, a green
// square, blue triangles on a grey, slightly noisy background), for timing
// without an image file.
cv::Mat synthetic_scene(int width, int height);

}  // namespace tx2yolo
