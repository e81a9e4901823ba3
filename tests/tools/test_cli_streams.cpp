// `detect` on network streams and its live results: a clip made from the
// demo image is served over HTTP on 127.0.0.1 by Debian's ffmpeg (one client
// per listen, so a loop of two listens is a stream that drops and comes
// back). The tests skip without ffmpeg. Each run is bounded by `timeout`.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::run_command_stderr;
using testing_util::TempDir;

const std::string kCli = TX2YOLO_CLI_PATH;
const std::string kImage = std::string(TX2YOLO_SOURCE_DIR) + "/assets/demo.jpg";

bool have_ffmpeg() { return run_command("command -v ffmpeg").exit_code == 0; }

// A port of this process's own, away from the common ones.
int test_port(int offset) { return 20000 + static_cast<int>((::getpid() * 7 + offset) % 20000); }

// A 4 s, 10 frames/s MPEG-TS clip of the demo image.
std::string make_clip(const TempDir& dir) {
  const std::string clip = dir.file("clip.ts");
  const CommandResult r = run_command("ffmpeg -nostdin -loglevel error -y -loop 1 -i '" + kImage +
                                      "' -t 4 -r 10 -c:v mpeg2video -q:v 3 -pix_fmt yuv420p '" + clip + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return clip;
}

// Serves `clip` at http://127.0.0.1:PORT/s.ts `times` times in a row, in the
// background (ffmpeg paces it in real time with -re), each time played
// `loops` times over; returns the URL.
std::string serve(const std::string& clip, int port, int times, const TempDir& dir, int loops = 1) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/s.ts";
  const std::string script = "for i in $(seq " + std::to_string(times) +
                             "); do timeout 60 ffmpeg -nostdin -loglevel error -re -stream_loop " +
                             std::to_string(loops - 1) + " -i '" + clip +
                             "' -c copy -f mpegts -listen 1 " + url + "; done";
  EXPECT_EQ(std::system(("(" + script + ") >'" + dir.file("server.log") + "' 2>&1 &").c_str()), 0);
  ::usleep(700 * 1000);  // the listener is up well within this
  return url;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(testing_util::read_text(path));
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));  // each line whole
  return lines;
}

TEST(CliStreams, HttpStreamFramesDecodedWithLiveJsonl) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed (Debian package ffmpeg)";
  TempDir dir;
  // Played 6 times over (24 s): room for 10 frames under emulation too
  // (about 1.4 s a frame under qemu-aarch64), where frames are dropped.
  const std::string url = serve(make_clip(dir), test_port(1), 1, dir, 6);
  const std::string jsonl = dir.file("live.jsonl");
  const CommandResult r = run_command("timeout 60 " + kCli + " detect " + url + " --backend cpu --threads 1 -q " +
                                      "--max-frames 10 --jsonl '" + jsonl + "' --out '" + dir.file("out.mp4") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("frames: 10,"), std::string::npos) << r.output;
  const std::vector<nlohmann::json> lines = read_jsonl(jsonl);
  ASSERT_EQ(lines.size(), 10u);
  int last = -1;
  for (const nlohmann::json& l : lines) {
    EXPECT_EQ(l.at("source"), url);
    EXPECT_GT(l.at("frame").get<int>(), last);  // increasing; gaps are dropped frames
    last = l.at("frame").get<int>();
    EXPECT_EQ(l.at("width"), 320);
    EXPECT_GT(l.at("time").get<double>(), 1.7e9);
    EXPECT_GT(l.at("ms").at("total").get<double>(), 0.0);
    // The demo image's five objects are found in every frame of its clip.
    int confident = 0;
    for (const nlohmann::json& d : l.at("detections")) confident += d.at("score").get<double>() >= 0.5;
    EXPECT_GE(confident, 3) << l.dump();
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("out.mp4").c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
}

TEST(CliStreams, DroppedConnectionIsReopened) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed (Debian package ffmpeg)";
  TempDir dir;
  // Served twice: the first connection ends after 40 frames, the second
  // listener comes up, and the CLI reopens the stream.
  const std::string url = serve(make_clip(dir), test_port(2), 2, dir);
  const std::string jsonl = dir.file("live.jsonl");
  const CommandResult r = run_command("timeout 90 " + kCli + " detect " + url +
                                      " --backend cpu --threads 1 --input-size 128 -q --no-drop --reconnect 3 --jsonl '" + jsonl + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("stream lost; reconnecting (try 1 of 3)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 frame(s) dropped from the full queue, 1 reconnect(s)"), std::string::npos) << r.output;
  // Both connections' frames (about 40 each), numbered on from the first.
  const std::vector<nlohmann::json> lines = read_jsonl(jsonl);
  EXPECT_GE(lines.size(), 60u) << r.output;
  EXPECT_GE(lines.back().at("frame").get<int>(), 59);
}

TEST(CliStreams, UnreachableStreamIsAOneLineError) {
  TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(test_port(3)) + "/nothing.ts";
  const CommandResult r =
      run_command_stderr("timeout 60 " + kCli + " detect " + url + " --backend cpu --jsonl '" + dir.file("l.jsonl") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output, "error: " + url + ": cannot open the stream\n");
  EXPECT_FALSE(file_exists(dir.file("l.jsonl")));  // refused before anything was written
}

