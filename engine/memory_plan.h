// Activation memory plan for a device backend: one arena, buffer offsets
// chosen from tensor liveness, and zero-copy concat.
//
// Every tensor lives in a buffer. A concat whose inputs are all produced by
// conv or upsample nodes (and by nothing else, each once) gets one buffer,
// and its producers write straight into their channel slices of it
// (Conv2dParams/UpsampleNearestParams out_channel_offset); the concat node
// then needs no kernel. That only holds for batch 1, where a channel slice of
// a [C, H, W] buffer is itself a contiguous [C_i, H, W] tensor for readers.
// A buffer is live from the first step that writes it to the last step that
// reads any tensor in it (graph outputs to the end); buffers whose lifetimes
// overlap never share bytes. Offsets are 256-byte aligned.
// Pure host logic, so the plan is tested without a GPU.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "weights/graph.h"

namespace tx2yolo {

struct TensorPlacement {
  int buffer = 0;              // index into MemoryPlan::buffers
  int channel_offset = 0;      // first channel of this tensor in its buffer
  int channels_total = 0;      // channels of the buffer
  long long plane = 0;         // H * W
  // Where a reader finds this tensor: buffer offset + channel_offset * plane floats.
  std::size_t read_offset_bytes(const std::vector<std::size_t>& buffer_offsets) const {
    return buffer_offsets[static_cast<std::size_t>(buffer)] +
           static_cast<std::size_t>(channel_offset) * static_cast<std::size_t>(plane) * sizeof(float);
  }
};

struct PlannedBuffer {
  std::size_t bytes = 0;
  int first_step = 0;  // -1: before the first node (the graph input)
  int last_step = 0;
  std::size_t offset = 0;  // in the arena
  std::vector<std::string> tensors;
};

struct MemoryPlan {
  std::map<std::string, TensorPlacement> tensors;  // the graph input and every node output
  std::vector<PlannedBuffer> buffers;
  std::vector<std::size_t> buffer_offsets;         // buffers[i].offset, for read_offset_bytes
  std::set<std::string> elided_concats;            // concat nodes that need no kernel
  std::size_t arena_bytes = 0;                     // the peak: what the arena allocates
  std::size_t unshared_bytes = 0;                  // sum of every tensor alone, for comparison

  std::size_t read_offset(const std::string& tensor) const {
    return tensors.at(tensor).read_offset_bytes(buffer_offsets);
  }
};

// shapes from infer_shapes; batch >= 1; alias_concat false turns zero-copy
// off; reuse false gives every buffer its own bytes, so every tensor can be
// read after the run (layer-by-layer comparisons; more memory).
// fused: node index -> node index (a pointwise conv -> the depthwise conv it
// may run fused with, engine/fusion.h): the depthwise conv's inputs stay live
// through the pointwise step too, since the fused kernel reads them while it
// writes the pointwise output. Channel slices and elided concats do not
// depend on it. fused_run: the pairs do run fused, so their intermediate
// tensors (the depthwise outputs) are never written and take no bytes.
MemoryPlan plan_memory(const Graph& g, const std::map<std::string, TensorShape>& shapes, int batch,
                       bool alias_concat = true, bool reuse = true, const std::map<int, int>& fused = {},
                       bool fused_run = false);

}  // namespace tx2yolo
