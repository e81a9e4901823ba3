// A VOC annotation file (eval/voc_metric.h, parse_voc_annotation).
#include <map>

#include "fuzz/fuzz_common.h"
#include "eval/voc_metric.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tx2yolo;
  static const std::map<std::string, int> classes = {{"circle", 0}, {"square", 1}, {"triangle", 2}};
  return fuzz::run([&] {
    VocImage im;
    int objects = 0, skipped = 0;
    parse_voc_annotation(fuzz::bytes(data, size), "fuzz.xml", classes, &im, &objects, &skipped);
  });
}
