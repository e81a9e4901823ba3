// ProgramDesc (framework.proto) decoding with the hand-written wire reader.
// Field numbers (shared/research/paddle-formats.md §2.2):
//   ProgramDesc { 1 blocks }            BlockDesc { 1 idx, 2 parent_idx, 3 vars, 4 ops }
//   VarDesc { 1 name, 2 type: VarType, 3 persistable }
//   VarType { 1 type, 3 lod_tensor: LoDTensorDesc { 1 tensor: TensorDesc } }
//   TensorDesc { 1 data_type, 2 dims }
//   OpDesc { 1 inputs: Var, 2 outputs: Var, 3 type, 4 attrs: Attr }
//   OpDesc.Var { 1 parameter, 2 arguments }
//   OpDesc.Attr { 1 name, 2 type, 3 i, 4 f, 5 s, 6 ints, 7 floats, 8 strings,
//                 10 b, 11 bools, 13 l, 15 longs, 16 float64s, 19 float64 }
#include <algorithm>

#include "core/error.h"
#include "convert/program.h"
#include "convert/protobuf_wire.h"

namespace tx2yolo {
namespace paddle {

namespace {

void parse_tensor_desc(const WireField& field, ProgramVar* v, const std::string& what) {
  WireReader r(field, what);
  WireField f;
  std::vector<std::int64_t> dims;
  while (r.next(&f)) {
    if (f.number == 1 && f.wire_type == 0) v->dtype = f.as_int32();
    if (f.number == 2) WireReader::append_varints(f, &dims, what);
  }
  v->dims.assign(dims.begin(), dims.end());
}

ProgramVar parse_var(const WireField& field, const std::string& what) {
  ProgramVar v;
  WireReader r(field, what);
  WireField f;
  while (r.next(&f)) {
    if (f.number == 1 && f.wire_type == 2) v.name = f.as_string();
    if (f.number == 3 && f.wire_type == 0) v.persistable = f.value != 0;
    if (f.number == 2 && f.wire_type == 2) {
      WireReader t(f, what + ": VarType");
      WireField g;
      while (t.next(&g)) {
        if (g.number == 1 && g.wire_type == 0) v.type = g.as_int32();
        if (g.number == 3 && g.wire_type == 2) {  // LoDTensorDesc
          WireReader l(g, what + ": LoDTensorDesc");
          WireField h;
          while (l.next(&h))
            if (h.number == 1 && h.wire_type == 2) parse_tensor_desc(h, &v, what + ": TensorDesc");
        }
      }
    }
  }
  return v;
}

void parse_slot(const WireField& field, std::map<std::string, std::vector<std::string>>* slots,
                const std::string& what) {
  WireReader r(field, what);
  WireField f;
  std::string slot;
  std::vector<std::string> args;
  while (r.next(&f)) {
    if (f.number == 1 && f.wire_type == 2) slot = f.as_string();
    if (f.number == 2 && f.wire_type == 2) args.push_back(f.as_string());
  }
  (*slots)[slot] = args;
}

void parse_attr(const WireField& field, ProgramOp* op, const std::string& what) {
  WireReader r(field, what);
  WireField f;
  std::string name;
  ProgramAttr a;
  std::vector<std::int64_t> ints;
  while (r.next(&f)) {
    switch (f.number) {
      case 1: name = f.as_string(); break;
      case 3: a.numbers.push_back(f.as_int32()); break;
      case 4: a.numbers.push_back(f.as_float()); break;
      case 5: a.strings.push_back(f.as_string()); break;
      case 6:
      case 11:
      case 15:
        ints.clear();
        WireReader::append_varints(f, &ints, what);
        for (std::int64_t x : ints) a.numbers.push_back(static_cast<double>(f.number == 6 ? static_cast<std::int32_t>(x) : x));
        break;
      case 7: WireReader::append_fixed32_floats(f, &a.numbers, what); break;
      case 8: a.strings.push_back(f.as_string()); break;
      case 10: a.numbers.push_back(f.value != 0 ? 1 : 0); break;
      case 13: a.numbers.push_back(static_cast<double>(f.as_int64())); break;
      case 16: WireReader::append_fixed64_doubles(f, &a.numbers, what); break;
      case 19: a.numbers.push_back(f.as_double()); break;
      default: break;  // type, block indices, var names, scalars: not needed
    }
  }
  if (!name.empty()) op->attrs[name] = a;
}

ProgramOp parse_op(const WireField& field, const std::string& what) {
  ProgramOp op;
  WireReader r(field, what);
  WireField f;
  while (r.next(&f)) {
    if (f.wire_type != 2) continue;
    if (f.number == 1) parse_slot(f, &op.inputs, what + ": input slot");
    if (f.number == 2) parse_slot(f, &op.outputs, what + ": output slot");
    if (f.number == 3) op.type = f.as_string();
    if (f.number == 4) parse_attr(f, &op, what + ": attribute");
  }
  TX2_REQUIRE(!op.type.empty(), what, ": an op without a type (not a Paddle program, or corrupt)");
  return op;
}

}  // namespace

std::string ProgramOp::input(const std::string& slot) const {
  const auto it = inputs.find(slot);
  return it == inputs.end() || it->second.empty() ? std::string() : it->second[0];
}

std::string ProgramOp::output(const std::string& slot) const {
  const auto it = outputs.find(slot);
  return it == outputs.end() || it->second.empty() ? std::string() : it->second[0];
}

double ProgramOp::number(const std::string& name, double fallback) const {
  const auto it = attrs.find(name);
  return it == attrs.end() || it->second.numbers.empty() ? fallback : it->second.numbers[0];
}

std::vector<double> ProgramOp::numbers(const std::string& name) const {
  const auto it = attrs.find(name);
  return it == attrs.end() ? std::vector<double>() : it->second.numbers;
}

const ProgramVar* Program::var(const std::string& name) const {
  for (const ProgramVar& v : vars)
    if (v.name == name) return &v;
  return nullptr;
}

std::vector<std::string> Program::sorted_parameter_names() const {
  std::vector<std::string> names;
  for (const ProgramVar& v : vars) {
    if (!v.persistable || v.type == 9 || v.type == 10 || v.type == 17) continue;
    names.push_back(v.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Program parse_program_desc(const std::uint8_t* data, std::size_t size, const std::string& source) {
  Program p;
  p.source = source;
  TX2_REQUIRE(size > 0, source, ": empty file, expected a Paddle ProgramDesc");
  TX2_REQUIRE(data[0] == 0x0A, source, ": first byte 0x", std::hex, static_cast<int>(data[0]), std::dec,
              " is not a ProgramDesc's blocks field (0x0a); not a Paddle .pdmodel/__model__ file");
  WireReader r(data, size, source + ": ProgramDesc");
  WireField f;
  int blocks = 0;
  while (r.next(&f)) {
    if (f.number != 1) continue;
    TX2_REQUIRE(f.wire_type == 2, source, ": ProgramDesc field 1 is not a block");
    if (blocks++ > 0) continue;  // the global block holds the inference graph
    const std::string what = source + ": block 0";
    WireReader b(f, what);
    WireField g;
    while (b.next(&g)) {
      if (g.number == 3 && g.wire_type == 2) p.vars.push_back(parse_var(g, cat(what, ": var ", p.vars.size())));
      if (g.number == 4 && g.wire_type == 2) p.ops.push_back(parse_op(g, cat(what, ": op ", p.ops.size())));
    }
  }
  TX2_REQUIRE(blocks > 0, source, ": ProgramDesc has no blocks");
  TX2_REQUIRE(!p.ops.empty(), source, ": the program's global block has no ops");
  for (const ProgramVar& v : p.vars) TX2_REQUIRE(!v.name.empty(), source, ": a variable without a name");
  return p;
}

}  // namespace paddle
}  // namespace tx2yolo
