// Which depthwise + pointwise pairs the CUDA backend may fuse
// (engine/fusion.h), and the fused op's CPU reference (kernels/conv2d_dwpw.h),
// checked on the CPU on the real architectures.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "engine/fusion.h"
#include "kernels/conv2d_dwpw.h"
#include "layers/conv_layer.h"
#include "tests/test_util.h"
#include "weights/architecture.h"

namespace tx2yolo {
namespace {

struct Planned {
  ArchitectureGraph arch;
  std::map<std::string, TensorShape> shapes;
  MemoryPlan plan;
  std::map<int, Conv2dParams> convs;  // as the CUDA backend launches them
};

Planned planned(bool separable, int size, int batch) {
  ArchitectureSpec spec;
  spec.separable_head = separable;
  Planned p{build_yolov3_mobilenet_v1(spec), {}, {}, {}};
  WeightShapes w;
  for (const auto& t : p.arch.weights) w[t.first] = t.second;
  p.shapes = infer_shapes(p.arch.graph, w, size, size);
  p.plan = plan_memory(p.arch.graph, p.shapes, batch);
  for (std::size_t i = 0; i < p.arch.graph.nodes.size(); ++i) {
    const Node& n = p.arch.graph.nodes[i];
    if (n.op != OpKind::kConv2d) continue;
    Conv2dParams c = conv2d_params_for(n, p.shapes.at(n.inputs[0]), p.shapes.at(n.output).c, batch);
    c.out_channel_offset = p.plan.tensors.at(n.output).channel_offset;
    c.out_channels_total = p.plan.tensors.at(n.output).channels_total;
    finalize_conv2d_params(c);
    p.convs[static_cast<int>(i)] = c;
  }
  return p;
}

bool depthwise(const Conv2dParams& c) { return c.groups == c.in_channels && c.groups == c.out_channels; }

// Every depthwise -> pointwise chain of both architectures is a candidate.
// A plan made without them reuses many a depthwise input for the pointwise
// output (so those may not fuse); the plan made with them never does, and
// then every candidate may fuse, at a bounded cost in arena bytes.
TEST(Fusion, EveryDepthwisePointwiseChainFusesWithThePlanMadeForIt) {
  for (bool separable : {false, true})
    for (int batch : {1, 4}) {
      SCOPED_TRACE(cat(separable ? "separable" : "standard", " batch ", batch));
      Planned p = planned(separable, 608, batch);
      const Graph& g = p.arch.graph;
      std::map<std::string, int> readers;
      for (const Node& n : g.nodes)
        for (const std::string& in : n.inputs) ++readers[in];
      std::map<int, int> chains;  // pw -> dw, by inspection
      for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        const auto pw = p.convs.find(static_cast<int>(i));
        if (pw == p.convs.end() || pw->second.kernel_h != 1) continue;
        for (std::size_t j = 0; j < g.nodes.size(); ++j)
          if (g.nodes[j].output == g.nodes[i].inputs[0] && p.convs.count(static_cast<int>(j)) &&
              depthwise(p.convs.at(static_cast<int>(j))))
            chains[static_cast<int>(i)] = static_cast<int>(j);
      }
      // MobileNetV1's 13 separable blocks; the separable head adds one per
      // 3x3 conv (3 per level).
      EXPECT_EQ(chains.size(), separable ? 13u + 9u : 13u);
      for (const auto& c : chains) EXPECT_EQ(readers[g.nodes[c.first].inputs[0]], 1) << g.nodes[c.first].name;

      const auto candidates = fusable_dwpw_pairs(g, p.convs, p.plan, false, false);
      EXPECT_EQ(candidates, chains);
      const std::size_t before = fusable_dwpw_pairs(g, p.convs, p.plan, false).size();
      EXPECT_LT(before, chains.size());  // the plain plan's ping-pong reuse forbids some

      const MemoryPlan fused = plan_memory(g, p.shapes, batch, true, true, candidates);
      EXPECT_EQ(fusable_dwpw_pairs(g, p.convs, fused, false), chains);
      for (const auto& c : chains) {
        const PlannedBuffer& in = fused.buffers[fused.tensors.at(g.nodes[c.second].inputs[0]).buffer];
        EXPECT_GE(in.last_step, c.first) << g.nodes[c.first].name;
      }
      // The slices the conv params took from the first plan are unchanged.
      for (const auto& t : p.plan.tensors) {
        EXPECT_EQ(fused.tensors.at(t.first).channel_offset, t.second.channel_offset) << t.first;
        EXPECT_EQ(fused.tensors.at(t.first).channels_total, t.second.channels_total) << t.first;
      }
      EXPECT_EQ(fused.elided_concats, p.plan.elided_concats);
      EXPECT_LE(fused.arena_bytes, p.plan.arena_bytes * 3 / 2);
      // Once they run fused, the intermediates are never written: no bytes.
      const MemoryPlan run = plan_memory(g, p.shapes, batch, true, true, candidates, true);
      EXPECT_EQ(fusable_dwpw_pairs(g, p.convs, run, false), chains);
      for (const auto& c : chains)
        EXPECT_EQ(run.buffers[run.tensors.at(g.nodes[c.second].output).buffer].bytes, 0u) << g.nodes[c.second].name;
      EXPECT_LT(run.arena_bytes, fused.arena_bytes);
      std::printf("%zu chains: %zu fusable on the plain plan, all on the fused plan; arena %.1f MiB plain, "
                  "%.1f for timing the pairs, %.1f with all of them fused\n",
                  chains.size(), before, p.plan.arena_bytes / 1048576.0, fused.arena_bytes / 1048576.0,
                  run.arena_bytes / 1048576.0);
      EXPECT_TRUE(fusable_dwpw_pairs(g, p.convs, fused, true).empty());  // keep_all_tensors
    }
}

TEST(Fusion, PlanRefusesAFusedPairOutOfOrder) {
  Planned p = planned(false, 320, 1);
  EXPECT_THROW(plan_memory(p.arch.graph, p.shapes, 1, true, true, {{3, 5}}), Error);
  EXPECT_THROW(plan_memory(p.arch.graph, p.shapes, 1, true, true, {{100000, 1}}), Error);
}

// A conv with "same" padding (k / 2).
Conv2dParams conv(int cin, int h, int w, int cout, int k, int stride, int groups, Activation act) {
  return testing_util::make_params(cin, h, w, cout, k, stride, k / 2, groups, act);
}

TEST(Fusion, FusableSaysWhatDoesNotFit) {
  const Conv2dParams dw = conv(4, 6, 6, 4, 3, 2, 4, Activation::kRelu);
  const Conv2dParams pw = conv(4, 3, 3, 5, 1, 1, 1, Activation::kRelu);
  std::string why;
  EXPECT_TRUE(conv2d_dwpw_fusable(dw, pw, &why)) << why;
  auto refused = [&](const Conv2dParams& a, const Conv2dParams& b, const char* reason) {
    std::string w;
    EXPECT_FALSE(conv2d_dwpw_fusable(a, b, &w)) << reason;
    EXPECT_NE(w.find(reason), std::string::npos) << w;
  };
  refused(conv(4, 6, 6, 4, 3, 2, 1, Activation::kRelu), pw, "not depthwise");
  refused(conv(4, 6, 6, 4, 9, 2, 4, Activation::kRelu), pw, "larger than 7x7");
  refused(dw, conv(4, 3, 3, 5, 3, 1, 1, Activation::kRelu), "not pointwise");
  refused(dw, conv(4, 6, 6, 5, 1, 1, 1, Activation::kRelu), "is not the depthwise output");
  Conv2dParams sliced = dw;
  sliced.out_channels_total = 8;
  finalize_conv2d_params(sliced);
  refused(sliced, pw, "channel slice");
}

// The reference against the formula by hand: 2 channels of 3x3, a 3x3
// depthwise conv (pad 1, relu), then 2 -> 1 pointwise with bias.
TEST(Fusion, CpuReferenceHandComputed) {
  Conv2dDwPwParams p{conv(2, 3, 3, 2, 3, 1, 2, Activation::kRelu), conv(2, 3, 3, 1, 1, 1, 1, Activation::kNone)};
  const std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8, 9,  // channel 0
                                 -1, -1, -1, -1, -1, -1, -1, -1, -1};
  std::vector<float> dw_w(18, 0.f);
  dw_w[4] = 1.f;   // channel 0: the centre tap, identity
  dw_w[9] = 1.f;   // channel 1: the top-left tap (reads (y-1, x-1)), then relu
  const std::vector<float> dw_b = {0.f, 0.5f};
  const std::vector<float> pw_w = {2.f, 10.f};
  const std::vector<float> pw_b = {0.25f};
  std::vector<float> out(9, -99.f);
  conv2d_dwpw_cpu(p, in.data(), dw_w.data(), dw_b.data(), pw_w.data(), pw_b.data(), out.data());
  // mid1 = relu(0.5 + in1(y-1, x-1)) = 0.5 at the top row and left column (padding), else relu(-0.5) = 0.
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) {
      const float mid1 = (y == 0 || x == 0) ? 0.5f : 0.f;
      EXPECT_FLOAT_EQ(out[y * 3 + x], 2.f * in[y * 3 + x] + 10.f * mid1 + 0.25f) << y << "," << x;
    }
  EXPECT_THROW(conv2d_dwpw_cpu({p.pw, p.dw}, in.data(), dw_w.data(), dw_b.data(), pw_w.data(), pw_b.data(),
                               out.data()),
               Error);
}

}  // namespace
}  // namespace tx2yolo
