// A ProgramDesc protobuf (__model__ or .pdmodel; tools/paddle/program.h).
#include "fuzz/fuzz_common.h"
#include "tools/paddle/program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { paddle::parse_program_desc(data, size, "fuzz.pdmodel"); });
}
