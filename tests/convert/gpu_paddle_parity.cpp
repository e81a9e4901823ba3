// The CUDA backend against Paddle itself: each fixture variant
// (tests/data/paddle) converted in-process and compared layer by layer and
// detection by detection with the references Paddle made, at both input
// sizes, on the GPU. Skips without a GPU.
//
// The fixture folder is $TX2YOLO_SOURCE_DIR/tests/data/paddle when that is
// set (gpu-check.sh sets it: the device machine's checkout is elsewhere),
// else the source folder this binary was built from.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "tests/gpu_test_util.h"
#include "tests/test_util.h"

#ifdef TX2YOLO_WITH_CUDA
#include "convert/converter.h"
#include "parity/parity.h"

namespace tx2yolo {
namespace {

std::string fixture(const std::string& rel) {
  const char* root = std::getenv("TX2YOLO_SOURCE_DIR");
  return std::string(root ? root : TX2YOLO_SOURCE_DIR) + "/tests/data/paddle/" + rel;
}

void expect_gpu_parity(const char* variant, const char* config, const char* labels) {
  SKIP_WITHOUT_GPU();
  paddle::ConvertOptions o;
  o.input = fixture(cat(variant, "/model.pdparams"));
  o.config = fixture(config);
  if (labels) o.labels = fixture(labels);
  o.defaults = "voc";  // the VOC fixtures' configs name a dataset label list that is not committed
  const paddle::ConvertResult r = paddle::convert_checkpoint(o);
  testing_util::TempDir dir;
  const std::string model = dir.file("m.safetensors");
  write_model_file(model, r.mapped.arch.graph, r.config, r.provenance, r.tensors);
  ParityOptions opt;
  opt.backend = BackendKind::kCuda;
  for (const char* ref_name : {"fruits_128x128", "building_96x160"}) {
    SCOPED_TRACE(ref_name);
    const Reference ref = load_reference(fixture(cat("refs/", variant, "_", ref_name, ".safetensors")));
    const ParityReport p = compare_with_reference(model, ref, opt);
    for (const ParityRow& row : p.rows) EXPECT_TRUE(row.passed) << row.name << " rel L2 " << row.rel_l2 << " " << row.note;
    EXPECT_NE(p.backend.find("cuda"), std::string::npos) << p.backend;
    EXPECT_GE(p.reference_detections, 10);
    EXPECT_EQ(p.unmatched, 0);
    EXPECT_TRUE(p.passed);
  }
}

TEST(GpuPaddleParity, StandardHead) { expect_gpu_parity("std", "configs/yolov3_mbv1_std_voc.yml", nullptr); }
TEST(GpuPaddleParity, SeparableHead) { expect_gpu_parity("sep", "configs/yolov3_mbv1_sep_voc.yml", nullptr); }
TEST(GpuPaddleParity, PrunedR578) { expect_gpu_parity("pruned", "configs/yolov3_mbv1_pruned_voc.yml", nullptr); }
TEST(GpuPaddleParity, ThreeClasses) {
  expect_gpu_parity("cls3", "configs/yolov3_mbv1_cls3.yml", "cls3/labels.txt");
}

}  // namespace
}  // namespace tx2yolo
#endif  // TX2YOLO_WITH_CUDA
