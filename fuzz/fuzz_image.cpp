// Image decoding through the CLI's reader (tools/image_read.h): the header
// read and the pixel limit first, then OpenCV's decoders. The limit is low
// here (4 megapixels) so that each input decodes quickly.
#include "fuzz/fuzz_common.h"
#include "tools/image_read.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { decode_image(fuzz::bytes(data, size), "fuzz.img", 1LL << 22); });
}
