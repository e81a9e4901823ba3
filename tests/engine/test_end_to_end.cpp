// CPU end-to-end regression on a small seeded model: the Detector's output on
// a synthetic image must stay what it was when the golden file was recorded.
// Regenerate tests/data/cpu_e2e_golden.json (after an intended change only)
// with: TX2YOLO_UPDATE_GOLDEN=1 build/tests/tx2yolo_tests --gtest_filter='EndToEnd.*'
#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "engine/detector.h"
#include "tests/test_util.h"
#include "weights/architecture.h"

namespace tx2yolo {
namespace {

const std::string kGolden = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/cpu_e2e_golden.json";

using testing_util::synthetic_scene;

std::string write_seeded_model(const testing_util::TempDir& dir) {
  return testing_util::write_random_model(dir, ArchitectureSpec::scaled(0.125, 3), 1234);
}

nlohmann::json to_json(const std::vector<Detection>& dets) {
  nlohmann::json j = nlohmann::json::array();
  for (const Detection& d : dets)
    j.push_back({{"class_id", d.class_id}, {"score", d.score}, {"box", {d.x1, d.y1, d.x2, d.y2}}, {"index", d.box_index}});
  return j;
}

TEST(EndToEnd, SeededModelMatchesRecordedDetections) {
  testing_util::TempDir dir;
  DetectorOptions opt;
  opt.input_h = 320;
  opt.input_w = 416;  // not square: exercises separate h and w everywhere
  opt.backend = BackendKind::kCpu;
  Detector det(write_seeded_model(dir), opt);
  const std::vector<Detection> dets = det.detect(synthetic_scene());
  ASSERT_FALSE(dets.empty());

  if (std::getenv("TX2YOLO_UPDATE_GOLDEN")) {
    std::ofstream(kGolden) << to_json(dets).dump(1) << "\n";
    GTEST_SKIP() << "rewrote " << kGolden;
  }
  const auto golden = nlohmann::json::parse(testing_util::read_text(kGolden));
  ASSERT_EQ(golden.size(), dets.size());
  for (std::size_t i = 0; i < dets.size(); ++i) {
    const auto& g = golden[i];
    EXPECT_EQ(dets[i].class_id, g.at("class_id").get<int>()) << "row " << i;
    EXPECT_EQ(dets[i].box_index, g.at("index").get<int>()) << "row " << i;
    EXPECT_NEAR(dets[i].score, g.at("score").get<float>(), 1e-5) << "row " << i;
    const float box[4] = {dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2};
    for (int k = 0; k < 4; ++k) {
      const float want = g.at("box")[k].get<float>();
      EXPECT_NEAR(box[k], want, 1e-3f + 1e-5f * std::fabs(want)) << "row " << i << " coord " << k;
    }
  }
}

TEST(EndToEnd, DetectionsAreGroupedByClassInsideTheImage) {
  testing_util::TempDir dir;
  DetectorOptions opt;
  opt.input_h = opt.input_w = 320;
  Detector det(write_seeded_model(dir), opt);
  const cv::Mat img = synthetic_scene();
  const auto dets = det.detect(img);
  ASSERT_FALSE(dets.empty());
  EXPECT_EQ(det.backend(), BackendKind::kCpu);
  EXPECT_EQ(det.input_tensor().size(), 3u * 320 * 320);
  EXPECT_EQ(det.tensor("yolo_head.yolo_output.0").size(), 24u * 10 * 10);
  ASSERT_LE(dets.size(), 100u);  // keep_top_k
  for (std::size_t i = 0; i < dets.size(); ++i) {
    const Detection& d = dets[i];
    EXPECT_GE(d.x1, 0.f);
    EXPECT_GE(d.y1, 0.f);
    EXPECT_LE(d.x2, img.cols - 1.f);  // one-sided clip at img_w - 1
    EXPECT_LE(d.y2, img.rows - 1.f);
    EXPECT_GT(d.score, det.config().nms.score_threshold);
    if (i > 0) {
      EXPECT_LE(dets[i - 1].class_id, d.class_id);
      if (dets[i - 1].class_id == d.class_id) {
        EXPECT_GE(dets[i - 1].score, d.score);
      }
    }
  }
}

TEST(EndToEnd, BatchOfImagesGivesEachImageItsOwnSingleImageResult) {
  // Three images of different sizes in one batch-3 run (and two in a later
  // partial batch) give what batch-1 runs give for each: exactly on the
  // reference kernels; on the default CPU path within FP32 rounding, since
  // oneDNN's Winograd convs tile a batch of three differently from one image
  // (engine/onednn_backend.h).
  testing_util::TempDir dir;
  const std::string model = write_seeded_model(dir);
  for (const CpuConvs convs : {CpuConvs::kReference, CpuConvs::kAuto}) {
    SCOPED_TRACE(cpu_convs_name(convs));
    const float score_tol = convs == CpuConvs::kReference ? 0.f : 1e-6f;
    const float px_tol = convs == CpuConvs::kReference ? 0.f : 1e-3f;
    DetectorOptions one, three;
    one.input_h = one.input_w = three.input_h = three.input_w = 320;
    one.backend = three.backend = BackendKind::kCpu;
    one.cpu_convs = three.cpu_convs = convs;
    three.batch = 3;
    Detector single(model, one), batched(model, three);
    EXPECT_EQ(batched.batch(), 3);
    const cv::Mat a = synthetic_scene();
    cv::Mat b, c;
    cv::resize(a, b, cv::Size(300, 200));
    cv::flip(a, c, 1);
    c = c(cv::Rect(10, 20, c.cols - 30, c.rows - 40)).clone();
    const auto expect_same = [&](const std::vector<Detection>& x, const std::vector<Detection>& y) {
      testing_util::expect_same_detections(y, x, score_tol, px_tol);
      for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) EXPECT_EQ(x[i].box_index, y[i].box_index);
    };
    const auto all = batched.detect_batch({a, b, c});
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(batched.tensor("yolo_head.yolo_output.0").size(), 3u * 24 * 10 * 10);
    const std::vector<cv::Mat> images = {a, b, c};
    for (std::size_t i = 0; i < images.size(); ++i) {
      SCOPED_TRACE(i);
      const auto want = single.detect(images[i]);
      EXPECT_FALSE(want.empty());
      expect_same(all[i], want);
    }
    const auto partial = batched.detect_batch({c, a});
    ASSERT_EQ(partial.size(), 2u);
    expect_same(partial[0], single.detect(c));
    expect_same(partial[1], single.detect(a));
    EXPECT_THROW(batched.detect_batch({a, b, c, a}), Error);
    EXPECT_THROW(batched.detect_batch({}), Error);
  }
  DetectorOptions bad;
  bad.backend = BackendKind::kCpu;
  bad.batch = 0;
  EXPECT_THROW(Detector(model, bad), Error);
  bad.batch = kMaxBatch + 1;
  EXPECT_THROW(Detector(model, bad), Error);
}

TEST(EndToEnd, ThresholdOverridesApply) {
  testing_util::TempDir dir;
  const std::string model = write_seeded_model(dir);
  DetectorOptions opt;
  opt.input_h = opt.input_w = 320;
  opt.keep_top_k = -1;  // keep everything, to see what the other overrides remove
  Detector all(model, opt);
  const auto base = all.detect(synthetic_scene());
  ASSERT_GT(base.size(), 10u);
  float lo = 1.f, hi = 0.f;
  for (const Detection& d : base) {
    lo = std::min(lo, d.score);
    hi = std::max(hi, d.score);
  }
  ASSERT_LT(lo, hi);

  opt.keep_top_k = 5;
  EXPECT_EQ(Detector(model, opt).detect(synthetic_scene()).size(), 5u);

  opt.keep_top_k = -1;
  opt.score_threshold = 0.5f * (lo + hi);  // between the weakest and the strongest detection
  const auto strict = Detector(model, opt).detect(synthetic_scene());
  EXPECT_FALSE(strict.empty());
  EXPECT_LT(strict.size(), base.size());
  for (const Detection& d : strict) EXPECT_GT(d.score, *opt.score_threshold);

  opt.score_threshold.reset();
  opt.nms_threshold = 0.05f;  // suppress almost any overlap: fewer survivors
  EXPECT_LT(Detector(model, opt).detect(synthetic_scene()).size(), base.size());

  opt.nms_threshold.reset();
  opt.conf_threshold = 1.f;  // no objectness reaches 1: everything is gated
  EXPECT_TRUE(Detector(model, opt).detect(synthetic_scene()).empty());

  opt.conf_threshold.reset();
  opt.score_threshold = 1.5f;
  EXPECT_THROW(Detector(model, opt), Error);
}

TEST(EndToEnd, RejectsBadImagesAndSizes) {
  testing_util::TempDir dir;
  const std::string model = write_seeded_model(dir);
  DetectorOptions opt;
  opt.input_h = 320;
  opt.input_w = 320;
  Detector det(model, opt);
  EXPECT_THROW(det.detect(cv::Mat()), Error);
  EXPECT_THROW(det.detect(cv::Mat(10, 10, CV_32FC3)), Error);
  EXPECT_NO_THROW(det.detect(cv::Mat(10, 10, CV_8UC1, cv::Scalar(5))));  // grey is converted
  opt.input_w = 330;
  EXPECT_THROW(Detector(model, opt), Error);
  opt.input_w = 320;
  opt.nms_capacity = 3000;  // not a power of two
  EXPECT_THROW(Detector(model, opt), Error);
}

}  // namespace
}  // namespace tx2yolo

