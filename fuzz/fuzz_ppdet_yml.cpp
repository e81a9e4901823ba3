// A PaddleDetection config (convert/ppdet_config.h), with _BASE_
// includes: the input is written as cfg.yml beside a fixed base.yml that it
// may include (the seeds do), in a private temporary folder.
#include <fstream>
#include <memory>

#include "core/file_util.h"
#include "fuzz/fuzz_common.h"
#include "convert/ppdet_config.h"
#include "weights/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  static const std::unique_ptr<TempDirectory> dir = [] {
    auto d = std::make_unique<TempDirectory>();
    std::ofstream(d->file("base.yml")) << "architecture: YOLOv3\nnum_classes: 3\n"
                                          "YOLOv3Head:\n  anchors: [[10, 13], [16, 30], [33, 23]]\n"
                                          "  anchor_masks: [[0, 1, 2]]\n";
    return d;
  }();
  const std::string path = dir->file("cfg.yml");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  return fuzz::run([&] {
    ModelConfig config;
    paddle::apply_ppdet_config(path, &config);
  });
}
