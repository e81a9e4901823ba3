// A LoDTensor record, as in a static per-variable folder or a combined
// .pdiparams (convert/param_tensor.h): records read one after another.
#include "fuzz/fuzz_common.h"
#include "convert/param_tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  return fuzz::run([&] {
    std::size_t offset = 0;
    for (int i = 0; i < 8 && offset < size; ++i) {
      const paddle::TensorRecord r = paddle::read_tensor_record(data, size, &offset, "fuzz.pdiparams");
      paddle::record_to_param(r, "fuzz_var", "fuzz.pdiparams");
    }
  });
}
