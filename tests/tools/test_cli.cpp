// The tx2yolo CLI as a user meets it: one-line errors with a non-zero exit and
// no output left behind, and the happy path writing an annotated image and
// COCO-results JSON.
#include <set>
#include <string>

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "core/file_util.h"
#include "engine/detector.h"
#include "engine/onednn_api.h"
#include "kernels/device.h"
#include "kernels/conv2d.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::run_command_stderr;
using testing_util::TempDir;

const std::string kCli = TX2YOLO_CLI_PATH;
const std::string kModel = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
const std::string kImage = std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg";

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A failed command's stderr: non-zero exit, exactly one line, starting with "error:".
void expect_one_line_error(const CommandResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
}

// Writes `frames` copies of `img` as an MJPG .avi; false if OpenCV cannot.
bool write_clip(const std::string& path, const cv::Mat& img, int frames) {
  cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, img.size());
  if (!writer.isOpened()) return false;
  for (int i = 0; i < frames; ++i) writer.write(img);
  return true;
}

TEST(Cli, BadModelPathGivesOneLineErrorAndNoOutput) {
  TempDir dir;
  const auto r = run_command_stderr(kCli + " detect " + kImage + " --model " + dir.file("missing.safetensors") +
                             " --out " + dir.file("out.jpg") + " --json " + dir.file("out.json"));
  expect_one_line_error(r, "missing.safetensors: cannot open");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Cli, CorruptModelGivesOneLineErrorAndNoOutput) {
  TempDir dir;
  testing_util::write_text(dir.file("bad.safetensors"), "this is not a model file at all");
  const auto r = run_command_stderr(kCli + " detect " + kImage + " --model " + dir.file("bad.safetensors") + " --out " +
                             dir.file("out.jpg"));
  expect_one_line_error(r, "bad.safetensors");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"bad.safetensors"});
}

TEST(Cli, NonImageFileGivesOneLineErrorAndNoOutput) {
  TempDir dir;
  testing_util::write_text(dir.file("notes.jpg"), "plain text, not a JPEG");
  const auto r = run_command_stderr(kCli + " detect " + dir.file("notes.jpg") + " --model " + kModel + " --out " +
                             dir.file("out.jpg") + " --json " + dir.file("out.json"));
  expect_one_line_error(r, "cannot decode as an image");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"notes.jpg"});
}

TEST(Cli, MissingCameraGivesOneLineErrorAndNoOutput) {
  TempDir dir;
  const auto r = run_command_stderr(kCli + " detect 9 --model " + kModel + " --out " + dir.file("cam.mp4"));
  expect_one_line_error(r, "cannot open camera 9");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Cli, MissingInputPathIsNamed) {
  const auto r = run_command_stderr(kCli + " detect /nonexistent/picture.png --model " + kModel);
  expect_one_line_error(r, "/nonexistent/picture.png: no such file or folder");
}

TEST(Cli, InputSizeMustBeMultipleOf32) {
  const auto r = run_command_stderr(kCli + " detect " + kImage + " --model " + kModel + " --input-size 300");
  expect_one_line_error(r, "multiples of 32");
}

TEST(Cli, CudaBackendRequestIsRefusedClearlyWithoutIt) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present, so --backend cuda is available";
  const auto r = run_command_stderr(kCli + " detect " + kImage + " --model " + kModel + " --backend cuda");
  expect_one_line_error(r, "--backend cuda is not available");
}

