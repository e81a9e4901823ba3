// Plots and progress: even axis ticks, the stacked bar chart of
// `bench --sweep --plot`, and bench's progress bar, shown on a terminal only.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/test_util.h"
#include "tools/plot.h"

namespace tx2yolo {
namespace {

using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::run_command_stderr;
using testing_util::TempDir;

const std::string kCli = TX2YOLO_CLI_PATH;

TEST(Plot, EvenTicksAreWholeStepsOfOneTwoOrFive) {
  struct Case {
    double lo, hi, step, tick_lo, tick_hi;
  };
  for (const Case& c : {Case{0, 0.037, 0.005, 0, 0.04}, Case{-0.013, 0.05, 0.01, -0.02, 0.05},
                        Case{0, 1, 0.1, 0, 1}, Case{0, 560, 100, 0, 600}, Case{0, 0.05, 0.005, 0, 0.05},
                        Case{3, 3, 0.05, 3, 3.3}}) {
    SCOPED_TRACE(cat(c.lo, " .. ", c.hi));
    const AxisTicks t = even_ticks(c.lo, c.hi, 10);
    EXPECT_NEAR(t.step, c.step, 1e-12);
    EXPECT_NEAR(t.lo, c.tick_lo, 1e-12);
    EXPECT_NEAR(t.hi, c.tick_hi, 1e-12);
    EXPECT_LE(t.intervals, 10);
    EXPECT_NEAR(t.lo + t.step * t.intervals, t.hi, 1e-9);
    EXPECT_LE(t.lo, std::min(c.lo, c.hi));
    EXPECT_GE(t.hi, std::max(c.lo, c.hi));
    // The step is 1, 2 or 5 times a power of ten.
    const double mantissa = t.step / std::pow(10.0, std::floor(std::log10(t.step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 || std::fabs(mantissa - 5) < 1e-9)
        << t.step;
  }
  EXPECT_EQ(even_ticks(0, 0.037).decimals(100), 1);  // 0.5% steps
  EXPECT_EQ(even_ticks(0, 560).decimals(), 0);
  EXPECT_THROW(even_ticks(0, NAN), Error);
}

TEST(Plot, StackedBarChartIsWrittenOrRefused) {
  TempDir dir;
  const std::string png = dir.file("bars.png");
  write_stacked_bar_chart(png, "title", "ms", {"a", "b", "c"},
                          {{"first", {1, 2, 3}}, {"second", {0.5, 10, 0}}, {"third", {0, 0, 0}}});
  const cv::Mat img = cv::imread(png, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1000);
  EXPECT_EQ(img.rows, 70 + 26 * 3 + 60);
  EXPECT_THROW(write_stacked_bar_chart(dir.file("x.png"), "t", "ms", {"a"}, {}), Error);
  EXPECT_THROW(write_stacked_bar_chart(dir.file("x.png"), "t", "ms", {"a", "b"}, {{"bar", {1}}}), Error);
  EXPECT_THROW(write_stacked_bar_chart(dir.file("x.png"), "t", "ms", {"a"}, {{"bar", {-1}}}), Error);
  EXPECT_THROW(write_stacked_bar_chart(dir.file("x.png"), "t", "ms", {"a"}, {{"bar", {NAN}}}), Error);
  EXPECT_FALSE(file_exists(dir.file("x.png")));
}

TEST(BenchCli, SweepDrawsAPlotOfEveryConfiguration) {
  TempDir dir;
  const std::string png = dir.file("sweep.png");
  const CommandResult r = run_command(kCli + " bench --backend cpu --synthetic --sweep --sizes 32,64 --batches 1,2 "
                                             "--iterations 1 --warmup 0 --plot '" + png + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + png), std::string::npos) << r.output;
  const cv::Mat img = cv::imread(png, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.rows, 70 + 26 * 4 + 60);  // one bar per configuration
  // Not a terminal: no progress lines among the results.
  EXPECT_EQ(r.output.find("runs,"), std::string::npos) << r.output;

  const CommandResult alone = run_command_stderr(kCli + " bench --backend cpu --synthetic --plot '" + png + "'");
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.output.find("--plot draws the results of --sweep"), std::string::npos) << alone.output;
  const CommandResult nowhere = run_command_stderr(kCli + " bench --backend cpu --synthetic --sweep --sizes 32 "
                                                          "--plot /nonexistent/folder/x.png");
  EXPECT_NE(nowhere.exit_code, 0);
  EXPECT_NE(nowhere.output.find("the folder /nonexistent/folder does not exist"), std::string::npos)
      << nowhere.output;
  EXPECT_EQ(nowhere.output.find("input  batch"), std::string::npos) << "timed before refusing: " << nowhere.output;
  const CommandResult bench_only = run_command_stderr(std::string(TX2YOLO_BENCH_CLI_PATH) +
                                                      " bench --backend cpu --synthetic --sweep --sizes 32 --plot '" +
                                                      png + ".2'");
  EXPECT_NE(bench_only.exit_code, 0);
  EXPECT_NE(bench_only.output.find("tx2yolo-bench writes no images"), std::string::npos) << bench_only.output;
}

TEST(BenchCli, ProgressIsShownOnATerminal) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` to run under a terminal";
  // util-linux's script runs the command on a pseudo-terminal.
  const CommandResult r = run_command("script -qec \"" + kCli +
                                      " bench --backend cpu --synthetic --input-size 32 --iterations 3 --warmup 1\" "
                                      "/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bench [##"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4/4 runs"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tx2yolo
