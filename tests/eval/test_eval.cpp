// tx2yolo eval: PaddleDetection's VOC metric and dataset reader.
//
// The hand-made cases' expected mAPs were computed by PaddleDetection 2.6.0's
// own ppdet.metrics.map_utils.DetectionMAP on the same boxes (11point and
// integral, IoU 0.5, difficult ignored, is_bbox_normalized false), so they
// hold the C++ metric to PaddleDetection's exact rules: strict IoU > 0.5 with
// the +1 convention, difficult ground truth ignored both ways, duplicates
// counted as false positives, classes without ground truth left out of the
// mean, classes without detections counted as 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "tests/test_util.h"
#include "eval/voc_metric.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::TempDir;
using testing_util::write_text;

struct Gt {
  int cls;
  float x1, y1, x2, y2;
  int difficult;
};
struct Det {
  int cls;
  float score, x1, y1, x2, y2;
};
struct ImageCase {
  std::vector<Gt> gt;
  std::vector<Det> det;
};

std::pair<double, double> run_case(const std::vector<ImageCase>& images) {
  VocMetric metric({"a", "b", "c"});
  for (const ImageCase& c : images) {
    VocImage im;
    im.width = im.height = 320;
    for (const Gt& g : c.gt) im.objects.push_back({g.cls, g.x1, g.y1, g.x2, g.y2, g.difficult != 0});
    std::vector<Detection> dets;
    for (const Det& d : c.det) {
      Detection x;
      x.class_id = d.cls;
      x.score = d.score;
      x.x1 = d.x1;
      x.y1 = d.y1;
      x.x2 = d.x2;
      x.y2 = d.y2;
      dets.push_back(x);
    }
    metric.add_image(im, dets, 320, 320);
  }
  return {metric.accumulate("11point").map, metric.accumulate("integral").map};
}

void expect_map(const std::vector<ImageCase>& images, double eleven, double area) {
  const auto r = run_case(images);
  EXPECT_NEAR(r.first, eleven, 1e-12);
  EXPECT_NEAR(r.second, area, 1e-12);
}

TEST(VocMetric, PerfectDetections) {
  expect_map({{{{0, 10, 10, 50, 50, 0}, {0, 60, 60, 100, 100, 0}}, {{0, .9f, 10, 10, 50, 50}, {0, .8f, 61, 60, 100, 101}}}},
             1.0, 1.0);
}

TEST(VocMetric, AMissHalvesTheRecall) {
  expect_map({{{{0, 10, 10, 50, 50, 0}, {0, 60, 60, 100, 100, 0}}, {{0, .9f, 10, 10, 50, 50}}}}, 0.5454545454545454, 0.5);
}

TEST(VocMetric, AFalsePositiveAboveTheTruePositive) {
  expect_map({{{{0, 10, 10, 50, 50, 0}}, {{0, .9f, 200, 200, 240, 240}, {0, .8f, 10, 10, 50, 50}}}}, 0.5, 0.5);
}

TEST(VocMetric, DifficultObjectsAreIgnoredBothWays) {
  expect_map({{{{0, 10, 10, 50, 50, 1}, {0, 60, 60, 100, 100, 0}}, {{0, .95f, 10, 10, 50, 50}, {0, .7f, 60, 60, 100, 100}}}},
             1.0, 1.0);
}

TEST(VocMetric, DuplicateDetectionsAreFalsePositives) {
  // Every duplicate is scored lower than the first match, so AP stays 1.
  expect_map({{{{0, 10, 10, 50, 50, 0}}, {{0, .9f, 10, 10, 50, 50}, {0, .85f, 11, 11, 51, 51}, {0, .5f, 10, 10, 49, 49}}}},
             1.0, 1.0);
  // A duplicate above the match: precision 1 then 1/2, AP still 1 (11-point
  // takes the maximum to the right); integral sees the recall step first.
  VocMetric m({"a"});
  VocImage im;
  im.width = im.height = 100;
  im.objects.push_back({0, 10, 10, 50, 50, false});
  Detection first, dup;
  first.score = .9f;
  first.x1 = first.y1 = 10;
  first.x2 = first.y2 = 50;
  dup = first;
  dup.score = .95f;
  dup.x1 = 11;
  m.add_image(im, {first, dup}, 100, 100);  // NMS order: first is matched, the higher-scored dup is not
  EXPECT_EQ(m.accumulate("11point").classes[0].detections, 2);
  EXPECT_NEAR(m.accumulate("integral").map, 0.5, 1e-12);
}