TEST(Cli, DetectWritesAnnotatedImageAndCocoJson) {
  TempDir dir;
  const auto r = run_command(kCli + " detect " + kImage + " --model " + kModel + " --out " + dir.file("out.jpg") +
                             " --json " + dir.file("out.json") + " --input-size 320");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("frames: 1, mean"), std::string::npos) << r.output;
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"out.jpg", "out.json"}));  // no temporary files left
  const cv::Mat annotated = cv::imread(dir.file("out.jpg"));
  ASSERT_FALSE(annotated.empty());
  const cv::Mat original = cv::imread(kImage);
  EXPECT_EQ(annotated.size(), original.size());
  EXPECT_GT(cv::norm(annotated, original, cv::NORM_L1), 0.0) << "nothing was drawn";
  const auto results = nlohmann::json::parse(testing_util::read_text(dir.file("out.json")));
  ASSERT_TRUE(results.is_array());
  ASSERT_FALSE(results.empty());
  for (const auto& d : results) {
    EXPECT_EQ(d.at("file_name"), "demo.jpg");
    EXPECT_EQ(d.at("bbox").size(), 4u);
    EXPECT_GE(d.at("bbox")[2].get<double>(), 0.0);
    EXPECT_GT(d.at("score").get<double>(), 0.0);
    const std::vector<std::string> names = {"circle", "square", "triangle"};  // the demo model's classes
    const int id = d.at("category_id").get<int>();
    ASSERT_TRUE(id >= 0 && id < 3) << id;
    EXPECT_EQ(d.at("category_name"), names[static_cast<std::size_t>(id)]);
  }
}

TEST(Cli, DetectOnFolderWritesOneImagePerInput) {
  TempDir in, out;
  const cv::Mat img = cv::imread(kImage);
  ASSERT_TRUE(cv::imwrite(in.file("a.png"), img));
  ASSERT_TRUE(cv::imwrite(in.file("b.jpg"), img));
  testing_util::write_text(in.file("readme.txt"), "not an image; skipped by extension");
  const std::string target = out.file("annotated");
  const auto r = run_command(kCli + " detect " + in.path() + " --model " + kModel + " --out " + target +
                             " --input-size 320 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("frames: 2"), std::string::npos) << r.output;
  EXPECT_FALSE(cv::imread(target + "/a.png").empty());
  EXPECT_FALSE(cv::imread(target + "/b.jpg").empty());
}

TEST(Cli, DetectOnVideoWritesAnnotatedVideo) {
  TempDir dir;
  const cv::Mat img = cv::imread(kImage);
  ASSERT_TRUE(write_clip(dir.file("clip.avi"), img, 4)) << "this OpenCV cannot write MJPG .avi";
  const auto r = run_command(kCli + " detect " + dir.file("clip.avi") + " --model " + kModel + " --out " +
                             dir.file("annotated.avi") + " --json " + dir.file("clip.json") +
                             " --input-size 320 --max-frames 3 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("frame-000002"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("frames: 3,"), std::string::npos) << r.output;
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"annotated.avi", "clip.avi", "clip.json"}));
  cv::VideoCapture cap(dir.file("annotated.avi"));
  ASSERT_TRUE(cap.isOpened());
  int frames = 0;
  cv::Mat frame;
  while (cap.read(frame)) {
    EXPECT_EQ(frame.cols, img.cols);
    ++frames;
  }
  EXPECT_EQ(frames, 3);
  const auto results = nlohmann::json::parse(testing_util::read_text(dir.file("clip.json")));
  std::set<int> image_ids;
  for (const auto& d : results) image_ids.insert(d.at("image_id").get<int>());
  EXPECT_EQ(image_ids, (std::set<int>{0, 1, 2}));
}

TEST(Cli, VideoInputNeedsAVideoOutputName) {
  TempDir dir;
  ASSERT_TRUE(write_clip(dir.file("clip.avi"), cv::imread(kImage), 1));
  const auto r = run_command_stderr(kCli + " detect " + dir.file("clip.avi") + " --model " + kModel + " --out " +
                                    dir.file("out.jpg"));
  expect_one_line_error(r, "need a video file name");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"clip.avi"});
}

