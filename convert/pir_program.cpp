// Paddle 3 PIR programs (`*.json`, shared/research/paddle-formats.md §3),
// reduced to the same Program as a ProgramDesc:
//
//   {"base_code": {"magic": "pir", "version": 1, ...},
//    "program": {"regions": [{"blocks": [{"ops": [ ... ]}]}]}}
//   parameter op: {"#": "p", "A": [is_distributed, is_parameter, need_clip, "<name>"],
//                  "O": {"%": id, "TT": type}, "OA": [persistable, stop_gradient, trainable]}
//   other ops:    {"#": "<dialect>.<op>", "I": [{"%": id}, ...], "O": [{"%": id, "TT": type}, ...],
//                  "A": [{"N": name, "AT": attr}, ...]}
//   dense tensor type: {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [dims], layout, lod, offset]}
//   attribute: {"#": "0.a_i32" | "0.a_f32" | "0.a_str" | "0.a_bool" | "0.a_array" | ..., "D": value}
//
// Values are named "%<id>" except parameters, which keep their parameter
// names. Operands are positional in PIR; the ops the converter reads get the
// ProgramDesc slot names (conv2d: Input, Filter -> Output; batch_norm: X,
// Mean, Variance, Scale, Bias -> Y; add: X, Y -> Out; ...). Other ops get
// "X" for all operands, in order, and "Out" for their results. The in-place
// forms (batch_norm_) are read as the plain ones.
#include <map>

#include "core/error.h"
#include "convert/param_tensor.h"
#include "convert/program.h"
#include "weights/json_guard.h"