TEST(VocMetric, AClassWithoutGroundTruthIsLeftOut) {
  expect_map({{{{0, 10, 10, 50, 50, 0}}, {{0, .9f, 10, 10, 50, 50}, {2, .99f, 10, 10, 50, 50}}}}, 1.0, 1.0);
}

TEST(VocMetric, AClassWithoutDetectionsCountsAsZero) {
  expect_map({{{{0, 10, 10, 50, 50, 0}, {1, 60, 60, 100, 100, 0}}, {{0, .9f, 10, 10, 50, 50}}}}, 0.5, 0.5);
}

TEST(VocMetric, IouMustExceedOneHalfWithThePlusOneConvention) {
  // IoU exactly 0.5 with +1 areas: not a match.
  expect_map({{{{0, 0, 0, 9, 9, 0}}, {{0, .9f, 0, 0, 9, 19}, {0, .8f, 0, 0, 19, 9}}}}, 0.0, 0.0);
  // 100 / 190 with +1 areas (a match), exactly 0.5 without: +1 decides.
  expect_map({{{{0, 0, 0, 9, 9, 0}}, {{0, .9f, 0, 0, 9, 18}}}}, 1.0, 1.0);
}

TEST(VocMetric, TwoImagesMixedAsPaddleDetectionComputesThem) {
  expect_map({{{{0, 10, 10, 50, 50, 0}, {1, 100, 100, 150, 140, 0}},
               {{1, .6f, 100, 100, 150, 140}, {0, .3f, 12, 12, 52, 52}, {0, .7f, 300, 300, 310, 310}}},
              {{{0, 20, 20, 80, 80, 0}, {2, 5, 5, 30, 30, 1}},
               {{0, .65f, 20, 20, 80, 80}, {2, .9f, 5, 5, 30, 30}, {1, .95f, 0, 0, 10, 10}}}},
             0.5833333333333334, 0.5416666666666666);
}

// ---- dataset reader --------------------------------------------------------------

void write_image(const std::string& path, int w, int h) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(40, 90, 160));
  ASSERT_TRUE(cv::imwrite(path, m));
}

std::string xml(int w, int h, const std::string& objects) {
  return "<annotation><size><width>" + std::to_string(w) + "</width><height>" + std::to_string(h) +
         "</height></size>" + objects + "</annotation>";
}

std::string object(const std::string& name, int x1, int y1, int x2, int y2, int difficult = 0) {
  return "<object><name>" + name + "</name><difficult>" + std::to_string(difficult) + "</difficult><bndbox><xmin>" +
         std::to_string(x1) + "</xmin><ymin>" + std::to_string(y1) + "</ymin><xmax>" + std::to_string(x2) +
         "</xmax><ymax>" + std::to_string(y2) + "</ymax></bndbox></object>";
}

struct TinyVoc {
  TempDir dir;
  TinyVoc() {
    for (const char* d : {"/JPEGImages", "/Annotations", "/ImageSets", "/ImageSets/Main"})
      EXPECT_EQ(std::system(("mkdir -p '" + dir.path() + d + "'").c_str()), 0);
    write_text(dir.file("label_list.txt"), "a\nb\nc\n");
  }
  void add(const std::string& id, const std::string& annotation) {
    write_image(dir.file("JPEGImages/" + id + ".jpg"), 64, 48);
    write_text(dir.file("Annotations/" + id + ".xml"), annotation);
  }
  void split(const std::string& ids) { write_text(dir.file("ImageSets/Main/test.txt"), ids); }
};

