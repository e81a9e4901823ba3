// The bounded JSON parser alone (weights/json_guard.h): the model header,
// the metadata documents and the PIR program all go through it.
#include "fuzz/fuzz_common.h"
#include "weights/json_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { parse_json_checked(fuzz::text(data, size), "fuzz header"); });
}
