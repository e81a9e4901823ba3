#include "weights/graph.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "weights/json_guard.h"

namespace tx2yolo {

using json = nlohmann::json;

const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::kConv2d: return "conv2d";
    case OpKind::kUpsampleNearest: return "upsample_nearest";
    case OpKind::kConcat: return "concat";
  }
  return "unknown";
}

namespace {

OpKind op_from_string(const std::string& s, const std::string& node) {
  if (s == "conv2d") return OpKind::kConv2d;
  if (s == "upsample_nearest") return OpKind::kUpsampleNearest;
  if (s == "concat") return OpKind::kConcat;
  throw Error(cat("graph: node '", node, "' has unknown op '", s,
                  "' (expected conv2d, upsample_nearest or concat)"));
}

const json& field(const json& obj, const char* key, const std::string& where) {
  TX2_REQUIRE(obj.is_object(), "graph: ", where, " must be an object");
  const auto it = obj.find(key);
  TX2_REQUIRE(it != obj.end(), "graph: ", where, " has no '", key, "'");
  return *it;
}

std::string get_string(const json& obj, const char* key, const std::string& where) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_string(), "graph: ", where, ".", key, " must be a string");
  return v.get<std::string>();
}

int get_int(const json& v, const std::string& where, int lo, int hi) {
  TX2_REQUIRE(v.is_number_integer(), "graph: ", where, " must be an integer");
  const auto x = v.get<long long>();
  TX2_REQUIRE(x >= lo && x <= hi, "graph: ", where, " = ", x, " is outside [", lo, ", ", hi, "]");
  return static_cast<int>(x);
}

// Reads a [h, w] pair of integers.
void get_pair(const json& obj, const char* key, const std::string& where, int lo, int hi, int* h, int* w) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_array() && v.size() == 2, "graph: ", where, ".", key, " must be a [h, w] pair");
  *h = get_int(v[0], cat(where, ".", key, "[0]"), lo, hi);
  *w = get_int(v[1], cat(where, ".", key, "[1]"), lo, hi);
}

