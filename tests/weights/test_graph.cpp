// Graph shape inference and validation, the model config, and the
// YOLOv3-MobileNetV1 template against the published layer arithmetic
// (shared/research/paddle-semantics.md §1, §2, §8).
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "weights/architecture.h"
#include "weights/graph.h"
#include "weights/model_config.h"

namespace tx2yolo {
namespace {

WeightShapes shapes_of(const ArchitectureGraph& a) {
  WeightShapes w;
  for (const auto& t : a.weights) w[t.first] = t.second;
  return w;
}

long long total_macs(const ArchitectureGraph& a, int h, int w) {
  const WeightShapes ws = shapes_of(a);
  long long sum = 0;
  for (const auto& kv : graph_macs(a.graph, ws, infer_shapes(a.graph, ws, h, w))) sum += kv.second;
  return sum;
}

long long conv_weight_count(const ArchitectureGraph& a) {
  long long n = 0;
  for (const auto& t : a.weights) {
    if (t.second.size() != 4) continue;
    long long p = 1;
    for (long long d : t.second) p *= d;
    n += p;
  }
  return n;
}

// Expects `fn` to throw an Error whose message contains `needle`.
template <typename Fn>
void expect_error(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Architecture, StandardModelMacsMatchPublishedCount) {
  const ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec{});
  // 21.69 GMAC at 608 for VOC (20 classes); the count reproduces Paddle's 20.20 "GFLOPs" (MACs / 2^30).
  EXPECT_EQ(total_macs(a, 608, 608), 21694656000LL);
  EXPECT_EQ(total_macs(a, 416, 416), 21694656000LL / 361 * 169);
  EXPECT_EQ(conv_weight_count(a), 3185088LL + 20889600LL + 134400LL);
}

TEST(Architecture, SeparableHeadMacsAndWeights) {
  ArchitectureSpec spec;
  spec.separable_head = true;
  const ArchitectureGraph a = build_yolov3_mobilenet_v1(spec);
  EXPECT_EQ(total_macs(a, 608, 608), 8102295552LL);
  EXPECT_EQ(conv_weight_count(a), 3185088LL + 4398720LL + 134400LL);
  EXPECT_EQ(a.config.head_type, "separable");
}

TEST(Architecture, HeadShapesTapsAndConcatWidths) {
  const ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec{});
  const auto s = infer_shapes(a.graph, shapes_of(a), 608, 608);
  EXPECT_EQ(s.at("yolo_head.yolo_output.0"), (TensorShape{75, 19, 19}));
  EXPECT_EQ(s.at("yolo_head.yolo_output.1"), (TensorShape{75, 38, 38}));
  EXPECT_EQ(s.at("yolo_head.yolo_output.2"), (TensorShape{75, 76, 76}));
  EXPECT_EQ(s.at("backbone.conv3_2._pointwise_conv"), (TensorShape{256, 76, 76}));
  EXPECT_EQ(s.at("backbone.conv6._pointwise_conv"), (TensorShape{1024, 19, 19}));
  EXPECT_EQ(s.at("neck.concat.1"), (TensorShape{768, 38, 38}));
  EXPECT_EQ(s.at("neck.concat.2"), (TensorShape{384, 76, 76}));
  // The upsampled route comes first in the concat.
  for (const Node& n : a.graph.nodes) {
    if (n.name == "neck.concat.1") {
      EXPECT_EQ(n.inputs.at(0), "neck.upsample.0");
      EXPECT_EQ(n.inputs.at(1), "backbone.conv4_2._pointwise_conv");
    }
  }
  ModelConfig c = a.config;
  check_config_against_graph(c, a.graph, s);
  EXPECT_EQ(c.heads.at(0).anchors.at(2), std::make_pair(373.f, 326.f));
  EXPECT_EQ(c.heads.at(2).downsample, 8);
}

TEST(Architecture, PrunedWidthsThatAreNotMultiplesOf8) {
  ArchitectureSpec spec = ArchitectureSpec::scaled(0.25, 3);
  spec.det_block[1] = {77, 154, 77, 154, 77, 154};  // r578-style kept widths
  spec.det_block[2] = {26, 51, 26, 51, 26, 51};
  const ArchitectureGraph a = build_yolov3_mobilenet_v1(spec);
  const auto s = infer_shapes(a.graph, shapes_of(a), 320, 320);
  EXPECT_EQ(s.at("yolo_head.yolo_output.1"), (TensorShape{24, 20, 20}));
  EXPECT_EQ(s.at("neck.concat.2").c, 32 + 64);  // transition 128*0.25 + conv3_2 256*0.25
}

TEST(Graph, JsonRoundTripPreservesEveryField) {
  ArchitectureSpec spec = ArchitectureSpec::scaled(0.125, 2);
  spec.separable_head = true;
  const ArchitectureGraph a = build_yolov3_mobilenet_v1(spec);
  const nlohmann::json j = graph_to_json(a.graph);
  const Graph back = graph_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(graph_to_json(back), j);
  ASSERT_EQ(back.nodes.size(), a.graph.nodes.size());
  EXPECT_EQ(back.nodes[0].conv.stride_h, 2);
  EXPECT_EQ(back.outputs, a.graph.outputs);
}

TEST(Graph, UnknownInputTensorIsNamed) {
  ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1));
  a.graph.nodes[3].inputs[0] = "nowhere";
  expect_error([&] { infer_shapes(a.graph, shapes_of(a), 320, 320); }, "reads tensor 'nowhere'");
}

TEST(Graph, WeightShapeMismatchNamesBothShapes) {
  ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1));
  WeightShapes w = shapes_of(a);
  w["backbone.conv2_1._pointwise_conv.weight"] = {8, 5, 1, 1};
  expect_error([&] { infer_shapes(a.graph, w, 320, 320); }, "has shape [8, 5, 1, 1], expected [8, 4, 1, 1]");
}

