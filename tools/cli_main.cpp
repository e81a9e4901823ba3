// run_cli (tools/cli_main.h).
#include "tools/cli_main.h"

#include <cstdio>
#include <new>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "core/error.h"

namespace tx2yolo {

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

int run_cli(int argc, char** argv, const std::string& description, const std::vector<Subcommand>& commands) {
  // OpenCV's own warnings (e.g. V4L "can't open camera by index") would break
  // the one-line error rule; our messages say what failed.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);

  CLI::App app{description};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tx2yolo 0.1.0");
  std::vector<CommandRunner> runners;
  for (const Subcommand& c : commands) runners.push_back(c.add(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(std::string(e.what()) + " (see --help)");
    return 2;
  }
  try {
    for (std::size_t i = 0; i < commands.size(); ++i)
      if (app.got_subcommand(commands[i].name)) return runners[i]();
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

}  // namespace tx2yolo
