// The COCO metric against pycocotools: three generated cases
// (scripts/coco/make_coco_fixture.py, tests/data/coco/) whose 12 numbers
// pycocotools 2.0.8 recorded; hand-made cases for the edges; bad files; and
// COCO ids in `detect --json` and `eval --coco` with a model.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "convert/ppdet_config.h"
#include "core/error.h"
#include "core/file_util.h"
#include "eval/coco_metric.h"
#include "tests/test_util.h"
#include "weights/architecture.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::run_command_stderr;
using testing_util::TempDir;
using testing_util::write_text;

const std::string kData = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/coco/";
const std::string kCli = TX2YOLO_CLI_PATH;

TEST(CocoMetric, EqualsPycocotoolsOnEveryGeneratedCase) {
  for (const char* c : {"a", "b", "c"}) {
    SCOPED_TRACE(c);
    const std::string dir = kData + c + "/";
    const CocoDataset gt = read_coco_annotations(dir + "instances.json");
    const std::vector<CocoBox> dets = read_coco_results(dir + "detections.json", gt);
    std::ifstream in(dir + "pycocotools_stats.json");
    const nlohmann::json expected = nlohmann::json::parse(in);
    EXPECT_EQ(gt.annotations.size(), expected.at("annotations").get<std::size_t>());
    EXPECT_EQ(dets.size(), expected.at("detections").get<std::size_t>());
    const CocoStats s = coco_evaluate(gt, dets);
    for (int i = 0; i < 12; ++i) {
      const double want = expected.at("stats").at(CocoStats::name(i)).get<double>();
      EXPECT_NEAR(s.stats[static_cast<std::size_t>(i)], want, 1e-12) << CocoStats::name(i);
    }
  }
}

// A small annotation file: two images, categories 2 and 5.
std::string small_gt() {
  return R"({"images": [{"id": 1, "file_name": "1.jpg", "width": 200, "height": 200},
                        {"id": 2, "file_name": "2.jpg", "width": 200, "height": 200}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [10, 10, 50, 50], "area": 2500, "iscrowd": 0},
                             {"id": 2, "image_id": 2, "category_id": 5, "bbox": [100, 100, 20, 20], "area": 400, "iscrowd": 0},
                             {"id": 3, "image_id": 2, "category_id": 2, "bbox": [0, 0, 150, 150], "area": 22500, "iscrowd": 0}],
             "categories": [{"id": 5, "name": "b"}, {"id": 2, "name": "a"}]})";
}

TEST(CocoMetric, PerfectDetectionsScoreOneAndMissingAreasAreMinusOne) {
  TempDir dir;
  write_text(dir.file("gt.json"), small_gt());
  const CocoDataset gt = read_coco_annotations(dir.file("gt.json"));
  ASSERT_EQ(gt.categories.size(), 2u);
  EXPECT_EQ(gt.categories[0].id, 2);  // sorted by id
  std::vector<CocoBox> dets = parse_coco_results(
      R"([{"image_id": 1, "category_id": 2, "bbox": [10, 10, 50, 50], "score": 0.9},
          {"image_id": 2, "category_id": 5, "bbox": [100, 100, 20, 20], "score": 0.8},
          {"image_id": 2, "category_id": 2, "bbox": [0, 0, 150, 150], "score": 0.7}])",
      "dets", gt);
  CocoStats s = coco_evaluate(gt, dets);
  for (int i : {0, 1, 2, 3, 4, 5, 8, 9, 10, 11}) EXPECT_DOUBLE_EQ(s.stats[static_cast<std::size_t>(i)], 1.0) << i;
  // No detections: 0 where there is ground truth.
  s = coco_evaluate(gt, {});
  EXPECT_DOUBLE_EQ(s.stats[0], 0.0);
  // Only a small object: medium and large have no ground truth, so -1.
  write_text(dir.file("small.json"), R"({"images": [{"id": 1, "file_name": "1.jpg"}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}],
      "categories": [{"id": 1, "name": "x"}]})");
  const CocoDataset small = read_coco_annotations(dir.file("small.json"));
  s = coco_evaluate(small, parse_coco_results(R"([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 1}])",
                                              "dets", small));
  EXPECT_DOUBLE_EQ(s.stats[3], 1.0);
  EXPECT_DOUBLE_EQ(s.stats[4], -1.0);
  EXPECT_DOUBLE_EQ(s.stats[5], -1.0);
}

