// No silent defaults in convert: anchors, input size, normalisation,
// thresholds and class names each come from the program, the config (or
// the export's own infer_cfg.yml), a flag, or an explicit --defaults; a
// missing one is one error naming every missing value and how to give it.
// inspect shows where each value came from. Also the bounded JSON member
// reader that takes a COCO annotation file's categories.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/test_util.h"
#include "weights/json_guard.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::run_command_stderr;
using testing_util::TempDir;
using testing_util::write_text;

const std::string kCli = TX2YOLO_CLI_PATH;
const std::string kData = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/paddle/";

std::string q(const std::string& s) { return "'" + s + "'"; }

CommandResult convert(const std::string& args) { return run_command_stderr(kCli + " convert " + args); }

// The one error line of a failed command (run_command_stderr keeps stderr).
void expect_one_error_line(const CommandResult& r, const std::string& text) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "more than one line: " << r.output;
  EXPECT_NE(r.output.find(text), std::string::npos) << r.output;
}

TEST(ConvertSources, NothingGivenIsOneErrorNamingEveryValue) {
  TempDir dir;
  const CommandResult r = convert(q(kData + "std/model.pdparams") + " -o " + q(dir.file("m.safetensors")));
  expect_one_error_line(r, "convert: no source for anchors (YOLOv3Head.anchors in --config");
  for (const char* text : {"input size (--input-size H W", "normalisation (NormalizeImage", "thresholds (",
                           "class names (--labels FILE", "--defaults voc|coco"})
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  EXPECT_FALSE(file_exists(dir.file("m.safetensors")));
}

TEST(ConvertSources, DefaultsAreAcceptedOnlyWhenAskedAndInspectSaysSo) {
  TempDir dir;
  const std::string model = dir.file("m.safetensors");
  const CommandResult r = run_command(kCli + " convert " + q(kData + "std/model.pdparams") + " -o " + q(model) +
                                      " --defaults voc");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("anchors       from --defaults voc: PaddleDetection's published YOLOv3 anchors"),
            std::string::npos)
      << r.output;
  const ModelFile m = ModelFile::load(model);
  EXPECT_EQ(m.config().classes.size(), 20u);
  EXPECT_EQ(m.config().classes[0], "aeroplane");
  EXPECT_EQ(m.config().input_h, 608);
  const CommandResult i = run_command(kCli + " inspect " + q(model));
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("source of class_names: --defaults voc: VOC's 20 class names"), std::string::npos)
      << i.output;
  EXPECT_NE(i.output.find("source of input_size: --defaults voc: 608x608"), std::string::npos) << i.output;

  // A flag still wins over the defaults, and says so.
  const CommandResult sized = run_command(kCli + " convert " + q(kData + "std/model.pdparams") + " -o " + q(model) +
                                          " --defaults voc --input-size 320");
  ASSERT_EQ(sized.exit_code, 0) << sized.output;
  EXPECT_NE(sized.output.find("input_size    from --input-size"), std::string::npos) << sized.output;
  EXPECT_EQ(ModelFile::load(model).config().input_h, 320);

  // VOC's or COCO's names only for their class counts.
  expect_one_error_line(convert(q(kData + "cls3/model.pdparams") + " -o " + q(dir.file("c.safetensors")) +
                                " --defaults coco"),
                        "--defaults coco names 80 classes but the model has 3; give --labels FILE");
  expect_one_error_line(convert(q(kData + "std/model.pdparams") + " -o " + q(model) + " --defaults imagenet"),
                        "--defaults");
}

