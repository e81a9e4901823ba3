// The convert round trip: the input as a .pdparams checkpoint through
// convert_checkpoint (convert/converter.h); when it converts, the model
// file it makes must load again. A model that converts but does not load is
// a finding (the process aborts).
#include <cstdlib>
#include <fstream>
#include <memory>

#include "core/file_util.h"
#include "fuzz/fuzz_common.h"
#include "convert/converter.h"
#include "weights/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  static const std::unique_ptr<TempDirectory> dir = std::make_unique<TempDirectory>();
  const std::string path = dir->file("model.pdparams");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  paddle::ConvertOptions o;
  o.input = path;
  o.input_h = o.input_w = 64;
  o.defaults = "voc";  // what no config gives
  std::vector<std::uint8_t> model;
  try {
    const paddle::ConvertResult r = paddle::convert_checkpoint(o);
    model = serialize_model_file(r.mapped.arch.graph, r.config, r.provenance, r.tensors);
  } catch (const Error&) {
    return 0;  // refused: fine
  }
  try {
    ModelFile::parse(model, "converted");
  } catch (const Error& e) {
    std::fprintf(stderr, "converted, but the model file does not load: %s\n", e.what());
    std::abort();
  }
  return 0;
}
