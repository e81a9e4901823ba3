// The main() of the tx2yolo executables (tools/main.cpp: the CLI;
// tools/main_bench.cpp: tx2yolo-bench): registers the given subcommands,
// parses, runs the chosen one, and turns every error into one line
// "error: ..." on stderr with exit code 1 (2 for a command-line error).
#pragma once

#include <string>
#include <vector>

#include "tools/commands.h"

namespace tx2yolo {

struct Subcommand {
  const char* name;
  CommandRunner (*add)(CLI::App&);
};

int run_cli(int argc, char** argv, const std::string& description, const std::vector<Subcommand>& commands);

}  // namespace tx2yolo
