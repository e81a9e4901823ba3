// Which depthwise + pointwise conv pairs a device backend may run as one
// kernel (kernels/conv2d_dwpw.h). Plain host logic, so it is tested without
// a GPU; the CUDA backend then fuses a pair only where timing says the fused
// kernel is faster than the two layers' own best kernels.
#pragma once

#include <map>

#include "engine/memory_plan.h"
#include "kernels/conv2d.h"
#include "weights/graph.h"

namespace tx2yolo {

// convs: graph node index -> that conv node's finalized params as the
// backend launches them (with the plan's output slice). A pointwise conv
// may absorb the depthwise conv before it when:
//  * it reads the depthwise conv's output, and nothing else does (no other
//    node, and it is not a graph output);
//  * keep_all_tensors is off (every tensor must then be readable);
//  * conv2d_dwpw_fusable accepts the two params;
//  * with check_bytes: the depthwise input and the pointwise output do not
//    share arena bytes (the fused kernel reads the one while it writes the
//    other). A plan made without the pairs may well reuse the one for the
//    other; plan_memory(..., fused = these pairs) never does.
// Returns pointwise node index -> depthwise node index.
std::map<int, int> fusable_dwpw_pairs(const Graph& graph, const std::map<int, Conv2dParams>& convs,
                                      const MemoryPlan& plan, bool keep_all_tensors, bool check_bytes = true);

}  // namespace tx2yolo