TEST(Cli, RefusesToOverwriteTheInput) {
  TempDir dir;
  ASSERT_TRUE(cv::imwrite(dir.file("a.png"), cv::imread(kImage)));
  const std::string before = testing_util::read_text(dir.file("a.png"));
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.file("a.png") + " --model " + kModel +
                                           " --out " + dir.file("a.png")),
                        "is the input itself");
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.file("a.png") + " --model " + kModel +
                                           " --out " + dir.path()),
                        "would overwrite the input image");
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.path() + " --model " + kModel + " --out " +
                                           dir.path() + "/."),
                        "is the input itself");
  EXPECT_EQ(testing_util::read_text(dir.file("a.png")), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.png"});
}

TEST(Cli, BadImageMidFolderLeavesNoOutputs) {
  TempDir in, out;
  const cv::Mat img = cv::imread(kImage);
  ASSERT_TRUE(cv::imwrite(in.file("a.jpg"), img));
  testing_util::write_text(in.file("b.jpg"), "junk, not a JPEG");
  ASSERT_TRUE(cv::imwrite(in.file("c.jpg"), img));
  const auto r = run_command_stderr(kCli + " detect " + in.path() + " --model " + kModel + " --out " +
                                    out.file("annotated") + " --json " + out.file("all.json") + " --input-size 320");
  expect_one_line_error(r, "b.jpg: cannot decode as an image");
  EXPECT_TRUE(out.entries().empty()) << "a.jpg was annotated before the failure, but nothing may remain";
}

TEST(Cli, FailingJsonLeavesNoImageBehind) {
  TempDir dir;
  // The --json folder exists but the file cannot be created there (it is a folder name).
  ASSERT_EQ(::mkdir(dir.file("taken.json").c_str(), 0755), 0);
  const auto r = run_command_stderr(kCli + " detect " + kImage + " --model " + kModel + " --out " +
                                    dir.file("out.jpg") + " --json " + dir.file("taken.json"));
  expect_one_line_error(r, "is a folder; expected a file name");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"taken.json"});
}

TEST(Cli, JsonMayNotOverwriteTheInputOrTheModel) {
  TempDir dir;
  ASSERT_TRUE(cv::imwrite(dir.file("a.png"), cv::imread(kImage)));
  const std::string image_before = testing_util::read_text(dir.file("a.png"));
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.file("a.png") + " --model " + kModel +
                                           " --json " + dir.file("a.png")),
                        "is the input itself");
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.file("a.png") + " --model " + kModel +
                                           " --json " + kModel),
                        "is the model file");
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.file("a.png") + " --model " + kModel +
                                           " --json " + dir.file("same.jpg") + " --out " + dir.file("same.jpg")),
                        "is also the other output");
  EXPECT_EQ(testing_util::read_text(dir.file("a.png")), image_before);
}

TEST(Cli, ArgumentErrorsAreOneLineToo) {
  for (const std::string args : {" detect --threshold 2", " detect --bogus", " detect --threads 100000", ""}) {
    const auto r = run_command_stderr(kCli + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << ": " << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << ": " << r.output;
  }
}

TEST(Cli, FifoInputIsRefusedInsteadOfHanging) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("pipe.jpg").c_str(), 0600), 0);
  const auto r = run_command_stderr("timeout 20 " + kCli + " detect " + dir.file("pipe.jpg") + " --model " + kModel);
  expect_one_line_error(r, "not a regular file");
}