std::vector<std::string> get_string_list(const json& obj, const char* key, const std::string& where) {
  const json& v = field(obj, key, where);
  TX2_REQUIRE(v.is_array(), "graph: ", where, ".", key, " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& s : v) {
    TX2_REQUIRE(s.is_string(), "graph: ", where, ".", key, " must be an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

json graph_to_json(const Graph& g) {
  json nodes = json::array();
  for (const Node& n : g.nodes) {
    json jn = {{"name", n.name}, {"op", op_name(n.op)}, {"inputs", n.inputs}, {"output", n.output}};
    if (n.op == OpKind::kConv2d) {
      jn["attrs"] = {{"kernel", {n.conv.kernel_h, n.conv.kernel_w}},
                     {"stride", {n.conv.stride_h, n.conv.stride_w}},
                     {"pad", {n.conv.pad_h, n.conv.pad_w}},
                     {"groups", n.conv.groups},
                     {"activation", activation_name(n.conv.activation)},
                     {"alpha", json_float(n.conv.alpha)}};
      jn["weight"] = n.weight;
      if (!n.bias.empty()) jn["bias"] = n.bias;
    } else if (n.op == OpKind::kUpsampleNearest) {
      jn["attrs"] = {{"scale", n.scale}};
    }
    nodes.push_back(std::move(jn));
  }
  return json{{"input", {{"name", g.input.name}, {"channels", g.input.channels}}},
              {"nodes", std::move(nodes)},
              {"outputs", g.outputs}};
}

Graph graph_from_json(const json& j) {
  TX2_REQUIRE(j.is_object(), "graph: the graph must be a JSON object");
  Graph g;
  const json& in = field(j, "input", "graph");
  g.input.name = get_string(in, "name", "input");
  g.input.channels = get_int(field(in, "channels", "input"), "input.channels", 1, static_cast<int>(kMaxChannels));
  const json& nodes = field(j, "nodes", "graph");
  TX2_REQUIRE(nodes.is_array(), "graph: 'nodes' must be an array");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const json& jn = nodes[i];
    const std::string where = cat("node #", i);
    Node n;
    n.name = get_string(jn, "name", where);
    const std::string nw = cat("node '", n.name, "'");
    n.op = op_from_string(get_string(jn, "op", nw), n.name);
    n.inputs = get_string_list(jn, "inputs", nw);
    n.output = get_string(jn, "output", nw);
    if (n.op == OpKind::kConv2d) {
      const json& a = field(jn, "attrs", nw);
      const std::string aw = nw + ".attrs";
      get_pair(a, "kernel", aw, 1, 64, &n.conv.kernel_h, &n.conv.kernel_w);
      get_pair(a, "stride", aw, 1, 64, &n.conv.stride_h, &n.conv.stride_w);
      get_pair(a, "pad", aw, 0, 64, &n.conv.pad_h, &n.conv.pad_w);
      n.conv.groups = get_int(field(a, "groups", aw), aw + ".groups", 1, 1 << 20);
      try {
        n.conv.activation = activation_from_string(get_string(a, "activation", aw));
      } catch (const Error& e) {
        throw Error(cat("graph: ", nw, ": ", e.what()));
      }
      const json& alpha = field(a, "alpha", aw);
      TX2_REQUIRE(alpha.is_number(), "graph: ", aw, ".alpha must be a number");
      const double alpha_value = alpha.get<double>();
      // leaky_relu is x > 0 ? x : alpha * x, which equals Paddle's max(x, alpha * x) only for alpha < 1.
      TX2_REQUIRE(alpha_value >= 0.0 && alpha_value < 1.0, "graph: ", aw, ".alpha = ", alpha_value,
                  " is outside [0, 1)");
      n.conv.alpha = static_cast<float>(alpha_value);
      n.weight = get_string(jn, "weight", nw);
      if (jn.find("bias") != jn.end()) n.bias = get_string(jn, "bias", nw);
    } else if (n.op == OpKind::kUpsampleNearest) {
      const json& a = field(jn, "attrs", nw);
      n.scale = get_int(field(a, "scale", nw + ".attrs"), nw + ".attrs.scale", 1, 64);
    }
    g.nodes.push_back(std::move(n));
  }
  g.outputs = get_string_list(j, "outputs", "graph");
  return g;
}

std::string shape_to_string(const std::vector<long long>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += cat(i ? ", " : "", shape[i]);
  return out + "]";
}

int conv_out_channels(const Node& n, const WeightShapes& weights) {
  const auto it = weights.find(n.weight);
  TX2_REQUIRE(it != weights.end(), "graph: node '", n.name, "' uses weight '", n.weight,
              "', which is not in the file");
  TX2_REQUIRE(it->second.size() == 4, "graph: weight '", n.weight, "' of node '", n.name,
              "' must have shape [C_out, C_in/groups, K_h, K_w], got ", it->second.size(), " dimensions");
  TX2_REQUIRE(it->second[0] > 0 && it->second[0] <= kMaxChannels, "graph: weight '", n.weight,
              "' of node '", n.name, "' has ", it->second[0], " output channels");
  return static_cast<int>(it->second[0]);
}

namespace {

std::string shape_str(const TensorShape& s) { return shape_to_string({s.c, s.h, s.w}); }

}  // namespace

std::map<std::string, TensorShape> infer_shapes(const Graph& g, const WeightShapes& weights,
                                                int input_h, int input_w) {
  TX2_REQUIRE(input_h > 0 && input_w > 0, "graph: input size ", input_h, "x", input_w, " is invalid");
  TX2_REQUIRE(!g.input.name.empty(), "graph: the input has no name");
  std::map<std::string, TensorShape> shapes;
  shapes[g.input.name] = TensorShape{g.input.channels, input_h, input_w};
  std::set<std::string> node_names;
  std::set<std::string> used_weights;

  for (const Node& n : g.nodes) {
    TX2_REQUIRE(!n.name.empty(), "graph: a node has an empty name");
    TX2_REQUIRE(node_names.insert(n.name).second, "graph: node name '", n.name, "' is used twice");
    TX2_REQUIRE(!n.output.empty(), "graph: node '", n.name, "' has no output name");
    TX2_REQUIRE(!shapes.count(n.output), "graph: node '", n.name, "' writes tensor '", n.output,
                "', which already exists");
    std::vector<TensorShape> in;
    for (const std::string& name : n.inputs) {
      const auto it = shapes.find(name);
      TX2_REQUIRE(it != shapes.end(), "graph: node '", n.name, "' reads tensor '", name,
                  "', which no earlier node produces");
      in.push_back(it->second);
    }
    TensorShape out;
    switch (n.op) {
      case OpKind::kConv2d: {
        TX2_REQUIRE(in.size() == 1, "graph: conv2d node '", n.name, "' needs 1 input, has ", in.size());
        const ConvAttrs& a = n.conv;
        const int cout = conv_out_channels(n, weights);
        TX2_REQUIRE(in[0].c % a.groups == 0 && cout % a.groups == 0, "graph: node '", n.name,
                    "': groups ", a.groups, " must divide input channels ", in[0].c,
                    " and output channels ", cout);
        const std::vector<long long> expected = {cout, in[0].c / a.groups, a.kernel_h, a.kernel_w};
        const auto& got = weights.at(n.weight);
        TX2_REQUIRE(got == expected, "graph: weight '", n.weight, "' of node '", n.name, "' has shape ",
                    shape_to_string(got), ", expected ", shape_to_string(expected), " from input ", shape_str(in[0]));
        used_weights.insert(n.weight);
        if (!n.bias.empty()) {
          const auto b = weights.find(n.bias);
          TX2_REQUIRE(b != weights.end(), "graph: node '", n.name, "' uses bias '", n.bias,
                      "', which is not in the file");
          TX2_REQUIRE(b->second == std::vector<long long>{cout}, "graph: bias '", n.bias, "' of node '",
                      n.name, "' has shape ", shape_to_string(b->second), ", expected [", cout, "]");
          used_weights.insert(n.bias);
        }
        const long long span_h = static_cast<long long>(in[0].h) + 2 * a.pad_h - a.kernel_h;
        const long long span_w = static_cast<long long>(in[0].w) + 2 * a.pad_w - a.kernel_w;
        TX2_REQUIRE(span_h >= 0 && span_w >= 0, "graph: node '", n.name, "': input ", shape_str(in[0]),
                    " is smaller than its ", a.kernel_h, "x", a.kernel_w, " kernel");
        out = TensorShape{cout, static_cast<int>(span_h / a.stride_h + 1),
                          static_cast<int>(span_w / a.stride_w + 1)};
        break;
      }
      case OpKind::kUpsampleNearest:
        TX2_REQUIRE(in.size() == 1, "graph: upsample_nearest node '", n.name, "' needs 1 input, has ",
                    in.size());
        TX2_REQUIRE(static_cast<long long>(in[0].h) * n.scale <= (1 << 16) &&
                        static_cast<long long>(in[0].w) * n.scale <= (1 << 16),
                    "graph: node '", n.name, "' would upsample ", shape_str(in[0]), " beyond 65536");
        out = TensorShape{in[0].c, in[0].h * n.scale, in[0].w * n.scale};
        break;
      case OpKind::kConcat: {
        TX2_REQUIRE(in.size() >= 2 && in.size() <= 8, "graph: concat node '", n.name,
                    "' needs 2 to 8 inputs, has ", in.size());
        long long channels = 0;
        for (std::size_t i = 0; i < in.size(); ++i) {
          TX2_REQUIRE(in[i].h == in[0].h && in[i].w == in[0].w, "graph: concat node '", n.name, "': input '",
                      n.inputs[i], "' is ", shape_str(in[i]), " but input '", n.inputs[0], "' is ",
                      shape_str(in[0]), " (H and W must match)");
          channels += in[i].c;
        }
        TX2_REQUIRE(channels <= kMaxChannels, "graph: concat node '", n.name, "' would have ", channels,
                    " channels; at most ", kMaxChannels, " are supported");
        out = TensorShape{static_cast<int>(channels), in[0].h, in[0].w};
        break;
      }
    }
    TX2_REQUIRE(out.numel() <= kMaxTensorElements, "graph: node '", n.name, "' output ", shape_str(out),
                " at input ", input_h, "x", input_w, " has more than ", kMaxTensorElements, " elements");
    shapes[n.output] = out;
  }

  TX2_REQUIRE(!g.outputs.empty(), "graph: no outputs are listed");
  for (const std::string& o : g.outputs) {
    TX2_REQUIRE(shapes.count(o) && o != g.input.name, "graph: output '", o, "' is not produced by any node");
  }
  for (const auto& w : weights) {
    TX2_REQUIRE(used_weights.count(w.first), "graph: tensor '", w.first,
                "' is in the file but no node uses it");
  }
  return shapes;
}

std::map<std::string, long long> graph_macs(const Graph& g, const WeightShapes& weights,
                                            const std::map<std::string, TensorShape>& shapes) {
  std::map<std::string, long long> macs;
  for (const Node& n : g.nodes) {
    if (n.op != OpKind::kConv2d) continue;
    const auto& w = weights.at(n.weight);
    const TensorShape& out = shapes.at(n.output);
    macs[n.name] = static_cast<long long>(out.h) * out.w * w[0] * w[1] * w[2] * w[3];
  }
  return macs;
}

}  // namespace tx2yolo