namespace tx2yolo {
namespace {

// The fast CPU convs (DetectorOptions::cpu_convs kGemm) against the
// reference on the bundled demo model and image: the same detections (class,
// score within 1e-4, corners within 0.01 px), heads within relative L2 1e-5,
// and a batch that gives each image exactly its single-image result.
TEST(EndToEnd, GemmConvsKeepTheReferenceDetections) {
  const std::string model = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
  const cv::Mat image = cv::imread(std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg");
  ASSERT_FALSE(image.empty());
  DetectorOptions ref, gemm;
  ref.backend = gemm.backend = BackendKind::kCpu;
  ref.threads = gemm.threads = 2;
  ref.cpu_convs = CpuConvs::kReference;
  gemm.cpu_convs = CpuConvs::kGemm;
  if (!conv2d_cpu_gemm_available()) {
    EXPECT_THROW(Detector(model, gemm), Error);  // refused with the reason, not run as the reference
    GTEST_SKIP() << "this build has no OpenBLAS";
  }
  Detector r(model, ref), g(model, gemm);
  EXPECT_NE(g.backend_description().find("OpenBLAS"), std::string::npos) << g.backend_description();
  const auto rd = r.detect(image), gd = g.detect(image);
  testing_util::expect_same_detections(rd, gd, 1e-4f, 1e-2f);
  for (const HeadConfig& head : r.config().heads) {
    const std::vector<float> a = g.tensor(head.tensor), b = r.tensor(head.tensor);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      den += static_cast<double>(b[i]) * b[i];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-5) << head.tensor;
  }
  DetectorOptions batched = gemm;
  batched.batch = 2;
  Detector b(model, batched);
  cv::Mat flipped;
  cv::flip(image, flipped, 1);
  const auto both = b.detect_batch({image, flipped});
  const auto single_flipped = g.detect(flipped);
  ASSERT_EQ(both.size(), 2u);
  for (const auto& pair : {std::make_pair(&both[0], &gd), std::make_pair(&both[1], &single_flipped)}) {
    ASSERT_EQ(pair.first->size(), pair.second->size());
    for (std::size_t i = 0; i < pair.first->size(); ++i) {
      EXPECT_EQ((*pair.first)[i].score, (*pair.second)[i].score) << i;
      EXPECT_EQ((*pair.first)[i].x1, (*pair.second)[i].x1) << i;
    }
  }
}

}  // namespace
}  // namespace tx2yolo
