// The Paddle converter against fixtures made by real Paddle
// (scripts/paddle/make_fixtures.py, tests/data/paddle/README.md):
//   - every checkpoint format of one model converts to the same tensors;
//   - the converted models match Paddle layer by layer (relative L2 <= 1e-5)
//     and detection by detection, for every variant at both input sizes;
//   - bad input (truncated or hostile pickles, missing parameters, wrong
//     shapes, truncated tensor records, protobuf garbage) gives one clear
//     error, a non-zero exit and no output file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/test_util.h"
#include "convert/checkpoint.h"
#include "convert/pickle_reader.h"
#include "convert/ppdet_config.h"
#include "convert/yolov3_mapping.h"
#include "parity/parity.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::TempDir;
using testing_util::write_bytes;
using testing_util::read_text;
using testing_util::write_text;

const std::string kData = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/paddle";
const std::string kCli = TX2YOLO_CLI_PATH;

std::string fixture(const std::string& rel) { return kData + "/" + rel; }

std::string quote(const std::string& s) { return "'" + s + "'"; }

// A string literal with its embedded NUL bytes.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// The fixtures are VOC models whose configs name a dataset label list that is
// not committed (PaddleDetection then uses VOC's names): --defaults voc says
// so. Tests of the defaults themselves call the CLI directly.
CommandResult convert(const std::string& input, const std::string& output, const std::string& extra = "") {
  return run_command(kCli + " convert " + quote(input) + " -o " + quote(output) + " -q --defaults voc " + extra);
}

