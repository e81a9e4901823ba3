// A Paddle 3 PIR program (.json; convert/program.h).
#include "fuzz/fuzz_common.h"
#include "convert/program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { paddle::parse_pir_json(fuzz::text(data, size), "fuzz.json"); });
}
