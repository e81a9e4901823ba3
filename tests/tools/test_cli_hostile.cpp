// The CLI's holes that hostile or careless input found, each closed and
// held by a test: output onto device nodes, FIFOs and folders; decompression
// bombs; NaN and zero or negative sizes; library messages leaking through.
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "core/file_util.h"
#include "tests/test_util.h"
#include "tools/image_header.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command_stderr;
using testing_util::TempDir;

const std::string kCli = TX2YOLO_CLI_PATH;
const std::string kModel = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
const std::string kImage = std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg";
// A VOC fixture; its conversions accept VOC's published defaults.
const std::string kPdparams =
    "--defaults voc " + std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/paddle/std/model.pdparams";

void expect_one_line_error(const CommandResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
}

bool is_fifo(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}
bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

// Output goes only to regular files: a FIFO, a link to a device node and a
// folder are refused, and left as they were (run as root, renaming over
// /dev/null would have replaced it for the whole system).
TEST(CliHostile, OutputsReplaceOnlyRegularFiles) {
  TempDir dir;
  const std::string fifo = dir.file("out.jpg");  // a name --out takes as an image
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string devnull = dir.file("null.jpg");
  ASSERT_EQ(::symlink("/dev/null", devnull.c_str()), 0);
  const std::string folder = dir.file("folder.json");
  make_directories(folder);
  for (const std::string& target : {fifo, devnull}) {
    expect_one_line_error(run_command_stderr("timeout 20 " + kCli + " convert " + kPdparams + " -o " + target),
                          "is not a regular file");
    expect_one_line_error(
        run_command_stderr("timeout 20 " + kCli + " detect " + kImage + " --model " + kModel + " --json " + target),
        "is not a regular file");
    expect_one_line_error(
        run_command_stderr("timeout 20 " + kCli + " detect " + kImage + " --model " + kModel + " --out " + target),
        "is not a regular file");
  }
  expect_one_line_error(
      run_command_stderr("timeout 20 " + kCli + " detect " + kImage + " --model " + kModel + " --json " + folder),
      "folder");
  EXPECT_TRUE(is_fifo(fifo));
  EXPECT_TRUE(is_symlink(devnull));
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

// A PNG header claiming 30000x30000 pixels (2.7 GB decoded) is refused from
// its header, before anything is decoded; --max-pixels raises the limit.
TEST(CliHostile, DecompressionBombIsRefusedFromTheHeader) {
  TempDir dir;
  // Signature, then IHDR: 30000 x 30000, 8-bit RGB (the CRC is not checked
  // by the header reader; the decoder would refuse the rest anyway).
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0,    0,   0x75, 0x30, 0, 0, 0x75, 0x30, 8, 2, 0, 0, 0, 0, 0, 0, 0};
  testing_util::write_bytes(dir.file("bomb.png"), png);
  expect_one_line_error(run_command_stderr(kCli + " detect " + dir.file("bomb.png") + " --model " + kModel),
                        "png image of 30000x30000 pixels is over the limit of 268435456 pixels");
  const auto raised = run_command_stderr(kCli + " detect " + dir.file("bomb.png") + " --model " + kModel +
                                         " --max-pixels 1000000000");
  expect_one_line_error(raised, "cannot decode as an image");
  EXPECT_EQ(raised.output.find("over the limit"), std::string::npos) << raised.output;
  expect_one_line_error(run_command_stderr(kCli + " detect " + kImage + " --model " + kModel + " --max-pixels 1000"),
                        "over the limit of 1000 pixels");
  expect_one_line_error(run_command_stderr(kCli + " detect " + kImage + " --max-pixels 0"), "--max-pixels");
}

// NaN, zero and negative values are refused the same way by every command.
TEST(CliHostile, NanAndBadSizesAreRefusedEverywhere) {
  for (const char* option : {"--threshold", "--conf-threshold", "--score-threshold", "--nms-threshold"})
    for (const char* value : {"nan", "-nan", "inf", "1.5", "-0.1"})
      expect_one_line_error(
          run_command_stderr(kCli + " detect " + kImage + " --model " + kModel + " " + option + " " + value),
          option);
  const std::string commands[] = {
      " detect " + kImage + " --model " + kModel,
      " convert " + kPdparams + " -o /tmp/tx2yolo-never-written.safetensors",
      " inspect " + kModel,
      " bench --backend cpu --model " + kModel + " --iterations 1",
      " selftest --backend cpu --model " + kModel,
      " eval --model " + kModel + " --voc /nonexistent"};
  for (const std::string& c : commands)
    for (const char* size : {"0", "32 0", "-32", "33"})
      expect_one_line_error(run_command_stderr(kCli + c + " --input-size " + size), "--input-size");
  EXPECT_FALSE(file_exists("/tmp/tx2yolo-never-written.safetensors"));
}

