// tx2yolo: the command-line tool. Errors print one line "error: ..." and exit 1.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "core/error.h"
#include "tools/commands.h"

namespace {
// Prints "error: <message>" on one line: control characters (newlines, and
// any a hostile file smuggled into a name) become spaces.
void print_error(const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  std::fprintf(stderr, "error: %s\n", line.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  // OpenCV's own warnings (e.g. V4L "can't open camera by index") would break
  // the one-line error rule; our messages say what failed.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);

  CLI::App app{"tx2yolo: YOLOv3-MobileNetV1 (PaddleDetection) inference on Jetson TX2 and other GPUs, "
               "with a CPU reference"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tx2yolo 0.1.0");
  const tx2yolo::CommandRunner detect = tx2yolo::add_detect_command(app);
  const tx2yolo::CommandRunner inspect = tx2yolo::add_inspect_command(app);
  const tx2yolo::CommandRunner convert = tx2yolo::add_convert_command(app);
  const tx2yolo::CommandRunner compare = tx2yolo::add_compare_command(app);
  const tx2yolo::CommandRunner eval = tx2yolo::add_eval_command(app);
  const tx2yolo::CommandRunner sensitivity = tx2yolo::add_sensitivity_command(app);
  const tx2yolo::CommandRunner bench = tx2yolo::add_bench_command(app);
  const tx2yolo::CommandRunner tune = tx2yolo::add_tune_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(std::string(e.what()) + " (see --help)");
    return 2;
  }
  try {
    if (app.got_subcommand("detect")) return detect();
    if (app.got_subcommand("inspect")) return inspect();
    if (app.got_subcommand("convert")) return convert();
    if (app.got_subcommand("compare")) return compare();
    if (app.got_subcommand("eval")) return eval();
    if (app.got_subcommand("sensitivity")) return sensitivity();
    if (app.got_subcommand("bench")) return bench();
    if (app.got_subcommand("tune")) return tune();
    print_error("unknown subcommand");
    return 1;
  } catch (const cv::Exception& e) {
    print_error("OpenCV: " + e.err);
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
  } catch (const std::exception& e) {
    print_error(e.what());
  }
  return 1;
}