TEST(Graph, ConcatWithMismatchedSpatialSizeIsRejected) {
  ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1));
  for (Node& n : a.graph.nodes)
    if (n.name == "neck.concat.1") n.inputs[1] = "backbone.conv3_2._pointwise_conv";  // 40x40, not 20x20
  expect_error([&] { infer_shapes(a.graph, shapes_of(a), 320, 320); }, "H and W must match");
}

TEST(Graph, UnusedTensorAndMissingBiasAreRejected) {
  ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1));
  WeightShapes w = shapes_of(a);
  w["stray.weight"] = {1};
  expect_error([&] { infer_shapes(a.graph, w, 320, 320); }, "tensor 'stray.weight' is in the file but no node uses it");
  w = shapes_of(a);
  w.erase("backbone.conv1.bias");
  expect_error([&] { infer_shapes(a.graph, w, 320, 320); }, "uses bias 'backbone.conv1.bias'");
}

TEST(Graph, DuplicateNodeNameAndBadGroupsAreRejected) {
  ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1));
  Graph g = a.graph;
  g.nodes[2].name = g.nodes[1].name;
  expect_error([&] { infer_shapes(g, shapes_of(a), 320, 320); }, "is used twice");
  g = a.graph;
  g.nodes[1].conv.groups = 3;  // conv2_1 depthwise has 4 channels
  expect_error([&] { infer_shapes(g, shapes_of(a), 320, 320); }, "groups 3 must divide");
}

TEST(Graph, FromJsonRejectsWrongTypesAndUnknownOps) {
  nlohmann::json j = graph_to_json(build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1)).graph);
  nlohmann::json bad = j;
  bad["nodes"][0]["op"] = "softmax";
  expect_error([&] { graph_from_json(bad); }, "unknown op 'softmax'");
  bad = j;
  bad["nodes"][0]["attrs"]["stride"] = {2};
  expect_error([&] { graph_from_json(bad); }, "must be a [h, w] pair");
  bad = j;
  bad["nodes"][0]["attrs"]["activation"] = "swish";
  expect_error([&] { graph_from_json(bad); }, "unknown activation 'swish'");
  bad = j;
  bad.erase("outputs");
  expect_error([&] { graph_from_json(bad); }, "has no 'outputs'");
}

TEST(ModelConfig, JsonRoundTripAndRangeChecks) {
  const ModelConfig c = build_yolov3_mobilenet_v1(ArchitectureSpec{}).config;
  const nlohmann::json j = config_to_json(c);
  EXPECT_EQ(config_to_json(config_from_json(j)), j);
  nlohmann::json bad = j;
  bad["input"]["height"] = 600;
  expect_error([&] { config_from_json(bad); }, "must be positive multiples of 32");
  bad = j;
  bad["heads"][0]["anchors"][0] = {-5, 10};
  expect_error([&] { config_from_json(bad); }, "anchors must be positive");
  bad = j;
  bad["nms"]["nms_threshold"] = 1.5;
  expect_error([&] { config_from_json(bad); }, "nms.nms_threshold = 1.5 is outside");
  bad = j;
  bad["head_type"] = "lite";
  expect_error([&] { config_from_json(bad); }, "head_type = 'lite' is not one of");
}

TEST(ModelConfig, GraphInputMustHaveThreeChannels) {
  ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 1));
  a.graph.input.channels = 64;
  WeightShapes w = shapes_of(a);
  w["backbone.conv1.weight"][1] = 64;  // a first conv that consumes 64 channels
  const auto s = infer_shapes(a.graph, w, 320, 320);
  expect_error([&] { check_config_against_graph(a.config, a.graph, s); },
               "has 64 channels; preprocessing produces 3");
}

TEST(Graph, ChannelAndElementCountsAreBounded) {
  // Concats of concats would overflow int channel counts without a cap.
  Graph g;
  std::string x = "image";
  for (int i = 0; i < 20; ++i) {
    Node n;
    n.name = n.output = "cat" + std::to_string(i);
    n.op = OpKind::kConcat;
    n.inputs = std::vector<std::string>(8, x);
    g.nodes.push_back(n);
    x = n.output;
  }
  g.outputs = {x};
  expect_error([&] { infer_shapes(g, {}, 1, 1); }, "channels; at most 1048576 are supported");
  // Upsampling chains would ask for absurd activations.
  Graph up;
  std::string y = "image";
  for (int i = 0; i < 3; ++i) {
    Node n;
    n.name = n.output = "up" + std::to_string(i);
    n.op = OpKind::kUpsampleNearest;
    n.scale = 16;
    n.inputs = {y};
    up.nodes.push_back(n);
    y = n.output;
  }
  up.outputs = {y};
  expect_error([&] { infer_shapes(up, {}, 64, 64); }, "has more than 268435456 elements");
}

TEST(ModelConfig, HeadWidthMustBeAnchorsTimesFivePlusClasses) {
  const ArchitectureGraph a = build_yolov3_mobilenet_v1(ArchitectureSpec::scaled(0.125, 4));
  const auto s = infer_shapes(a.graph, shapes_of(a), 608, 608);
  ModelConfig c = a.config;
  c.classes.push_back("extra");
  expect_error([&] { check_config_against_graph(c, a.graph, s); }, "has 27 channels; 3 anchors x (5 + 5 classes) needs 30");
  c = a.config;
  c.heads[0].downsample = 16;
  expect_error([&] { check_config_against_graph(c, a.graph, s); }, "does not match downsample 16");
}

}  // namespace
}  // namespace tx2yolo