// yaml-cpp's messages come with the config file's name and line, never raw.
TEST(CliHostile, ConfigErrorsNameTheFile) {
  TempDir dir;
  testing_util::write_text(dir.file("broken.yml"), "a: [1, 2\n");
  const auto broken = run_command_stderr(kCli + " convert " + kPdparams + " -o " + dir.file("m.safetensors") +
                                         " --config " + dir.file("broken.yml"));
  expect_one_line_error(broken, "broken.yml: not valid YAML (line 2");
  EXPECT_EQ(broken.output.find("yaml-cpp"), std::string::npos) << broken.output;
  EXPECT_FALSE(file_exists(dir.file("m.safetensors")));
  // A scalar where PaddleDetection has a mapping: yaml-cpp's own error, wrapped.
  testing_util::write_text(dir.file("odd.yml"), "TestReader: [1, 2]\nEvalReader: 5\nYOLOv3Head: [anchors]\n");
  const auto odd = run_command_stderr(kCli + " convert " + kPdparams + " -o " + dir.file("m.safetensors") +
                                      " --config " + dir.file("odd.yml"));
  if (odd.exit_code != 0) {
    EXPECT_EQ(odd.output.rfind("error: " + dir.file("odd.yml"), 0), 0u) << odd.output;
    EXPECT_EQ(odd.output.find("yaml-cpp"), std::string::npos) << odd.output;
  }
}

// A corrupt video: FFmpeg's own log lines ("[mjpeg @ 0x...] ...") do not
// reach stderr; only tx2yolo's own lines do.
TEST(CliHostile, CorruptVideoLeavesNoDecoderChatter) {
  TempDir dir;
  // MPEG-4 part 2 in .mp4: written and read through FFmpeg (an MJPG .avi
  // would be read by OpenCV's own MJPEG reader, which logs nothing).
  const std::string clip = dir.file("clip.mp4");
  cv::Mat img = cv::imread(kImage);
  {
    cv::VideoWriter writer(clip, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), 10, img.size());
    if (!writer.isOpened()) GTEST_SKIP() << "OpenCV here cannot write MPEG-4 through FFmpeg";
    for (int i = 0; i < 12; ++i) {
      cv::Mat frame = img.clone();
      cv::randu(frame(cv::Rect(0, 0, 64, 64)), 0, 255);  // changing content, so frames are coded as differences
      writer.write(frame);
    }
  }
  std::vector<std::uint8_t> bytes = read_file_bytes(clip, 1u << 30);
  for (std::size_t i = bytes.size() / 3; i < bytes.size() * 2 / 3; i += 7) bytes[i] ^= 0x5a;  // damage the middle
  testing_util::write_bytes(clip, bytes);
  const auto r = run_command_stderr(kCli + " detect " + clip + " --model " + kModel + " --out " + dir.file("o.mp4"));
  for (std::size_t at = 0; at < r.output.size();) {
    const std::size_t end = r.output.find('\n', at);
    const std::string line = r.output.substr(at, end == std::string::npos ? std::string::npos : end - at);
    EXPECT_NE(line.rfind("[", 0), 0u) << "a decoder's own log line: " << line;
    at = end == std::string::npos ? r.output.size() : end + 1;
  }
}

// The header reader on each format it knows, and on what it does not.
TEST(ImageHeader, ReadsTheSizeOfEachFormat) {
  const cv::Mat img(37, 53, CV_8UC3, cv::Scalar(10, 200, 30));
  for (const char* ext : {".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"}) {
    std::vector<std::uint8_t> encoded;
    cv::Mat gray;
    cv::extractChannel(img, gray, 0);
    ASSERT_TRUE(cv::imencode(ext, std::string(ext) == ".pgm" ? gray : img, encoded)) << ext;
    ImageHeader h;
    std::string why;
    ASSERT_TRUE(read_image_header(encoded.data(), encoded.size(), &h, &why)) << ext << ": " << why;
    EXPECT_EQ(h.width, 53) << ext;
    EXPECT_EQ(h.height, 37) << ext;
  }
  ImageHeader h;
  std::string why;
  const std::string gif = "GIF89a";
  EXPECT_FALSE(read_image_header(reinterpret_cast<const std::uint8_t*>(gif.data()), gif.size(), &h, &why));
  EXPECT_NE(why.find("not a JPEG, PNG"), std::string::npos) << why;
  // Cut short anywhere: refused, never read past the end.
  std::vector<std::uint8_t> jpg;
  ASSERT_TRUE(cv::imencode(".jpg", img, jpg));
  for (std::size_t n = 0; n < 40; ++n) {
    std::vector<std::uint8_t> cut(jpg.begin(), jpg.begin() + static_cast<long long>(n));
    EXPECT_FALSE(read_image_header(cut.data(), cut.size(), &h, &why)) << n;
  }
}

}  // namespace
}  // namespace tx2yolo