TEST(ConvertSources, ATrainingConfigWhoseLabelListIsMissingNamesIt) {
  TempDir dir;
  const CommandResult r = convert(q(kData + "std/model.pdparams") + " -o " + q(dir.file("m.safetensors")) +
                                  " --config " + q(kData + "configs/yolov3_mbv1_std_voc.yml"));
  // Everything else is in the config; only the class names are missing.
  expect_one_error_line(r, "convert: no source for class names (");
  EXPECT_NE(r.output.find("TestDataset.anno_path label_list.txt, which was not found"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("anchors ("), std::string::npos) << r.output;
  EXPECT_FALSE(file_exists(dir.file("m.safetensors")));
}

TEST(ConvertSources, TheDatasetLabelListIsFoundFromTheConfigsFolder) {
  // cls3's config names tests/data/paddle/cls3/labels.txt, a path from the
  // repository root, as PaddleDetection's are from its own folder. Run from
  // elsewhere, it is found above the config's folder.
  TempDir dir;
  const std::string model = dir.file("m.safetensors");
  const CommandResult r = run_command("cd " + q(dir.path()) + " && " + kCli + " convert " +
                                      q(kData + "cls3/model.pdparams") + " -o " + q(model) + " --config " +
                                      q(kData + "configs/yolov3_mbv1_cls3.yml"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ModelFile::load(model).config().classes, (std::vector<std::string>{"person", "car", "dog"}));
  EXPECT_NE(r.output.find("class_names   from "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cls3/labels.txt (TestDataset.anno_path tests/data/paddle/cls3/labels.txt in "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("anchors       from " + kData + "configs/yolov3_mbv1_cls3.yml: YOLOv3Head.anchors"),
            std::string::npos)
      << r.output;
}

TEST(ConvertSources, AnExportUsesItsOwnProgramAndInferCfg) {
  TempDir dir;
  const std::string model = dir.file("m.safetensors");
  const CommandResult r = run_command(kCli + " convert " + q(kData + "std/export") + " -o " + q(model));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("note: the export's own config: " + kData + "std/export/infer_cfg.yml"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("anchors       from the program's yolo_box ops"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("thresholds    from the program's NMS op"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("class_names   from " + kData + "std/export/infer_cfg.yml: label_list"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("normalisation from " + kData + "std/export/infer_cfg.yml: Preprocess NormalizeImage"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ModelFile::load(model).config().input_h, 128);
  // The static 0.x export has no infer_cfg.yml: its normalisation and names
  // have no source.
  expect_one_error_line(convert(q(kData + "std/static_export") + " -o " + q(dir.file("s.safetensors"))),
                        "no source for normalisation");
}

TEST(ConvertSources, LabelsFromACocoAnnotationFileInIdOrder) {
  TempDir dir;
  const std::string coco = dir.file("instances.json");
  write_text(coco, R"({"images": [{"id": 1, "file_name": "a.jpg"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 18, "bbox": [1, 2, 3, 4],
                     "segmentation": [[1, 2, 3, 4, 5, 6]], "area": 12, "iscrowd": 0}],
    "categories": [{"id": 18, "name": "dog", "supercategory": "animal"},
                   {"id": 1, "name": "person", "supercategory": "person"},
                   {"id": 3, "name": "car", "supercategory": "vehicle"}]})");
  const std::string model = dir.file("m.safetensors");
  const CommandResult r = run_command(kCli + " convert " + q(kData + "cls3/model.pdparams") + " -o " + q(model) +
                                      " --config " + q(kData + "configs/yolov3_mbv1_cls3.yml") + " --labels " + q(coco));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ModelFile::load(model).config().classes, (std::vector<std::string>{"person", "car", "dog"}));
  // Too few categories for the head, and a file with none.
  write_text(dir.file("two.json"), R"({"categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]})");
  expect_one_error_line(convert(q(kData + "cls3/model.pdparams") + " -o " + q(model) + " --defaults voc --labels " +
                                q(dir.file("two.json"))),
                        "two.json: 2 categories, but the model has 3 classes");
  write_text(dir.file("none.json"), R"({"images": []})");
  expect_one_error_line(convert(q(kData + "cls3/model.pdparams") + " -o " + q(model) + " --defaults voc --labels " +
                                q(dir.file("none.json"))),
                        "none.json: a COCO annotation file with no \"categories\" list");
}

TEST(JsonMembers, KeepsOnlyTheNamedMembersWithoutTheSkippedKeys) {
  const std::string text = R"({"big": [1, 2, 3, {"x": [4, 5]}], "keep": [{"id": 1, "seg": [[1, 2]], "v": {"a": 1}},
    {"id": 2, "seg": 7}], "n": 5, "s": "t"})";
  const nlohmann::json j = parse_json_members(text, "doc", {"keep", "n", "absent"}, {"seg"});
  EXPECT_EQ(j, nlohmann::json::parse(R"({"keep": [{"id": 1, "v": {"a": 1}}, {"id": 2}], "n": 5})"));
  EXPECT_THROW(parse_json_members(R"({"keep": {"a": 1, "a": 2}})", "doc", {"keep"}), Error);
  EXPECT_THROW(parse_json_members(R"({"keep": 1, "keep": 2})", "doc", {"keep"}), Error);
  // A duplicate inside a skipped member is not read, so not refused.
  EXPECT_NO_THROW(parse_json_members(R"({"other": {"a": 1, "a": 2}, "keep": 1})", "doc", {"keep"}));
  EXPECT_THROW(parse_json_members(R"({"keep": [1, 2)", "doc", {"keep"}), Error);
  EXPECT_THROW(parse_json_members(std::string(100, '[') + std::string(100, ']'), "doc", {"keep"}), Error);
}

}  // namespace
}  // namespace tx2yolo
