// The distinct conv layer shapes of the full-width YOLOv3-MobileNetV1 (VOC,
// 20 classes; standard and separable head) at 320, 416 and 608, from the
// graph template, each named after its first layer ("<node>@<size>"). The
// CUDA kernel benchmarks time them; the TX2 roofline reads those timings
// back by the same names and keys.
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "weights/architecture.h"
#include "weights/graph.h"

namespace tx2yolo {

// in channels, in height, in width, out channels, kernel, stride, groups
using ConvShapeKey = std::tuple<int, int, int, int, int, int, int>;

inline ConvShapeKey conv_shape_key(const TensorShape& in, int out_channels, const Node& n) {
  return std::make_tuple(in.c, in.h, in.w, out_channels, n.conv.kernel_h, n.conv.stride_h, n.conv.groups);
}

struct ConvShape {
  std::string name;  // "<first node with this shape>@<input size>"
  Node node;
  TensorShape in;
  int out_channels = 0;
  ConvShapeKey key;
};

inline std::vector<ConvShape> distinct_conv_shapes() {
  std::vector<ConvShape> out;
  std::set<ConvShapeKey> seen;
  for (int size : {320, 416, 608}) {
    for (bool separable : {false, true}) {
      ArchitectureSpec spec;
      spec.separable_head = separable;
      const ArchitectureGraph arch = build_yolov3_mobilenet_v1(spec);
      WeightShapes w;
      for (const auto& t : arch.weights) w[t.first] = t.second;
      const auto shapes = infer_shapes(arch.graph, w, size, size);
      for (const Node& n : arch.graph.nodes) {
        if (n.op != OpKind::kConv2d) continue;
        const TensorShape& in = shapes.at(n.inputs[0]);
        const int cout = conv_out_channels(n, w);
        const ConvShapeKey key = conv_shape_key(in, cout, n);
        if (!seen.insert(key).second) continue;
        out.push_back({cat(n.name, "@", size), n, in, cout, key});
      }
    }
  }
  return out;
}

}  // namespace tx2yolo
