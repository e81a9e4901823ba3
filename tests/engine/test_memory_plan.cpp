// The activation memory plan (engine/memory_plan.h), checked on the CPU:
// buffers alive at the same time never share bytes, concat inputs land in
// their channel slices, and batch > 1 turns zero-copy off.
#include <gtest/gtest.h>

#include "engine/memory_plan.h"
#include "weights/architecture.h"

namespace tx2yolo {
namespace {

struct Planned {
  ArchitectureGraph arch;
  std::map<std::string, TensorShape> shapes;
};

Planned full_model(int size) {
  Planned p{build_yolov3_mobilenet_v1(ArchitectureSpec{}), {}};
  WeightShapes w;
  for (const auto& t : p.arch.weights) w[t.first] = t.second;
  p.shapes = infer_shapes(p.arch.graph, w, size, size);
  return p;
}

TEST(MemoryPlan, LiveBuffersNeverOverlap) {
  const Planned m = full_model(608);
  const MemoryPlan plan = plan_memory(m.arch.graph, m.shapes, 1);
  for (std::size_t i = 0; i < plan.buffers.size(); ++i) {
    const PlannedBuffer& a = plan.buffers[i];
    EXPECT_EQ(a.offset % 256, 0u);
    EXPECT_LE(a.offset + a.bytes, plan.arena_bytes);
    for (std::size_t j = i + 1; j < plan.buffers.size(); ++j) {
      const PlannedBuffer& b = plan.buffers[j];
      const bool live_together = a.first_step <= b.last_step && b.first_step <= a.last_step;
      const bool share_bytes = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      EXPECT_FALSE(live_together && share_bytes) << a.tensors[0] << " and " << b.tensors[0];
    }
  }
  // The plan reuses memory: far less than every tensor on its own.
  EXPECT_LT(plan.arena_bytes * 3, plan.unshared_bytes);
  std::printf("arena %.1f MiB, unshared %.1f MiB\n", plan.arena_bytes / 1048576.0, plan.unshared_bytes / 1048576.0);
}

TEST(MemoryPlan, ConcatInputsLandInTheirSlices) {
  const Planned m = full_model(608);
  const MemoryPlan plan = plan_memory(m.arch.graph, m.shapes, 1);
  ASSERT_EQ(plan.elided_concats.size(), 2u);
  const TensorPlacement& cat = plan.tensors.at("neck.concat.1");
  const TensorPlacement& up = plan.tensors.at("neck.upsample.0");
  const TensorPlacement& feature = plan.tensors.at("backbone.conv4_2._pointwise_conv");
  EXPECT_EQ(up.buffer, cat.buffer);
  EXPECT_EQ(feature.buffer, cat.buffer);
  EXPECT_EQ(up.channel_offset, 0);          // the upsampled route comes first
  EXPECT_EQ(feature.channel_offset, 256);   // then the backbone feature
  EXPECT_EQ(feature.channels_total, 768);
  EXPECT_EQ(plan.read_offset("backbone.conv4_2._pointwise_conv") - plan.read_offset("neck.concat.1"),
            256u * 38 * 38 * sizeof(float));
  // The backbone feature is written long before the concat is read: its
  // buffer must stay live from the backbone to the neck.
  const PlannedBuffer& b = plan.buffers[static_cast<std::size_t>(cat.buffer)];
  int producer = -1, reader = -1;
  for (int i = 0; i < static_cast<int>(m.arch.graph.nodes.size()); ++i) {
    if (m.arch.graph.nodes[i].output == "backbone.conv4_2._pointwise_conv") producer = i;
    if (m.arch.graph.nodes[i].name == "neck.yolo_block.1.conv_module.conv0") reader = i;
  }
  EXPECT_LE(b.first_step, producer);
  EXPECT_GE(b.last_step, reader);
}

TEST(MemoryPlan, BatchAboveOneOrOptOutCopiesConcat) {
  const Planned m = full_model(320);
  EXPECT_TRUE(plan_memory(m.arch.graph, m.shapes, 2).elided_concats.empty());
  EXPECT_TRUE(plan_memory(m.arch.graph, m.shapes, 1, false).elided_concats.empty());
  const MemoryPlan two = plan_memory(m.arch.graph, m.shapes, 2);
  const MemoryPlan one = plan_memory(m.arch.graph, m.shapes, 1, false);
  EXPECT_EQ(two.unshared_bytes, 2 * one.unshared_bytes);
}

TEST(MemoryPlan, GraphOutputsLiveToTheEnd) {
  const Planned m = full_model(320);
  const MemoryPlan plan = plan_memory(m.arch.graph, m.shapes, 1);
  for (const std::string& out : m.arch.graph.outputs)
    EXPECT_EQ(plan.buffers[static_cast<std::size_t>(plan.tensors.at(out).buffer)].last_step,
              static_cast<int>(m.arch.graph.nodes.size()));
}

}  // namespace
}  // namespace tx2yolo