TEST(CliStreams, JsonlToStdoutMovesTheTextToStderr) {
  TempDir dir;
  const std::string out = dir.file("stdout.txt");
  const CommandResult r = run_command("(" + kCli + " detect '" + kImage + "' --backend cpu --jsonl - >'" + out + "')");
  ASSERT_EQ(r.exit_code, 0) << r.output;  // r.output is stderr here: the text
  EXPECT_NE(r.output.find("5 detections >= 0.50"), std::string::npos) << r.output;
  const std::vector<nlohmann::json> lines = read_jsonl(out);  // stdout: only JSON lines
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("name"), "demo.jpg");
  EXPECT_EQ(lines[0].at("frame"), 0);
}

TEST(CliStreams, JsonlOntoAFolderOrFifoIsRefused) {
  TempDir dir;
  const std::string fifo = dir.file("f");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& target : {dir.path(), fifo}) {
    const CommandResult r = run_command_stderr(kCli + " detect '" + kImage + "' --backend cpu --jsonl '" + target + "'");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.output.rfind("error: --jsonl ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(CliStreams, SeveralSourcesRunAsOneBatchAndAFailedOneIsSkipped) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed (Debian package ffmpeg)";
  TempDir dir;
  const std::string clip = make_clip(dir);
  // A .streams file: the demo image, the clip, a missing file, a comment.
  const std::string list = dir.file("cams.streams");
  testing_util::write_text(list, "# three sources\n" + kImage + "\n\n  " + clip + "  \n" + dir.file("gone.jpg") + "\n");
  ASSERT_EQ(::mkdir(dir.file("out").c_str(), 0755), 0);
  const std::string jsonl = dir.file("live.jsonl");
  const CommandResult r = run_command("timeout 120 " + kCli + " detect '" + list + "' --backend cpu --threads 1 -q " +
                                      "--max-frames 5 --out '" + dir.file("out") + "' --jsonl '" + jsonl + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: source 3: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 sources in a batch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("source 1 (" + kImage + "): 1 frame(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("source 2 (" + clip + "): 5 frame(s)"), std::string::npos) << r.output;
  // Each source's own records and output; the image's frame was in the first batch with the clip's.
  const std::vector<nlohmann::json> lines = read_jsonl(jsonl);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].at("source"), kImage);
  EXPECT_EQ(lines[1].at("source"), clip);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].at("source"), clip);
    EXPECT_EQ(lines[i].at("frame"), static_cast<int>(i) - 1);  // a file is read frame by frame
  }
  EXPECT_TRUE(file_exists(dir.file("out/s1-demo.jpg")));
  EXPECT_TRUE(file_exists(dir.file("out/s2-clip.ts.mp4")));
  // --json needs one source, --out a folder, and --jsonl must not be an input; refused before any work.
  struct stat before {};
  ASSERT_EQ(::stat(clip.c_str(), &before), 0);
  for (const std::string& bad : {std::string(" --json '") + dir.file("r.json") + "'",
                                 std::string(" --out '") + dir.file("x.mp4") + "'",
                                 std::string(" --jsonl '") + clip + "'"}) {
    const CommandResult b = run_command_stderr(kCli + " detect '" + kImage + "' '" + clip + "' --backend cpu" + bad);
    EXPECT_NE(b.exit_code, 0);
    EXPECT_EQ(b.output.rfind("error: ", 0), 0u) << b.output;
    EXPECT_EQ(std::count(b.output.begin(), b.output.end(), '\n'), 1) << b.output;
  }
  struct stat after {};
  ASSERT_EQ(::stat(clip.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);  // the input named as --jsonl was not truncated
}

TEST(CliStreams, ShowNeedsADisplayAndRunsInOne) {
  TempDir dir;
  // No display: refused before any work.
  const CommandResult none = run_command_stderr("env -u DISPLAY -u WAYLAND_DISPLAY " + kCli + " detect '" + kImage +
                                                "' --backend cpu --show");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(none.output, "error: --show needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); use --out or "
                         "--jsonl\n");
  // A virtual display (Debian's xvfb): the windows open and the frames pass.
  if (run_command("command -v xvfb-run").exit_code != 0 || !have_ffmpeg())
    GTEST_SKIP() << "xvfb-run or ffmpeg not installed (Debian packages xvfb, xauth, ffmpeg)";
  if (std::getenv("TX2YOLO_TEST_EMULATED"))
    GTEST_SKIP() << "under qemu-user the arm64 sysroot's Qt cannot load its xcb platform plugin";
  const std::string clip = make_clip(dir);
  const CommandResult r = run_command("XDG_RUNTIME_DIR='" + dir.path() + "' timeout 120 xvfb-run -a " + kCli +
                                      " detect '" + clip + "' '" + kImage + "' --backend cpu --threads 1 -q --show " +
                                      "--max-frames 6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("source 1 (" + clip + "): 6 frame(s)"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tx2yolo
