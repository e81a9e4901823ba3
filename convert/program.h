// A Paddle inference program reduced to what the converter needs: the
// variables (name, persistable, shape, dtype) and the ops of the global
// block in order, with their named input/output slots and attributes.
//
// Two readers fill it:
//   - parse_program_desc: the ProgramDesc protobuf of `__model__` /
//     `*.pdmodel` (shared/research/paddle-formats.md §2), hand-decoded;
//   - parse_pir_json: Paddle 3's PIR `*.json` (§3), where values are
//     numbered and named "%<id>" here, and parameters keep their names.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tx2yolo {
namespace paddle {

struct ProgramVar {
  std::string name;
  int type = -1;          // VarType.Type: 7 = dense (LoD) tensor, 9 feed, 10 fetch, 17 raw
  bool persistable = false;
  int dtype = -1;         // VarType.Type data type of the tensor
  std::vector<long long> dims;
};

struct ProgramAttr {
  std::vector<double> numbers;        // int, long, float, double, bool and their lists
  std::vector<std::string> strings;   // string and string lists
};

struct ProgramOp {
  std::string type;  // "conv2d", "depthwise_conv2d", "batch_norm", "elementwise_add", ...
  std::map<std::string, std::vector<std::string>> inputs;   // slot -> variable names
  std::map<std::string, std::vector<std::string>> outputs;
  std::map<std::string, ProgramAttr> attrs;

  // The single variable of a slot, or "" when the slot is absent or empty.
  std::string input(const std::string& slot) const;
  std::string output(const std::string& slot) const;
  bool has_attr(const std::string& name) const { return attrs.count(name) != 0; }
  double number(const std::string& name, double fallback) const;
  std::vector<double> numbers(const std::string& name) const;
};

struct Program {
  std::string source;
  std::vector<ProgramVar> vars;  // global block
  std::vector<ProgramOp> ops;    // global block, in order
  const ProgramVar* var(const std::string& name) const;
  // Persistable tensors, as Paddle Inference lists them for a combined
  // params file: global block, persistable, not feed/fetch/raw, sorted by name.
  std::vector<std::string> sorted_parameter_names() const;
};

Program parse_program_desc(const std::uint8_t* data, std::size_t size, const std::string& source);
Program parse_pir_json(const std::string& text, const std::string& source);

}  // namespace paddle
}  // namespace tx2yolo