TEST(Cli, InspectVerifiesAndPrintsTheGraph) {
  const auto r = run_command(kCli + " inspect " + kModel + " --no-tensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("verified: "), std::string::npos);
  EXPECT_NE(r.output.find("backbone.conv2_1._depthwise_conv"), std::string::npos);
  EXPECT_NE(r.output.find("depthwise 3x3/s1"), std::string::npos);
  EXPECT_NE(r.output.find("yolo_head.yolo_output.2"), std::string::npos);
}

// `inspect --device` needs a CUDA device (one clear error without one);
// `--verified-markdown` prints the engine's verified-features table.
TEST(Cli, InspectDeviceAndVerifiedTable) {
  const auto md = run_command(kCli + " inspect --verified-markdown");
  ASSERT_EQ(md.exit_code, 0) << md.output;
  EXPECT_NE(md.output.find("| `gemm64` | conv tactic |"), std::string::npos) << md.output;
  EXPECT_NE(md.output.find("| `frame-graph` | graph |"), std::string::npos) << md.output;
  if (cuda_device_count() == 0) {
    expect_one_line_error(run_command_stderr(kCli + " inspect --device"), "inspect --device: no CUDA device 0");
  } else {
    const auto d = run_command(kCli + " inspect --device");
    ASSERT_EQ(d.exit_code, 0) << d.output;
    EXPECT_NE(d.output.find("NVIDIA H200, 2026-12-04"), std::string::npos) << d.output;
  }
  expect_one_line_error(run_command_stderr(kCli + " inspect --device 99"), "--device");
  expect_one_line_error(run_command_stderr(kCli + " inspect " + kModel + " --device 0"), "give no model");
}

TEST(Cli, InspectOnCorruptFileFails) {
  TempDir dir;
  testing_util::write_bytes(dir.file("short.safetensors"), {1, 2, 3});
  const auto r = run_command_stderr(kCli + " inspect " + dir.file("short.safetensors"));
  expect_one_line_error(r, "short.safetensors");
}

TEST(Cli, HelpListsTheOptions) {
  const auto r = run_command(kCli + " detect --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--out", "--json", "--model", "--backend", "--input-size", "--threshold"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
  EXPECT_EQ(run_command(kCli + " inspect --help").exit_code, 0);
  EXPECT_NE(run_command(kCli).exit_code, 0);  // a subcommand is required
}

}  // namespace
}  // namespace tx2yolo

