// The size of an encoded image, read from its header before anything is
// decoded, so that a decompression bomb (a 30000x30000 PNG of under 1 MB
// decodes to 2.7 GB) is refused before the decoder allocates it. OpenCV 4.6
// has no header-only API, and its own limit (OPENCV_IO_MAX_IMAGE_PIXELS,
// 2^30 pixels) is read when the library loads.
//
// Formats: JPEG (the SOFn marker), PNG (IHDR), BMP (the DIB header), WebP
// (VP8, VP8L and VP8X chunks), TIFF (the first IFD's ImageWidth and
// ImageLength), and the Netpbm family P1 to P6 (PBM, PGM, PPM). These are
// the formats the CLI reads; any other is refused as unsupported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tx2yolo {

struct ImageHeader {
  std::string format;  // "jpeg", "png", "bmp", "webp", "tiff", "pnm"
  long long width = 0;
  long long height = 0;
};

// Reads the format and size from the first `size` bytes of an encoded image.
// Returns false, with *why, when the format is not one of the above or the
// header is cut short or inconsistent. Never reads past `size`.
bool read_image_header(const std::uint8_t* data, std::size_t size, ImageHeader* out, std::string* why);

// The default pixel limit of decoded images: 2^28 (268 million) pixels, well
// above any camera's (the largest phone sensors are 200 MP), under OpenCV's 2^30.
constexpr long long kDefaultMaxImagePixels = 1LL << 28;

}  // namespace tx2yolo
