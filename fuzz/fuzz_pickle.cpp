// A .pdparams pickle (convert/pickle_reader.h): nothing in it is ever
// executed; unknown globals and opcodes are refused.
#include "fuzz/fuzz_common.h"
#include "convert/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { paddle::parse_pickle(data, size, "fuzz.pdparams"); });
}