// Converts and loads, failing the test on a conversion error.
ModelFile convert_and_load(const TempDir& dir, const std::string& input, const std::string& name,
                           const std::string& extra = "") {
  const std::string out = dir.file(name);
  const CommandResult r = convert(input, out, extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return ModelFile::load(out);
}

// Largest |a - b| over all tensors, relative to the largest |b| of each tensor.
double max_relative_difference(const ModelFile& a, const ModelFile& b) {
  EXPECT_EQ(a.tensors().size(), b.tensors().size());
  double worst = 0;
  for (const TensorInfo& t : b.tensors()) {
    if (!a.has_tensor(t.name)) {
      ADD_FAILURE() << "missing tensor " << t.name;
      return INFINITY;
    }
    EXPECT_EQ(a.tensor(t.name).shape, t.shape) << t.name;
    const float* x = a.tensor_data(t.name);
    const float* y = b.tensor_data(t.name);
    double scale = 0, diff = 0;
    for (long long i = 0; i < t.numel(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(y[i])));
      diff = std::max(diff, std::fabs(static_cast<double>(x[i]) - y[i]));
    }
    worst = std::max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

// ---- formats ---------------------------------------------------------------------

TEST(PaddleConvert, EveryFormatOfTheStandardModelConvertsToTheSameTensors) {
  TempDir dir;
  const ModelFile base = convert_and_load(dir, fixture("std/model.pdparams"), "base.safetensors");
  EXPECT_EQ(base.config().head_type, "standard");
  EXPECT_EQ(base.config().classes.size(), 20u);
  const char* others[] = {"std/model_p2.pdparams",  "std/model_nested.pdparams", "std/model_split.pdparams",
                          "std/static_vars",        "std/static_export",         "std/static_export/__model__",
                          "std/export",             "std/export/model.pdmodel",  "std/export/model.pdiparams",
                          "std/pir",                "std/pir/model.json"};
  int i = 0;
  for (const char* other : others) {
    SCOPED_TRACE(other);
    const ModelFile m = convert_and_load(dir, fixture(other), cat("m", i++, ".safetensors"));
    // Programs carry BN epsilon as a float32 attribute (1e-5f), the others
    // the PaddleDetection default 1e-5: a last-bit difference at most.
    EXPECT_LE(max_relative_difference(m, base), 1e-6);
  }
}

TEST(PaddleConvert, SeparableAndPrunedFormatsAgree) {
  TempDir dir;
  const ModelFile sep = convert_and_load(dir, fixture("sep/model.pdparams"), "sep.safetensors");
  EXPECT_EQ(sep.config().head_type, "separable");
  EXPECT_TRUE(sep.has_tensor("neck.yolo_block.0.conv_module.conv1._depthwise_conv.weight"));
  EXPECT_LE(max_relative_difference(convert_and_load(dir, fixture("sep/static_vars"), "s1.safetensors"), sep), 1e-6);
  EXPECT_LE(max_relative_difference(convert_and_load(dir, fixture("sep/export"), "s2.safetensors"), sep), 1e-6);

  const ModelFile pruned = convert_and_load(dir, fixture("pruned/model.pdparams"), "p.safetensors");
  // r578 widths come from the shapes: no flags.
  EXPECT_EQ(pruned.tensor("neck.yolo_block.2.conv_module.conv0.weight").shape, (std::vector<long long>{2, 40, 1, 1}));
  EXPECT_LE(max_relative_difference(convert_and_load(dir, fixture("pruned/export"), "p2.safetensors"), pruned), 1e-6);

  // float64 parameters convert to the same float32 model; float16 ones
  // convert to float16-rounded values and say so.
  EXPECT_EQ(max_relative_difference(convert_and_load(dir, fixture("bad/fp64.pdparams"), "f64.safetensors"), pruned), 0);
  const CommandResult r = run_command(kCli + " convert --defaults voc " + quote(fixture("bad/fp16.pdparams")) + " -o " +
                                      quote(dir.file("f16.safetensors")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("parameters stored as float16 were converted to float32"), std::string::npos) << r.output;
  EXPECT_LE(max_relative_difference(ModelFile::load(dir.file("f16.safetensors")), pruned), 2e-3);
}

TEST(PaddleConvert, ClassCountAndLabelsComeFromTheHeadAndTheLabelsFile) {
  TempDir dir;
  const ModelFile m = convert_and_load(dir, fixture("cls3/model.pdparams"), "c.safetensors",
                                       "--labels " + quote(fixture("cls3/labels.txt")));
  EXPECT_EQ(m.config().classes, (std::vector<std::string>{"person", "car", "dog"}));
  const CommandResult wrong = convert(fixture("std/model.pdparams"), dir.file("w.safetensors"),
                                      "--labels " + quote(fixture("cls3/labels.txt")));
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("3 labels, but the model has 20 classes"), std::string::npos) << wrong.output;
  EXPECT_FALSE(file_exists(dir.file("w.safetensors")));
}

TEST(PaddleConvert, UnknownExtraParametersAreAWarning) {
  TempDir dir;
  const std::string copy = dir.file("vars");
  ASSERT_EQ(std::system(("cp -r " + quote(fixture("std/static_vars")) + " " + quote(copy)).c_str()), 0);
  ASSERT_EQ(std::system(("cp " + quote(copy + "/conv1_weights") + " " + quote(copy + "/my_extra_weights")).c_str()), 0);
  const CommandResult r =
      run_command(kCli + " convert --defaults voc " + quote(copy) + " -o " + quote(dir.file("m.safetensors")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: 1 checkpoint parameter(s) not used by YOLOv3-MobileNetV1: my_extra_weights"),
            std::string::npos)
      << r.output;
}

// ---- parity with Paddle --------------------------------------------------------------

struct ParityCase {
  const char* variant;
  const char* source;
  const char* config;
  const char* labels;
};

void expect_parity(const ParityCase& c) {
  TempDir dir;
  std::string extra = std::string("--config ") + quote(fixture(c.config));
  if (c.labels) extra += " --labels " + quote(fixture(c.labels));
  const std::string model = dir.file("m.safetensors");
  const CommandResult r = convert(fixture(c.source), model, extra);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ModelFile mf = ModelFile::load(model);
  for (const char* ref_name : {"fruits_128x128", "building_96x160"}) {
    SCOPED_TRACE(ref_name);
    const Reference ref = load_reference(fixture(cat("refs/", c.variant, "_", ref_name, ".safetensors")));
    const std::string photo = std::string(ref_name).substr(0, std::string(ref_name).find('_'));
    const cv::Mat image = cv::imread(fixture("images/" + photo + ".jpg"), cv::IMREAD_COLOR);
    ASSERT_FALSE(image.empty());
    const ParityReport p = compare_with_reference(model, ref, ParityOptions(), &image);
    // Every node of the graph has its Paddle counterpart, and each passed.
    std::size_t layer_rows = 0;
    for (const ParityRow& row : p.rows) {
      EXPECT_TRUE(row.passed) << row.name << " rel L2 " << row.rel_l2 << " " << row.note;
      if (row.name != "preprocess" && row.name.compare(0, 9, "yolo_box.") != 0) {
        ++layer_rows;
        EXPECT_LE(row.rel_l2, 1e-5) << row.name;
      }
    }
    EXPECT_EQ(layer_rows, mf.graph().nodes.size());
    EXPECT_EQ(p.rows.front().name, "preprocess");
    // PaddleDetection ran pip's opencv-python, whose cv::resize uses Intel
    // IPP; Debian's OpenCV has no IPP and rounds some pixels one level the
    // other way (docs/testing.md). At most one level, and it is counted.
    EXPECT_TRUE(p.rows.front().passed) << p.rows.front().note;
    EXPECT_TRUE(p.not_compared.empty());
    EXPECT_GE(p.reference_detections, 10);
    EXPECT_EQ(p.matched, p.reference_detections);
    EXPECT_EQ(p.our_detections, p.reference_detections);
    EXPECT_EQ(p.unmatched, 0);
    EXPECT_TRUE(p.same_order);
    EXPECT_TRUE(p.passed);
  }
}

TEST(PaddleParity, StandardHead) { expect_parity({"std", "std/model.pdparams", "configs/yolov3_mbv1_std_voc.yml", nullptr}); }
TEST(PaddleParity, StandardHeadFromTheExportedProgram) {
  expect_parity({"std", "std/export", "std/export/infer_cfg.yml", nullptr});
}
TEST(PaddleParity, StandardHeadFromThePaddle3PirProgram) {
  expect_parity({"std", "std/pir", "std/export/infer_cfg.yml", nullptr});
}
TEST(PaddleParity, SeparableHead) { expect_parity({"sep", "sep/model.pdparams", "configs/yolov3_mbv1_sep_voc.yml", nullptr}); }
TEST(PaddleParity, PrunedR578) {
  expect_parity({"pruned", "pruned/model.pdparams", "configs/yolov3_mbv1_pruned_voc.yml", nullptr});
}
TEST(PaddleParity, ThreeClasses) {
  expect_parity({"cls3", "cls3/model.pdparams", "configs/yolov3_mbv1_cls3.yml", "cls3/labels.txt"});
}

// The 0.x static export keeps 0.x post-processing: yolo_box gets the exact
// image size and NMS runs without normalisation (+1 areas). Paddle's own
// run of that program is the reference; the 2.x semantics must not pass it.
TEST(PaddleParity, StaticExportKeepsStaticSemantics) {
  TempDir dir;
  const Reference ref = load_reference(fixture("refs/std_static_fruits_128x128.safetensors"));
  const cv::Mat image = cv::imread(fixture("images/fruits.jpg"), cv::IMREAD_COLOR);
  for (const std::string& extra : {std::string(), "--config " + quote(fixture("configs/static_0x/yolov3_mobilenet_v1_voc.yml"))}) {
    SCOPED_TRACE(extra);
    const std::string model = dir.file("static.safetensors");
    const CommandResult r = convert(fixture("std/static_export"), model, extra);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(ModelFile::load(model).config().decode.image_size, "exact");
    EXPECT_FALSE(ModelFile::load(model).config().nms.normalized);
    const ParityReport p = compare_with_reference(model, ref, ParityOptions(), &image);
    EXPECT_TRUE(p.passed);
    EXPECT_EQ(p.matched, p.reference_detections);
    EXPECT_GE(p.reference_detections, 10);
  }
  const std::string dygraph = dir.file("dygraph.safetensors");
  ASSERT_EQ(convert(fixture("std/static_export"), dygraph, "--config " + quote(fixture("configs/yolov3_mbv1_std_voc.yml"))).exit_code, 0);
  const ParityReport wrong = compare_with_reference(dygraph, ref, ParityOptions(), &image);
  EXPECT_FALSE(wrong.passed) << "the reference cannot tell 0.x from 2.x post-processing";
  EXPECT_GT(wrong.unmatched, 0);
}

// A full-width model with references at 608x608 and 416x608, made on demand
// (`scripts/paddle/make_fixtures.py --full-width DIR`, then
// TX2YOLO_FULL_WIDTH_FIXTURES=DIR); too large to commit.
TEST(PaddleParity, FullWidthWhenPresent) {
  const char* dir = std::getenv("TX2YOLO_FULL_WIDTH_FIXTURES");
  if (!dir) {
    GTEST_SKIP() << "TX2YOLO_FULL_WIDTH_FIXTURES is not set (make_fixtures.py --full-width DIR makes them)";
  }
  TempDir tmp;
  const std::string model = tmp.file("full.safetensors");
  const CommandResult r = convert(std::string(dir) + "/model.pdparams", model);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int refs = 0;
  for (const std::string& f : list_directory_files(dir)) {
    if (f.size() < 12 || f.compare(f.size() - 12, 12, ".safetensors") != 0) continue;
    SCOPED_TRACE(f);
    const ParityReport p = compare_with_reference(model, load_reference(f), ParityOptions());
    EXPECT_TRUE(p.passed);
    ++refs;
  }
  EXPECT_GT(refs, 0);
}

// ---- bad input ---------------------------------------------------------------------------

void expect_refused(const std::string& input, const std::string& expected_message, const std::string& extra = "") {
  TempDir dir;
  const std::string out = dir.file("out.safetensors");
  const CommandResult r = convert(input, out, extra);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(expected_message), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line: " << r.output;
  EXPECT_TRUE(dir.entries().empty()) << "nothing, not even a temporary file, is left in the output folder";
}

std::vector<std::uint8_t> file_bytes(const std::string& path) { return read_file_bytes(path, 1u << 30); }

TEST(PaddleConvertErrors, TruncatedPickle) {
  TempDir dir;
  std::vector<std::uint8_t> b = file_bytes(fixture("std/model.pdparams"));
  b.resize(b.size() / 2);
  write_bytes(dir.file("cut.pdparams"), b);
  expect_refused(dir.file("cut.pdparams"), "pickle is truncated");
}

TEST(PaddleConvertErrors, HostilePickleIsRefusedAndNothingRuns) {
  TempDir dir;
  const std::string marker = dir.file("pwned");
  // pickle protocol 2: os.system("touch <marker>") via GLOBAL + REDUCE.
  const std::string command = "touch " + marker;
  std::string p = lit("\x80\x02" "cos\nsystem\nq\x00X");
  const auto n = static_cast<std::uint32_t>(command.size());
  for (int i = 0; i < 4; ++i) p.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  p += command + lit("q\x01\x85q\x02Rq\x03.");
  write_bytes(dir.file("evil.pdparams"), std::vector<std::uint8_t>(p.begin(), p.end()));
  expect_refused(dir.file("evil.pdparams"), "refusing the pickle global os.system");
  EXPECT_FALSE(file_exists(marker)) << "the pickle's command ran";

  // The same through STACK_GLOBAL (protocol 4) and through builtins.eval.
  const std::string p4 = lit("\x80\x04\x8c\x08" "builtins\x8c\x04" "exec\x93\x8c\x01x\x85R.");
  write_bytes(dir.file("evil4.pdparams"), std::vector<std::uint8_t>(p4.begin(), p4.end()));
  expect_refused(dir.file("evil4.pdparams"), "refusing the pickle global builtins.exec");
  const std::string pe = lit("\x80\x02" "cbuiltins\neval\nX\x03\x00\x00\x00" "1+1\x85R.");
  write_bytes(dir.file("eval.pdparams"), std::vector<std::uint8_t>(pe.begin(), pe.end()));
  expect_refused(dir.file("eval.pdparams"), "refusing eval(...)");
}

TEST(PaddleConvertErrors, MissingParameter) {
  expect_refused(fixture("bad/missing_param.pdparams"),
                 "missing parameter neck.yolo_block.1.conv_module.conv2.batch_norm._variance");
}

TEST(PaddleConvertErrors, MismatchedShapesNameTheParameterAndBothShapes) {
  expect_refused(fixture("bad/wrong_shape.pdparams"),
                 "parameter yolo_head.yolo_output.1.weight has shape [75, 15, 1, 1], but the model needs [75, 10, 1, 1]");
}

TEST(PaddleConvertErrors, TruncatedTensorRecord) {
  TempDir dir;
  const std::string copy = dir.file("vars");
  ASSERT_EQ(std::system(("cp -r " + quote(fixture("std/static_vars")) + " " + quote(copy)).c_str()), 0);
  std::vector<std::uint8_t> b = file_bytes(copy + "/conv2_1_sep_weights");
  b.resize(b.size() - 7);
  write_bytes(copy + "/conv2_1_sep_weights", b);
  expect_refused(copy, "conv2_1_sep_weights: tensor record at byte 0 is truncated");

  // A combined params file cut short, and one with bytes appended.
  const std::string exp = dir.file("export");
  ASSERT_EQ(std::system(("cp -r " + quote(fixture("std/export")) + " " + quote(exp)).c_str()), 0);
  std::vector<std::uint8_t> params = file_bytes(exp + "/model.pdiparams");
  const std::vector<std::uint8_t> full = params;
  params.resize(params.size() - 100);
  write_bytes(exp + "/model.pdiparams", params);
  expect_refused(exp, "is truncated");
  params = full;
  params.insert(params.end(), 16, 0);
  write_bytes(exp + "/model.pdiparams", params);
  expect_refused(exp, "bytes after the last of the program's");
}

TEST(PaddleConvertErrors, ProtobufGarbage) {
  TempDir dir;
  const std::string exp = dir.file("export");
  ASSERT_EQ(std::system(("cp -r " + quote(fixture("std/export")) + " " + quote(exp)).c_str()), 0);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<std::uint8_t> garbage(4096);
    for (auto& v : garbage) v = static_cast<std::uint8_t>(rng());
    garbage[0] = 0x0A;  // looks like a ProgramDesc's first field
    write_bytes(exp + "/model.pdmodel", garbage);
    expect_refused(exp + "/model.pdmodel", "model.pdmodel");
  }
  std::vector<std::uint8_t> cut = file_bytes(fixture("std/export/model.pdmodel"));
  cut.resize(cut.size() / 3);
  write_bytes(exp + "/model.pdmodel", cut);
  expect_refused(exp + "/model.pdmodel", "protobuf");
}

TEST(PaddleConvertErrors, PirJsonGarbage) {
  TempDir dir;
  const std::string pir = dir.file("pir");
  ASSERT_EQ(std::system(("cp -r " + quote(fixture("std/pir")) + " " + quote(pir)).c_str()), 0);
  const std::string json = read_text(pir + "/model.json");
  write_text(pir + "/model.json", json.substr(0, json.size() / 2));
  expect_refused(pir, "model.json");
  std::string not_pir = json;
  not_pir.replace(not_pir.find("\"pir\""), 5, "\"xyz\"");
  write_text(pir + "/model.json", not_pir);
  expect_refused(pir, "not a Paddle 3 PIR program");
  write_text(pir + "/model.json", "{\"base_code\": {\"magic\": \"pir\"}, \"program\": {\"regions\": []}}");
  expect_refused(pir, "PIR program has no regions");
}

TEST(PaddleConvertErrors, NotACheckpoint) {
  TempDir dir;
  write_text(dir.file("notes.txt"), "hello");
  expect_refused(dir.file("notes.txt"), "not a Paddle checkpoint this tool recognises");
  expect_refused(dir.file("nothing-here"), "no such file or folder");
  expect_refused(fixture("std/model.pdparams"), "--format: tflite not in {pdparams,static-dir,pdmodel,pir-json}",
                 "--format tflite");
}

// ---- pieces -----------------------------------------------------------------------------

TEST(PickleReader, DeepNestingIsTornDownWithoutRecursion) {
  // One million nested 1-tuples: a recursive destructor would overflow the stack.
  std::string p = "\x80\x02N";
  p.reserve(1000010);
  for (int i = 0; i < 1000000; ++i) p.push_back('\x85');
  p.push_back('.');
  const auto bytes = std::vector<std::uint8_t>(p.begin(), p.end());
  paddle::PickleRef v = paddle::parse_pickle(bytes.data(), bytes.size(), "deep");
  EXPECT_EQ(v->kind, paddle::PickleValue::Kind::kTuple);
  v.reset();
}

TEST(PickleReader, RefusesWhatAStateDictDoesNotUse) {
  auto parse = [](const std::string& s) {
    const std::vector<std::uint8_t> b(s.begin(), s.end());
    return paddle::parse_pickle(b.data(), b.size(), "t");
  };
  EXPECT_THROW(parse(lit("\x80\x05N.")), Error);                 // protocol 5
  EXPECT_THROW(parse(lit("\x80\x02Q.")), Error);                 // persistent id
  EXPECT_THROW(parse(lit("\x80\x02h\x07.")), Error);             // memo never stored
  EXPECT_THROW(parse(lit("\x80\x02N.junk")), Error);             // bytes after STOP
  EXPECT_THROW(parse(lit("\x80\x02X\xff\xff\xff\x7f")), Error);  // length past the end
  EXPECT_EQ(parse(lit("\x80\x02K\x07."))->integer, 7);
}

TEST(PaddleConfig, BaseChainsAndStaticConfigs) {
  // The 2.x fixture config: a two-level _BASE_ chain.
  ModelConfig c = build_yolov3_mobilenet_v1(ArchitectureSpec()).config;
  std::string which;
  c.classes = paddle::default_labels(20, &which);
  EXPECT_EQ(which, "VOC");
  const paddle::PpdetConfig cfg = paddle::apply_ppdet_config(fixture("configs/yolov3_mbv1_std_voc.yml"), &c);
  EXPECT_EQ(cfg.family, "dygraph");
  EXPECT_GE(cfg.files.size(), 3u);
  EXPECT_EQ(c.heads[0].anchors[0], std::make_pair(116.f, 90.f));
  EXPECT_TRUE(c.nms.normalized);
  EXPECT_EQ(c.decode.image_size, "paddle_truncate");

  // The 0.x static config: NMS without normalisation, the exact image size.
  ModelConfig s = build_yolov3_mobilenet_v1(ArchitectureSpec()).config;
  s.classes = paddle::default_labels(20, &which);
  const paddle::PpdetConfig st = paddle::apply_ppdet_config(fixture("configs/static_0x/yolov3_mobilenet_v1_voc.yml"), &s);
  EXPECT_EQ(st.family, "static");
  EXPECT_FALSE(s.nms.normalized);
  EXPECT_EQ(s.nms.background_label, -1);
  EXPECT_EQ(s.decode.image_size, "exact");

  TempDir dir;
  write_text(dir.file("loop.yml"), "_BASE_: [loop.yml]\nnum_classes: 20\n");
  EXPECT_THROW(paddle::apply_ppdet_config(dir.file("loop.yml"), &c), Error);
  write_text(dir.file("n.yml"), "num_classes: 80\n");
  EXPECT_THROW(paddle::apply_ppdet_config(dir.file("n.yml"), &c), Error);
}

}  // namespace
}  // namespace tx2yolo
