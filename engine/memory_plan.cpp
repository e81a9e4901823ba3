#include "engine/memory_plan.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "core/error.h"

namespace tx2yolo {

namespace {
constexpr std::size_t kAlign = 256;
std::size_t align_up(std::size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }
}  // namespace

MemoryPlan plan_memory(const Graph& g, const std::map<std::string, TensorShape>& shapes, int batch,
                       bool alias_concat, bool reuse, const std::map<int, int>& fused, bool fused_run) {
  TX2_REQUIRE(batch >= 1, "memory plan: batch ", batch, " must be positive");
  MemoryPlan plan;
  const int steps = static_cast<int>(g.nodes.size());
  std::map<std::string, int> producer;  // tensor -> node index
  for (int i = 0; i < steps; ++i) producer[g.nodes[i].output] = i;

  // Which concats can be zero-copy, and which tensors they absorb.
  std::map<std::string, std::string> absorbed_by;  // tensor -> concat output
  if (alias_concat && batch == 1) {
    std::map<std::string, int> uses_in_concats;
    for (const Node& n : g.nodes)
      if (n.op == OpKind::kConcat)
        for (const auto& t : n.inputs) ++uses_in_concats[t];
    for (const Node& n : g.nodes) {
      if (n.op != OpKind::kConcat) continue;
      bool ok = true;
      for (const auto& t : n.inputs) {
        const auto p = producer.find(t);
        ok = ok && p != producer.end() && uses_in_concats[t] == 1 &&
             (g.nodes[p->second].op == OpKind::kConv2d || g.nodes[p->second].op == OpKind::kUpsampleNearest);
      }
      if (!ok) continue;
      for (const auto& t : n.inputs) absorbed_by[t] = n.output;
      plan.elided_concats.insert(n.name);
    }
  }

  // Buffers: one per tensor that is not absorbed into a concat buffer.
  auto plane_of = [&](const std::string& t) {
    const TensorShape& s = shapes.at(t);
    return static_cast<long long>(s.h) * s.w;
  };
  std::set<std::string> never_written;  // intermediates of pairs that run fused
  if (fused_run)
    for (const auto& pair : fused)
      if (pair.second >= 0 && pair.second < steps) never_written.insert(g.nodes[static_cast<std::size_t>(pair.second)].output);
  auto add_buffer = [&](const std::string& t) {
    const TensorShape& s = shapes.at(t);
    PlannedBuffer b;
    b.bytes = never_written.count(t)
                  ? 0
                  : static_cast<std::size_t>(batch) * static_cast<std::size_t>(s.numel()) * sizeof(float);
    b.first_step = producer.count(t) ? producer.at(t) : -1;
    b.last_step = b.first_step;
    b.tensors.push_back(t);
    plan.buffers.push_back(b);
    const int index = static_cast<int>(plan.buffers.size()) - 1;
    plan.tensors[t] = TensorPlacement{index, 0, s.c, plane_of(t)};
    plan.unshared_bytes += b.bytes;
    return index;
  };
  add_buffer(g.input.name);
  for (const Node& n : g.nodes) {
    if (absorbed_by.count(n.output)) continue;
    const int index = add_buffer(n.output);
    if (plan.elided_concats.count(n.name)) {
      int offset = 0;
      for (const auto& t : n.inputs) {
        const TensorShape& s = shapes.at(t);
        plan.tensors[t] = TensorPlacement{index, offset, shapes.at(n.output).c, plane_of(t)};
        PlannedBuffer& b = plan.buffers[static_cast<std::size_t>(index)];
        b.first_step = std::min(b.first_step, producer.at(t));
        b.tensors.push_back(t);
        plan.unshared_bytes += static_cast<std::size_t>(batch) * static_cast<std::size_t>(s.numel()) * sizeof(float);
        offset += s.c;
      }
    }
  }

  // Lifetimes: extend each buffer to the last step reading any of its tensors.
  for (int i = 0; i < steps; ++i) {
    const Node& n = g.nodes[i];
    if (plan.elided_concats.count(n.name)) continue;  // reads nothing: its inputs are already in place
    for (const auto& t : n.inputs) {
      PlannedBuffer& b = plan.buffers[static_cast<std::size_t>(plan.tensors.at(t).buffer)];
      b.last_step = std::max(b.last_step, i);
    }
  }
  for (const auto& pair : fused) {
    TX2_REQUIRE(pair.first >= 0 && pair.first < steps && pair.second >= 0 && pair.second < pair.first,
                "memory plan: fused pair ", pair.second, " -> ", pair.first, " is not two steps in order");
    for (const auto& t : g.nodes[static_cast<std::size_t>(pair.second)].inputs) {
      PlannedBuffer& b = plan.buffers[static_cast<std::size_t>(plan.tensors.at(t).buffer)];
      b.last_step = std::max(b.last_step, pair.first);
    }
  }
  for (const auto& t : g.outputs) plan.buffers[static_cast<std::size_t>(plan.tensors.at(t).buffer)].last_step = steps;

  // First fit, largest buffers first, among buffers whose lifetimes overlap.
  std::vector<int> order(plan.buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return plan.buffers[a].bytes > plan.buffers[b].bytes; });
  std::vector<int> placed;
  for (int i : order) {
    PlannedBuffer& b = plan.buffers[static_cast<std::size_t>(i)];
    std::vector<std::pair<std::size_t, std::size_t>> busy;  // [begin, end) of overlapping live buffers
    for (int j : placed) {
      const PlannedBuffer& o = plan.buffers[static_cast<std::size_t>(j)];
      if (!reuse || (o.first_step <= b.last_step && b.first_step <= o.last_step))
        busy.emplace_back(o.offset, o.offset + align_up(o.bytes));
    }
    std::sort(busy.begin(), busy.end());
    std::size_t offset = 0;
    for (const auto& r : busy) {
      if (offset + align_up(b.bytes) <= r.first) break;
      offset = std::max(offset, r.second);
    }
    b.offset = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + align_up(b.bytes));
    placed.push_back(i);
  }
  for (const PlannedBuffer& b : plan.buffers) plan.buffer_offsets.push_back(b.offset);
  return plan;
}

}  // namespace tx2yolo
