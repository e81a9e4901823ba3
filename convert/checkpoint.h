// Reads a Paddle checkpoint in any of the formats PaddleDetection users have
// and returns its parameters by name, converted to float32:
//   pdparams    a pickled state dict (paddle.save / fluid.save / paddle.static.save)
//   static-dir  a folder of per-variable tensor files (save_persistables, 0.x)
//   pdmodel     a ProgramDesc (`*.pdmodel` or `__model__`) with its combined
//               params (`*.pdiparams` or `__params__`), or per-variable files
//               beside `__model__`
//   pir-json    a Paddle 3 PIR program (`*.json`) with its `*.pdiparams`
// The format is detected from the path and the first bytes; `format`
// overrides the detection. Nothing is executed: see pickle_reader.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "convert/param_tensor.h"
#include "convert/program.h"

namespace tx2yolo {
namespace paddle {

struct Checkpoint {
  std::string format;                          // "pdparams", "static-dir", "pdmodel" or "pir-json"
  std::vector<std::string> files;              // the files read
  std::map<std::string, ParamTensor> params;   // by Paddle name
  std::vector<std::string> order;              // parameter names in file order
  bool has_program = false;
  Program program;                             // when has_program
  std::vector<std::string> notes;              // what the reader did that a user should know

  const ParamTensor* find(const std::string& name) const;
};

// The format names accepted by `format` (and by `tx2yolo convert --format`).
const std::vector<std::string>& checkpoint_formats();

// Detects the format of `path` (a file or a folder); throws Error with what
// was found when it is none of them.
std::string detect_checkpoint_format(const std::string& path);

Checkpoint load_checkpoint(const std::string& path, const std::string& format = "");

}  // namespace paddle
}  // namespace tx2yolo