namespace tx2yolo {
namespace {

TEST(CliBench, ReportsEveryStageAndRefusesWhatIsNotAvailable) {
  testing_util::TempDir dir;
  const std::string cli = TX2YOLO_CLI_PATH;
  const auto r = testing_util::run_command(cli + " bench --backend cpu --iterations 5 --warmup 1 --input-size 320 --json " +
                                           dir.file("b.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* text : {"device: CPU", "settings: input 320x320, batch 1, FP32", "preprocess", "network",
                           "decode + NMS", "end to end"})
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  const auto j = nlohmann::json::parse(testing_util::read_text(dir.file("b.json")));
  EXPECT_EQ(j.at("iterations"), 5);
  EXPECT_GT(j.at("ms").at("end to end").at("median").get<double>(), 0.0);
  const auto batch = testing_util::run_command(cli + " bench --backend cpu --batch 2 --iterations 2 --warmup 0 "
                                               "--input-size 320 --json " + dir.file("b2.json"));
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  EXPECT_NE(batch.output.find("settings: input 320x320, batch 2, FP32"), std::string::npos) << batch.output;
  EXPECT_EQ(nlohmann::json::parse(testing_util::read_text(dir.file("b2.json"))).at("batch"), 2);
  const auto too_big = testing_util::run_command_stderr(cli + " bench --batch 65 --iterations 1");
  EXPECT_NE(too_big.exit_code, 0);
  EXPECT_NE(too_big.output.find("--batch 65 is outside [1, 64]"), std::string::npos) << too_big.output;
  // FP16 is a CUDA precision: the CPU backend refuses it, saying why.
  const auto fp16 = testing_util::run_command_stderr(cli + " bench --backend cpu --precision fp16 --iterations 1");
  EXPECT_NE(fp16.exit_code, 0);
  EXPECT_NE(fp16.output.find("precision fp16 needs the CUDA backend"), std::string::npos) << fp16.output;
  expect_one_line_error(run_command_stderr(cli + " bench --backend cpu --zero-copy=sideways --iterations 1"),
                        "--zero-copy");
  const auto zero_copy = testing_util::run_command(cli + " bench --backend cpu --zero-copy --iterations 1 --warmup 0");
  EXPECT_EQ(zero_copy.exit_code, 0) << zero_copy.output;  // a CUDA option: the CPU backend has no copy to skip
  // --unverified is accepted everywhere the CUDA options are; on the CPU it changes nothing.
  const auto unverified =
      testing_util::run_command(cli + " bench --backend cpu --unverified --iterations 1 --warmup 0");
  EXPECT_EQ(unverified.exit_code, 0) << unverified.output;
  // --cpu-convs: auto (the default: onednn on x86-64 where libdnnl2 loads, else gemm on x86-64 with OpenBLAS),
  // reference, gemm or onednn, on bench, detect, eval and sensitivity.
  expect_one_line_error(run_command_stderr(cli + " bench --backend cpu --cpu-convs fast --iterations 1"), "--cpu-convs");
  expect_one_line_error(run_command_stderr(cli + " eval --cpu-convs fast"), "--cpu-convs");
  expect_one_line_error(run_command_stderr(cli + " sensitivity --cpu-convs fast"), "--cpu-convs");
  const auto reference =
      testing_util::run_command(cli + " bench --backend cpu --cpu-convs reference --iterations 1 --warmup 0");
  EXPECT_NE(reference.output.find("convs: the reference"), std::string::npos) << reference.output;
  const auto by_default = testing_util::run_command(cli + " bench --backend cpu --iterations 1 --warmup 0");
  const CpuConvs default_convs = cpu_convs_default();
  EXPECT_NE(by_default.output.find(default_convs == CpuConvs::kOnednn ? "; oneDNN 2."
                                   : default_convs == CpuConvs::kGemm ? "convs: OpenBLAS GEMM"
                                                                      : "convs: the reference"),
            std::string::npos)
      << by_default.output;
  const auto onednn =
      testing_util::run_command(cli + " bench --backend cpu --cpu-convs onednn --iterations 1 --warmup 0");
  if (onednn_available()) {
    EXPECT_EQ(onednn.exit_code, 0) << onednn.output;
    EXPECT_NE(onednn.output.find("; oneDNN 2."), std::string::npos) << onednn.output;
  } else {
    expect_one_line_error(run_command_stderr(cli + " bench --backend cpu --cpu-convs onednn --iterations 1"),
                          "--cpu-convs onednn is not available");
  }
  const auto gemm = testing_util::run_command(cli + " bench --backend cpu --cpu-convs gemm --iterations 1 --warmup 0");
  if (conv2d_cpu_gemm_available()) {
    EXPECT_EQ(gemm.exit_code, 0) << gemm.output;
    EXPECT_NE(gemm.output.find("convs: OpenBLAS GEMM"), std::string::npos) << gemm.output;
  } else {
    EXPECT_NE(gemm.exit_code, 0);
    EXPECT_NE(gemm.output.find("needs a build with OpenBLAS"), std::string::npos) << gemm.output;
  }
}

TEST(CliRandomModel, WritesEachFullWidthArchitectureAndRefusesBadInput) {
  TempDir dir;
  // The parameter counts of the three architectures (80 classes): the
  // standard head's 3x3 convs dominate; r578 pruning roughly halves the rest.
  const std::pair<const char*, const char*> archs[] = {
      {"standard", "24.55M parameters"}, {"separable", "8.06M parameters"}, {"separable-pruned", "4.52M parameters"}};
  for (const auto& a : archs) {
    const std::string out = dir.file(std::string(a.first) + ".safetensors");
    const auto r = run_command(kCli + " random-model --arch " + a.first + " -o " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(a.second), std::string::npos) << r.output;
    const auto inspect = run_command(kCli + " inspect " + out + " --no-tensors");
    EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  }
  const auto pruned = run_command(kCli + " inspect " + dir.file("separable-pruned.safetensors"));
  // r578: yolo_block.1's 256-wide convs keep 256 - round(0.7 * 256) = 77 filters.
  EXPECT_NE(pruned.output.find("neck.yolo_block.1.conv_module.conv0.weight"), std::string::npos) << pruned.output;
  EXPECT_NE(pruned.output.find("[77, "), std::string::npos) << pruned.output;
  expect_one_line_error(run_command_stderr(kCli + " random-model --arch tiny -o " + dir.file("x.safetensors")), "tiny");
  expect_one_line_error(run_command_stderr(kCli + " random-model --classes 0 -o " + dir.file("x.safetensors")),
                        "--classes 0");
  expect_one_line_error(run_command_stderr(kCli + " random-model -o /nonexistent/dir/x.safetensors"), "/nonexistent");
  EXPECT_FALSE(file_exists(dir.file("x.safetensors")));
}

// bench --sweep: one row per size x batch x precision, all rows in the JSON,
// and the settings it cannot take refused by name.
TEST(CliBench, SweepTimesEveryConfiguration) {
  TempDir dir;
  const auto r = run_command(kCli + " bench --sweep --backend cpu --model " + kModel +
                             " --sizes 320,352 --batches 1,2 --iterations 1 --warmup 0 --json " + dir.file("s.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(testing_util::read_text(dir.file("s.json")));
  ASSERT_EQ(j.at("rows").size(), 4u);
  std::set<std::pair<int, int>> seen;
  for (const auto& row : j.at("rows")) {
    seen.insert({row.at("input").at(0).get<int>(), row.at("batch").get<int>()});
    EXPECT_GT(row.at("ms").at("network").at("median").get<double>(), 0.0);
    EXPECT_EQ(row.at("precision"), "fp32");
  }
  EXPECT_EQ(seen, (std::set<std::pair<int, int>>{{320, 1}, {320, 2}, {352, 1}, {352, 2}}));
  EXPECT_NE(r.output.find("352    2      fp32"), std::string::npos) << r.output;
  expect_one_line_error(run_command_stderr(kCli + " bench --sweep --input-size 320 --iterations 1"), "--sizes");
  expect_one_line_error(run_command_stderr(kCli + " bench --sweep --sizes 300 --iterations 1"), "--sizes");
  expect_one_line_error(
      run_command_stderr(kCli + " bench --sweep --backend cpu --precisions fp16 --sizes 320 --batches 1 --iterations 1"),
      "needs the CUDA backend");
}

// tx2yolo-bench: the CLI's bench without image codecs. It times a drawn
// scene, reads no image file, and gives the same report as the CLI.
TEST(CliBench, SyntheticSceneAndTheCodecFreeExecutable) {
  TempDir dir;
  const std::string bench_cli = TX2YOLO_BENCH_CLI_PATH;
  const auto r = run_command(bench_cli + " bench --synthetic --model " + kModel +
                             " --backend cpu --iterations 2 --warmup 0 --input-size 320 --json " + dir.file("s.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("image synthetic scene (640x480)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("end to end"), std::string::npos) << r.output;
  EXPECT_GT(nlohmann::json::parse(testing_util::read_text(dir.file("s.json"))).at("ms").at("network").at("median")
                .get<double>(), 0.0);
  // The drawn scene is the demo data's kind: the demo model finds its objects.
  EXPECT_EQ(r.output.find(" 0 detections per image"), std::string::npos) << r.output;
  expect_one_line_error(
      run_command_stderr(bench_cli + " bench --model " + kModel + " --image " + kImage + " --iterations 1"),
      "reads no image files");
  expect_one_line_error(run_command_stderr(kCli + " bench --synthetic --image " + kImage + " --iterations 1"),
                        "exclude each other");
  expect_one_line_error(run_command_stderr(bench_cli + " detect " + kImage), "subcommand");  // not in tx2yolo-bench
}

}  // namespace
}  // namespace tx2yolo