TEST(CocoMetric, BadFilesAreRefusedNamingTheEntry) {
  TempDir dir;
  write_text(dir.file("gt.json"), small_gt());
  const CocoDataset gt = read_coco_annotations(dir.file("gt.json"));
  auto refuse = [&](const std::string& text, const std::string& why) {
    try {
      parse_coco_results(text, "dets.json", gt);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refuse(R"({"a": 1})", "a list of detections");
  refuse(R"([1, 2])", "detection 1 is not an object");
  refuse(R"([{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3], "score": 1}])", "\"bbox\" is not [x, y, w, h]");
  refuse(R"([{"image_id": 1, "category_id": 2, "score": 1}])", "lacks \"bbox\"");
  refuse(R"([{"image_id": 9, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}])", "image id 9, which is not in");
  refuse(R"([{"image_id": 1.5, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 1}])", "is not an integer");
  refuse(R"([{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": "high"}])", "\"score\" is not a number");
  refuse("[", "malformed JSON");
  auto refuse_gt = [&](const std::string& text, const std::string& why) {
    write_text(dir.file("bad.json"), text);
    try {
      read_coco_annotations(dir.file("bad.json"));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refuse_gt(R"({"images": []})", "no \"annotations\" list");
  refuse_gt(R"({"images": [{"id": 1, "file_name": "a"}, {"id": 1, "file_name": "b"}], "annotations": [],
               "categories": [{"id": 1, "name": "x"}]})", "images[1]: image id 1 is listed twice");
  refuse_gt(R"({"images": [{"id": 1, "file_name": "a"}], "categories": [{"id": 1, "name": "x"}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1], "area": 1}]})",
            "annotations[0]: category id 3 is not among the categories");
  refuse_gt(R"({"images": [{"id": 1, "file_name": "a"}], "categories": [{"id": 1, "name": "x"}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]})",
            "annotations[0]: no number \"area\"");
}

TEST(CocoCli, EvalOfAResultsFileAndOfAModel) {
  const CommandResult r = run_command(kCli + " eval --coco '" + kData + "a/instances.json' --results '" + kData +
                                      "a/detections.json'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("AP50      Average Precision (AP) [ IoU=0.50      area=   all maxDets=100 ] = 0.3766"),
            std::string::npos)
      << r.output;
  TempDir dir;
  write_text(dir.file("other.json"), R"([{"image_id": 9999, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}])");
  const CommandResult wrong = run_command_stderr(kCli + " eval --coco '" + kData + "a/instances.json' --results '" +
                                                 dir.file("other.json") + "'");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("which is not in"), std::string::npos) << wrong.output;
  const CommandResult both = run_command_stderr(kCli + " eval --coco x.json --voc y");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("--voc or --coco, not both"), std::string::npos) << both.output;

  // With a model: the demo model on its own image, written as a COCO
  // annotation file whose three categories have ids 4, 8, 15. Every
  // detection's category_id is one of them (the classes in id order).
  const cv::Mat image = cv::imread(std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg");
  ASSERT_FALSE(image.empty());
  ASSERT_TRUE(cv::imwrite(dir.file("000000000042.jpg"), image));
  write_text(dir.file("gt.json"),
             cat(R"({"images": [{"id": 42, "file_name": "000000000042.jpg", "width": )", image.cols,
                 R"(, "height": )", image.rows, R"(}],
                    "annotations": [{"id": 1, "image_id": 42, "category_id": 4, "bbox": [229, 108, 90, 124], "area": 11160}],
                    "categories": [{"id": 15, "name": "triangle"}, {"id": 4, "name": "circle"}, {"id": 8, "name": "square"}]})"));
  const CommandResult m = run_command(kCli + " eval --backend cpu --model '" + std::string(TX2YOLO_SOURCE_DIR) +
                                      "/models/demo.safetensors' --coco '" + dir.file("gt.json") + "' --images '" +
                                      dir.path() + "' --detections '" + dir.file("dets.json") + "' --ap-json '" +
                                      dir.file("ap.json") + "'");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const nlohmann::json dets = nlohmann::json::parse(testing_util::read_text(dir.file("dets.json")));
  ASSERT_FALSE(dets.empty());
  for (const auto& d : dets) {
    EXPECT_EQ(d.at("image_id"), 42);
    const int c = d.at("category_id").get<int>();
    EXPECT_TRUE(c == 4 || c == 8 || c == 15) << c;
  }
  // The circle the annotation file holds is found: AP50 of its category is
  // high, and the results file evaluates to the same numbers again.
  const nlohmann::json ap = nlohmann::json::parse(testing_util::read_text(dir.file("ap.json")));
  EXPECT_GT(ap.at("coco").at("AP50").get<double>(), 0.5);
  const CommandResult again = run_command(kCli + " eval --coco '" + dir.file("gt.json") + "' --results '" +
                                          dir.file("dets.json") + "' --ap-json '" + dir.file("ap2.json") + "'");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const nlohmann::json ap2 = nlohmann::json::parse(testing_util::read_text(dir.file("ap2.json")));
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(ap2.at("coco").at(CocoStats::name(i)).get<double>(), ap.at("coco").at(CocoStats::name(i)).get<double>(),
                1e-6)
        << CocoStats::name(i);
}