namespace tx2yolo {
namespace paddle {

namespace {

using nlohmann::json;

const json& member(const json& j, const char* key, const std::string& where) {
  TX2_REQUIRE(j.is_object() && j.find(key) != j.end(), where, ": PIR JSON has no \"", key, "\"");
  return j.at(key);
}

int dtype_code(const std::string& t) {
  static const std::map<std::string, int> codes = {
      {"0.t_f32", kPdFp32}, {"0.t_f16", kPdFp16},   {"0.t_f64", kPdFp64},  {"0.t_bf16", kPdBf16},
      {"0.t_i8", kPdInt8},  {"0.t_ui8", kPdUint8}, {"0.t_i16", kPdInt16}, {"0.t_i32", kPdInt32},
      {"0.t_i64", kPdInt64}, {"0.t_bool", kPdBool}};
  const auto it = codes.find(t);
  return it == codes.end() ? -1 : it->second;
}

// A result value's variable: dims and dtype from its dense-tensor type.
ProgramVar value_var(const std::string& name, const json& type) {
  ProgramVar v;
  v.name = name;
  v.type = 7;
  if (type.is_object() && type.value("#", "") == "0.t_dtensor" && type.contains("D")) {
    const json& d = type.at("D");
    if (d.is_array() && d.size() >= 2) {
      if (d[0].is_object()) v.dtype = dtype_code(d[0].value("#", ""));
      if (d[1].is_array())
        for (const json& x : d[1]) v.dims.push_back(x.is_number_integer() ? x.get<long long>() : -1);
    }
  }
  return v;
}

void flatten_attr(const json& a, ProgramAttr* out, int depth) {
  if (depth > 16) return;
  if (a.is_boolean()) {
    out->numbers.push_back(a.get<bool>() ? 1 : 0);
  } else if (a.is_number()) {
    out->numbers.push_back(a.get<double>());
  } else if (a.is_string()) {
    out->strings.push_back(a.get<std::string>());
  } else if (a.is_array()) {
    for (const json& x : a) flatten_attr(x, out, depth + 1);
  } else if (a.is_object()) {
    if (a.find("D") != a.end()) flatten_attr(a.at("D"), out, depth + 1);
  }
}

// ProgramDesc slot names for the operands and results of the ops the converter reads.
struct Slots {
  std::vector<const char*> in, out;
};
const std::map<std::string, Slots>& known_slots() {
  static const std::map<std::string, Slots> slots = {
      {"conv2d", {{"Input", "Filter"}, {"Output"}}},
      {"depthwise_conv2d", {{"Input", "Filter"}, {"Output"}}},
      {"batch_norm", {{"X", "Mean", "Variance", "Scale", "Bias"}, {"Y"}}},
      {"add", {{"X", "Y"}, {"Out"}}},
      {"reshape", {{"X", "Shape"}, {"Out"}}},
      {"yolo_box", {{"X", "ImgSize"}, {"Boxes", "Scores"}}},
      {"multiclass_nms3", {{"BBoxes", "Scores", "RoisNum"}, {"Out", "Index", "NmsRoisNum"}}},
      {"feed", {{}, {"Out"}}},
  };
  return slots;
}

// PIR op names that differ from their ProgramDesc names.
std::string legacy_type(const std::string& type) {
  if (type == "add") return "elementwise_add";
  if (type == "reshape") return "reshape2";
  return type;
}

}  // namespace

namespace {
Program parse_pir_document(const json& root, const std::string& source);
}  // namespace

Program parse_pir_json(const std::string& text, const std::string& source) {
  const json root = parse_json_checked(text, source);
  // The reader checks the structure it uses as it goes; nlohmann's own
  // errors (a member missing or of another type where one was assumed) are
  // reported the same way (fuzz_pir_json found a dense tensor type without
  // "D" escaping as nlohmann's out_of_range).
  try {
    return parse_pir_document(root, source);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(source, ": PIR JSON of an unexpected structure (", e.what(), ")"));
  }
}

namespace {
Program parse_pir_document(const json& root, const std::string& source) {
  const json& base = member(root, "base_code", source);
  TX2_REQUIRE(base.value("magic", "") == "pir", source, ": base_code.magic is not \"pir\"; not a Paddle 3 PIR program");
  const json& regions = member(member(root, "program", source), "regions", source);
  TX2_REQUIRE(regions.is_array() && !regions.empty(), source, ": PIR program has no regions");
  const json& blocks = member(regions[0], "blocks", source);
  TX2_REQUIRE(blocks.is_array() && !blocks.empty(), source, ": PIR program has no blocks");
  const json& ops = member(blocks[0], "ops", source);
  TX2_REQUIRE(ops.is_array() && !ops.empty(), source, ": the PIR program's first block has no ops");

  Program p;
  p.source = source;
  std::map<long long, std::string> names;  // value id -> variable name
  auto name_of = [&](const json& operand, const std::string& where) -> std::string {
    const json& id = member(operand, "%", where);
    TX2_REQUIRE(id.is_number_integer(), where, ": a value id is not an integer");
    const long long v = id.get<long long>();
    if (v == 0) return "";  // a null operand
    const auto it = names.find(v);
    TX2_REQUIRE(it != names.end(), where, ": operand %", v, " is used before it is defined");
    return it->second;
  };

  for (std::size_t i = 0; i < ops.size(); ++i) {
    const json& op = ops[i];
    const std::string where = cat(source, ": op ", i);
    const std::string kind = member(op, "#", where).is_string() ? op.at("#").get<std::string>() : "";
    TX2_REQUIRE(!kind.empty(), where, ": op has no name");
    if (kind == "p") {  // builtin.parameter
      const json& attrs = member(op, "A", where);
      TX2_REQUIRE(attrs.is_array() && attrs.size() >= 4 && attrs[3].is_string(), where,
                  ": a parameter op without a name");
      const json& out = member(op, "O", where);
      ProgramVar v = value_var(attrs[3].get<std::string>(), out.contains("TT") ? out.at("TT") : json());
      v.persistable = true;
      if (op.contains("OA") && op.at("OA").is_array() && !op.at("OA").empty() && op.at("OA")[0].is_number())
        // Compared as a double: any JSON number converts to one, where a
        // float outside int's range made get<int>() undefined (fuzz_pir_json).
        v.persistable = op.at("OA")[0].get<double>() != 0.0;
      TX2_REQUIRE(out.contains("%") && out.at("%").is_number_integer(), where, ": parameter without a value id");
      names[out.at("%").get<long long>()] = v.name;
      p.vars.push_back(v);
      continue;
    }
    const auto dot = kind.find('.');
    std::string type = dot == std::string::npos ? kind : kind.substr(dot + 1);
    if (!type.empty() && type.back() == '_') type.pop_back();  // in-place form
    ProgramOp po;
    po.type = legacy_type(type);
    const auto known = known_slots().find(type);
    if (op.contains("I")) {
      const json& in = op.at("I");
      TX2_REQUIRE(in.is_array(), where, ": operands are not a list");
      for (std::size_t k = 0; k < in.size(); ++k) {
        const std::string n = name_of(in[k], where);
        if (n.empty()) continue;  // an optional operand left out
        const bool named = known != known_slots().end() && k < known->second.in.size();
        po.inputs[named ? known->second.in[k] : "X"].push_back(n);
      }
    }
    if (op.contains("O")) {
      const json& out = op.at("O");
      TX2_REQUIRE(out.is_array(), where, ": results are not a list");
      for (std::size_t k = 0; k < out.size(); ++k) {
        const json& id = member(out[k], "%", where);
        TX2_REQUIRE(id.is_number_integer(), where, ": a result id is not an integer");
        const std::string n = cat("%", id.get<long long>());
        names[id.get<long long>()] = n;
        p.vars.push_back(value_var(n, out[k].contains("TT") ? out[k].at("TT") : json()));
        const bool named = known != known_slots().end() && k < known->second.out.size();
        po.outputs[named ? known->second.out[k] : "Out"].push_back(n);
      }
    }
    if (op.contains("A") && op.at("A").is_array()) {
      for (const json& a : op.at("A")) {
        if (!a.is_object() || !a.contains("N") || !a.at("N").is_string() || !a.contains("AT")) continue;
        ProgramAttr attr;
        flatten_attr(a.at("AT"), &attr, 0);
        po.attrs[a.at("N").get<std::string>()] = attr;
      }
    }
    p.ops.push_back(std::move(po));
  }
  TX2_REQUIRE(!p.ops.empty(), source, ": the PIR program has no ops besides parameters");
  return p;
}
}  // namespace


}  // namespace paddle
}  // namespace tx2yolo
