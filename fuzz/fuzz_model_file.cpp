// The model file: a safetensors file whose header carries the graph, the
// config and the provenance (weights/model_file.h). Seeds: small model files.
#include "fuzz/fuzz_common.h"
#include "weights/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] { ModelFile::parse(fuzz::bytes(data, size), "fuzz.safetensors"); });
}