TEST(CocoCli, DetectJsonUsesCocoIdsForCocoModels) {
  TempDir dir;
  // A COCO model: 80 classes named as COCO's (random weights; only the ids matter here).
  ArchitectureSpec spec = full_width_spec("separable", 80);
  ArchitectureGraph arch = build_yolov3_mobilenet_v1(spec);
  std::string which;
  arch.config.classes = paddle::default_labels(80, &which);
  const std::string model = dir.file("coco.safetensors");
  write_model_file(model, arch.graph, arch.config, {{"source", "test"}}, make_random_weights(arch, 3));
  const cv::Mat image = cv::imread(std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg");
  ASSERT_TRUE(cv::imwrite(dir.file("000000397133.jpg"), image));
  const CommandResult r = run_command(kCli + " detect '" + dir.file("000000397133.jpg") + "' --model '" + model +
                                      "' --backend cpu --input-size 64 --json '" + dir.file("d.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json dets = nlohmann::json::parse(testing_util::read_text(dir.file("d.json")));
  ASSERT_FALSE(dets.empty());
  // COCO's ids skip 12, 26, 29, 30, 45, 66, 68, 69, 71 and 83.
  const std::vector<int> skipped = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83};
  for (const auto& d : dets) {
    EXPECT_EQ(d.at("image_id"), 397133);
    const int id = d.at("category_id").get<int>();
    EXPECT_TRUE(id >= 1 && id <= 90) << id;
    EXPECT_EQ(std::count(skipped.begin(), skipped.end(), id), 0) << id;
    const std::string name = d.at("category_name");
    if (name == "person") {
      EXPECT_EQ(id, 1);
    } else if (name == "toothbrush") {
      EXPECT_EQ(id, 90);
    } else if (name == "stop sign") {
      EXPECT_EQ(id, 13);
    }
  }
  // Another model keeps class indices, and a name that is not a number keeps the position.
  const CommandResult demo = run_command(kCli + " detect '" + std::string(TX2YOLO_SOURCE_DIR) +
                                         "/assets/demo.jpg' --backend cpu --json '" + dir.file("demo.json") + "'");
  ASSERT_EQ(demo.exit_code, 0) << demo.output;
  for (const auto& d : nlohmann::json::parse(testing_util::read_text(dir.file("demo.json")))) {
    EXPECT_EQ(d.at("image_id"), 0);
    EXPECT_LT(d.at("category_id").get<int>(), 3);
  }
}

}  // namespace
}  // namespace tx2yolo