TEST(VocDatasetReader, ClipsBoxesAndSkipsWhatPaddleDetectionSkips) {
  TinyVoc v;
  v.add("one", xml(64, 48, object("a", -5, 2, 70, 60) + object("b", 10, 10, 10, 20) + object("c", 1, 1, 9, 9, 1)));
  v.add("empty", xml(64, 48, ""));
  v.split("one\nempty\n");
  const VocDataset ds = read_voc_dataset(v.dir.path(), "test", {"a", "b", "c"});
  ASSERT_EQ(ds.images.size(), 1u);
  EXPECT_EQ(ds.skipped_empty, 1);
  EXPECT_EQ(ds.skipped_boxes, 1);  // x2 == x1
  ASSERT_EQ(ds.images[0].objects.size(), 2u);
  const VocObject& o = ds.images[0].objects[0];
  EXPECT_EQ(o.x1, 0.f);
  EXPECT_EQ(o.x2, 63.f);
  EXPECT_EQ(o.y2, 47.f);
  EXPECT_TRUE(ds.images[0].objects[1].difficult);
}

TEST(VocDatasetReader, BadDatasetsGiveClearErrors) {
  auto throws_with = [](const std::function<void()>& f, const std::string& text) {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error; expected " << text;
  };
  TinyVoc v;
  v.add("x", xml(64, 48, object("zebra", 1, 1, 9, 9)));
  v.split("x\n");
  throws_with([&] { read_voc_dataset(v.dir.path(), "test", {"a", "b", "c"}); }, "object class \"zebra\"");
  write_text(v.dir.file("Annotations/x.xml"), "<annotation><size><width>64</wid");
  throws_with([&] { read_voc_dataset(v.dir.path(), "test", {"a", "b", "c"}); }, "not valid XML");
  v.split("missing\n");
  throws_with([&] { read_voc_dataset(v.dir.path(), "test", {"a", "b", "c"}); }, "missing.jpg: image listed in");
  throws_with([&] { read_voc_dataset(v.dir.path(), "val", {"a", "b", "c"}); }, "no such split list");
  throws_with([&] { read_voc_dataset(v.dir.path(), "test", {"a", "b"}); }, "3 classes, but the model has 2");
}

// ---- the demo model and PaddleDetection's recorded mAP -------------------------------

const std::string kShapes = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/shapes_voc";

