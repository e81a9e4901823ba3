#include "tools/image_header.h"

#include <cctype>
#include <cstring>

namespace tx2yolo {

namespace {

std::uint32_t be16(const std::uint8_t* p) { return (static_cast<std::uint32_t>(p[0]) << 8) | p[1]; }
std::uint32_t be32(const std::uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
std::uint32_t le16(const std::uint8_t* p) { return (static_cast<std::uint32_t>(p[1]) << 8) | p[0]; }
std::uint32_t le32(const std::uint8_t* p) { return (le16(p + 2) << 16) | le16(p); }

bool fail(std::string* why, const char* what) {
  *why = what;
  return false;
}

bool jpeg(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  std::size_t i = 2;
  while (i + 4 <= n) {
    if (d[i] != 0xFF) return fail(why, "JPEG: a marker was expected");
    while (i < n && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) break;
    const std::uint8_t marker = d[i++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0xD9 || marker == 0xDA) return fail(why, "JPEG: no frame header before the scan");
    if (i + 2 > n) break;
    const std::uint32_t length = be16(d + i);
    if (length < 2) return fail(why, "JPEG: a segment length under 2");
    const bool sof = (marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (length < 7 || i + 7 > n) break;
      out->format = "jpeg";
      out->height = be16(d + i + 3);
      out->width = be16(d + i + 5);
      return true;
    }
    i += length;
  }
  return fail(why, "JPEG: the header is cut short");
}

bool png(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  if (n < 24) return fail(why, "PNG: the header is cut short");
  if (std::memcmp(d + 12, "IHDR", 4) != 0) return fail(why, "PNG: the first chunk is not IHDR");
  out->format = "png";
  out->width = be32(d + 16);
  out->height = be32(d + 20);
  return true;
}

bool bmp(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  if (n < 26) return fail(why, "BMP: the header is cut short");
  const std::uint32_t dib = le32(d + 14);
  out->format = "bmp";
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    out->width = le16(d + 18);
    out->height = le16(d + 20);
    return true;
  }
  if (dib < 40) return fail(why, "BMP: an unknown header size");
  const std::int32_t w = static_cast<std::int32_t>(le32(d + 18));
  const std::int32_t h = static_cast<std::int32_t>(le32(d + 22));
  out->width = w < 0 ? -static_cast<long long>(w) : w;
  out->height = h < 0 ? -static_cast<long long>(h) : h;  // negative: stored top-down
  return true;
}

bool webp(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  if (n < 31) return fail(why, "WebP: the header is cut short");
  out->format = "webp";
  if (std::memcmp(d + 12, "VP8X", 4) == 0) {
    out->width = 1 + (le32(d + 24) & 0xFFFFFF);
    out->height = 1 + (le32(d + 27) & 0xFFFFFF);
    return true;
  }
  if (std::memcmp(d + 12, "VP8L", 4) == 0) {
    if (d[20] != 0x2F) return fail(why, "WebP: a lossless stream without its signature");
    const std::uint32_t bits = le32(d + 21);
    out->width = 1 + (bits & 0x3FFF);
    out->height = 1 + ((bits >> 14) & 0x3FFF);
    return true;
  }
  if (std::memcmp(d + 12, "VP8 ", 4) == 0) {
    if (d[23] != 0x9D || d[24] != 0x01 || d[25] != 0x2A) return fail(why, "WebP: a lossy frame without its start code");
    out->width = le16(d + 26) & 0x3FFF;
    out->height = le16(d + 28) & 0x3FFF;
    return true;
  }
  return fail(why, "WebP: an unknown first chunk");
}

bool tiff(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  const bool little = d[0] == 'I';
  auto u16 = [&](std::size_t at) { return little ? le16(d + at) : be16(d + at); };
  auto u32 = [&](std::size_t at) { return little ? le32(d + at) : be32(d + at); };
  const std::uint32_t ifd = u32(4);
  if (ifd < 8 || static_cast<std::uint64_t>(ifd) + 2 > n) return fail(why, "TIFF: the first IFD is outside the file");
  const std::uint32_t entries = u16(ifd);
  long long width = -1, height = -1;
  for (std::uint32_t e = 0; e < entries; ++e) {
    const std::uint64_t at = static_cast<std::uint64_t>(ifd) + 2 + 12ull * e;
    if (at + 12 > n) return fail(why, "TIFF: the first IFD is cut short");
    const std::size_t a = static_cast<std::size_t>(at);
    const std::uint32_t tag = u16(a), type = u16(a + 2);
    if (tag != 256 && tag != 257) continue;
    long long v = -1;
    if (type == 3) v = u16(a + 8);       // SHORT
    else if (type == 4) v = u32(a + 8);  // LONG
    else return fail(why, "TIFF: an image size of an unexpected type");
    (tag == 256 ? width : height) = v;
  }
  if (width < 0 || height < 0) return fail(why, "TIFF: no image width or length in the first IFD");
  out->format = "tiff";
  out->width = width;
  out->height = height;
  return true;
}

bool pnm(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  std::size_t i = 2;
  long long values[2] = {-1, -1};
  for (long long& v : values) {
    // Whitespace and # comments, read as OpenCV's PxM decoder reads them:
    // a comment ends at '\n' or '\r'.
    while (i < n) {
      if (d[i] == '#') {
        while (i < n && d[i] != '\n' && d[i] != '\r') ++i;
      } else if (std::isspace(d[i])) {
        ++i;
      } else {
        break;
      }
    }
    if (i >= n || !std::isdigit(d[i])) return fail(why, "PNM: no image size in the header");
    v = 0;
    while (i < n && std::isdigit(d[i])) {
      v = v * 10 + (d[i++] - '0');
      if (v > (1LL << 40)) return fail(why, "PNM: an image size too large to be real");
    }
    // OpenCV's decoder takes the byte after a number as its delimiter, whatever
    // it is: after "659#7256\n9" it reads a height of 7256 from the comment,
    // where the format (and this reader, before) read 9. Found by fuzz_image:
    // a 27-byte PBM passed the pixel limit as 659x9 and made OpenCV allocate
    // 1.4 GB. Only whitespace is taken after a number now, so the two agree
    // or this refuses.
    if (i >= n) return fail(why, "PNM: the header is cut short");
    if (!std::isspace(d[i]))
      return fail(why, "PNM: an image size not followed by whitespace (decoders disagree on what it means)");
  }
  out->format = "pnm";
  out->width = values[0];
  out->height = values[1];
  return true;
}

}  // namespace

bool read_image_header(const std::uint8_t* d, std::size_t n, ImageHeader* out, std::string* why) {
  *out = ImageHeader();
  bool ok = false;
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
    ok = jpeg(d, n, out, why);
  } else if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) {
    ok = png(d, n, out, why);
  } else if (n >= 2 && d[0] == 'B' && d[1] == 'M') {
    ok = bmp(d, n, out, why);
  } else if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) {
    ok = webp(d, n, out, why);
  } else if (n >= 8 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0)) {
    ok = tiff(d, n, out, why);
  } else if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && std::isspace(d[2])) {
    ok = pnm(d, n, out, why);
  } else {
    return fail(why, "not a JPEG, PNG, BMP, WebP, TIFF or PNM image");
  }
  if (ok && (out->width <= 0 || out->height <= 0)) return fail(why, "the header gives an empty image");
  return ok;
}

}  // namespace tx2yolo
