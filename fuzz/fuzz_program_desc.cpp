// A ProgramDesc protobuf (__model__ or .pdmodel; convert/program.h).
#include "fuzz/fuzz_common.h"
#include "convert/program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { paddle::parse_program_desc(data, size, "fuzz.pdmodel"); });
}