TEST(EvalParity, APaddleTrainedCheckpointMatchesPaddleDetectionsOwnMap) {
  // The demo model's checkpoint, which PaddleDetection trained on the shapes
  // dataset (scripts/paddle/make_demo_model.sh), converted here, and the mAP
  // PaddleDetection's own Trainer.evaluate() recorded for it on the test split.
  const std::string run = kShapes + "/paddle_demo";
  const std::string recorded_path = run + "/paddle_eval.json";
  ASSERT_TRUE(is_regular_file(recorded_path));
  std::ifstream in(recorded_path);
  const nlohmann::json recorded = nlohmann::json::parse(in);
  TempDir dir;
  const std::string model = dir.file("demo.safetensors");
  const CommandResult c = run_command(std::string(TX2YOLO_CLI_PATH) + " convert '" + run + "/model_final.pdparams' -o '" +
                                      model + "' --config '" + std::string(TX2YOLO_SOURCE_DIR) +
                                      "/scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml' --labels '" + kShapes +
                                      "/label_list.txt'");
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const std::string ap = dir.file("ap.json");
  const CommandResult r = run_command(std::string(TX2YOLO_CLI_PATH) + " eval --backend cpu --model '" + model +
                                      "' --voc '" + kShapes + "' --ap-json '" + ap + "' --detections '" +
                                      dir.file("dets.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream table_in(ap);
  const nlohmann::json table = nlohmann::json::parse(table_in);
  EXPECT_EQ(table["images"].get<int>(), recorded["images"].get<int>());
  std::ifstream dets_in(dir.file("dets.json"));
  EXPECT_GT(nlohmann::json::parse(dets_in).size(), 500u) << "too few detections for the comparison to mean much";
  for (const char* type : {"11point", "integral"}) {
    SCOPED_TRACE(type);
    // Within 0.1 AP point: our preprocessing may round a pixel one level
    // differently from pip's OpenCV (docs/testing.md).
    EXPECT_NEAR(table[type]["mAP"].get<double>(), recorded[type]["mAP"].get<double>(), 1e-3);
    for (const auto& kv : recorded[type]["per_class_ap"].items())
      EXPECT_NEAR(table[type]["per_class"][kv.key()]["ap"].get<double>(), kv.value().get<double>(), 2e-3) << kv.key();
  }
}


TEST(DemoModel, FindsEveryObjectOfTheDemoPhotographAboveHalfConfidence) {
  // assets/demo.jpg is one of the committed test images (the model never saw
  // it in training); its annotation is found by content. Every object that
  // is not difficult must be detected with its class, IoU > 0.5 and a score
  // above 0.5, by the bundled model on the CPU.
  const std::string image = std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg";
  const std::string model = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
  const std::string demo_bytes = testing_util::read_text(image);
  DetectorOptions opt;
  opt.backend = BackendKind::kCpu;
  Detector det(model, opt);
  const VocDataset ds = read_voc_dataset(kShapes, "test", det.config().classes);
  const VocImage* truth = nullptr;
  for (const VocImage& im : ds.images)
    if (testing_util::read_text(im.image_path) == demo_bytes) truth = &im;
  ASSERT_NE(truth, nullptr) << "assets/demo.jpg is not one of the test images in " << kShapes;
  const cv::Mat img = cv::imread(image);
  ASSERT_FALSE(img.empty());
  const std::vector<Detection> dets = det.detect(img);
  int objects = 0;
  for (const VocObject& o : truth->objects) {
    if (o.difficult) continue;
    ++objects;
    float best = 0.f, best_score = 0.f;
    for (const Detection& d : dets) {
      if (d.class_id != o.class_id || d.score <= 0.5f) continue;
      const float iw = std::min(d.x2, o.x2) - std::max(d.x1, o.x1), ih = std::min(d.y2, o.y2) - std::max(d.y1, o.y1);
      if (iw <= 0 || ih <= 0) continue;
      const float iou = iw * ih / ((d.x2 - d.x1) * (d.y2 - d.y1) + (o.x2 - o.x1) * (o.y2 - o.y1) - iw * ih);
      if (iou > best) {
        best = iou;
        best_score = d.score;
      }
    }
    EXPECT_GT(best, 0.5f) << ds.classes[static_cast<std::size_t>(o.class_id)] << " at " << o.x1 << "," << o.y1 << " "
                          << o.x2 << "," << o.y2 << " (best score " << best_score << ")";
  }
  EXPECT_GE(objects, 3) << "the demo photograph should show several objects";
}

TEST(EvalCli, BadInputIsOneErrorLineAndNoOutput) {
  TempDir dir;
  const std::string cli = std::string(TX2YOLO_CLI_PATH) + " eval --backend cpu --model '" +
                          std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors'";
  auto expect_error = [&](const std::string& args, const std::string& text) {
    const CommandResult r = testing_util::run_command_stderr(cli + " " + args + " --ap-json '" + dir.file("ap.json") + "'");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(text), std::string::npos) << r.output;
    EXPECT_FALSE(file_exists(dir.file("ap.json")));
  };
  expect_error("--voc '" + dir.file("nowhere") + "'", "not a folder");
  expect_error("--voc '" + dir.path() + "'", "no such split list");
  expect_error("--voc '" + dir.path() + "' --precision fp16", "precision fp16 needs the CUDA backend");
}

}  // namespace
}  // namespace tx2yolo
