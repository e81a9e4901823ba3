#include "engine/fusion.h"

#include <string>

#include "kernels/conv2d_dwpw.h"

namespace tx2yolo {

std::map<int, int> fusable_dwpw_pairs(const Graph& graph, const std::map<int, Conv2dParams>& convs,
                                      const MemoryPlan& plan, bool keep_all_tensors, bool check_bytes) {
  std::map<int, int> pairs;
  if (keep_all_tensors) return pairs;
  std::map<std::string, int> producer, readers;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    producer[graph.nodes[i].output] = static_cast<int>(i);
    for (const std::string& in : graph.nodes[i].inputs) ++readers[in];
  }
  for (const std::string& out : graph.outputs) ++readers[out];  // read after the run
  auto bytes_overlap = [&](const std::string& a, const std::string& b) {
    const PlannedBuffer& x = plan.buffers[static_cast<std::size_t>(plan.tensors.at(a).buffer)];
    const PlannedBuffer& y = plan.buffers[static_cast<std::size_t>(plan.tensors.at(b).buffer)];
    return x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
  };
  for (const auto& pw : convs) {
    const Node& node = graph.nodes[static_cast<std::size_t>(pw.first)];
    if (node.inputs.size() != 1) continue;
    const auto from = producer.find(node.inputs[0]);
    if (from == producer.end() || readers[node.inputs[0]] != 1) continue;
    const auto dw = convs.find(from->second);
    if (dw == convs.end() || !conv2d_dwpw_fusable(dw->second, pw.second)) continue;
    const Node& dw_node = graph.nodes[static_cast<std::size_t>(from->second)];
    if (check_bytes && bytes_overlap(dw_node.inputs[0], node.output)) continue;
    pairs[pw.first] = from->second;
  }
  return pairs;
}

}  // namespace tx2yolo
