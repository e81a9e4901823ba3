// tx2yolo_tx2_roofline: the TX2 roofline model of YOLOv3-MobileNetV1, layer by
// layer, for the standard, separable and separable+pruned models at 320, 416
// and 608 (VOC, 20 classes, full width), written as Markdown
// (docs/performance.md, "The TX2 model").
//
// Per layer: FLOPs = 2 x MACs; bytes = input read + output written + weights
// (+ bias), FP32 (4 B) or FP16 (2 B) storage; concat is zero-copy (0 B),
// upsample reads its input and writes its output. Predicted time at the TX2's
// peaks = max(FLOPs / peak, bytes / bandwidth) with 665.9 GFLOP/s FP32,
// 1331.8 GFLOP/s FP16 (half2) and 59.7 GB/s
// (shared/research/perf-anchors.md §2). Every layer is assumed to stream its
// tensors from DRAM once: the 512 KB L2 is ignored, and so are launch
// overheads and preprocessing/decode/NMS.
//
// With --efficiency BENCH.json (the CUDA kernel benchmarks' Google Benchmark
// JSON, as tools/gpu-check.sh writes it), each conv layer also gets the
// efficiency its fastest kernel measured on that GPU: the layer's roofline
// time at that GPU's measured ceilings (peak/copy GB/s, peak/sgemm GFLOP/s)
// over its measured time, at most 1. The TX2 time at that efficiency is the
// TX2 peak time divided by it. Layers whose shape was not benchmarked (the
// pruned head's) and non-conv layers keep the peak time, and are counted.
//
// "separable+pruned" applies the r578 ratios (0.5, 0.7, 0.8 per detection
// block) to the separable head's prunable convs, C - round(C x r) filters
// kept, as `tx2yolo convert --prune r578` would.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "weights/architecture.h"
#include "weights/graph.h"

namespace {

using namespace tx2yolo;

constexpr double kPeakFp32 = 665.9e9;
constexpr double kPeakFp16 = 1331.8e9;
constexpr double kBandwidth = 59.7e9;

struct Model {
  const char* name;
  ArchitectureSpec spec;
  double paper_fps;  // the paper's TX2 figure
};

int kept(int c, double r) { return c - static_cast<int>(std::nearbyint(c * r)); }

std::vector<Model> models() {
  ArchitectureSpec std_spec;
  std_spec.num_classes = 20;
  ArchitectureSpec sep = std_spec;
  sep.separable_head = true;
  ArchitectureSpec pruned = sep;
  const double ratios[3] = {0.5, 0.7, 0.8};
  for (int i = 0; i < 3; ++i)
    for (int& w : pruned.det_block[static_cast<std::size_t>(i)]) w = kept(w, ratios[i]);
  return {{"standard", std_spec, 5.0}, {"separable", sep, 9.6}, {"separable+pruned (r578)", pruned, 12.0}};
}

struct LayerCost {
  std::string name, what;
  double flops = 0, bytes32 = 0, bytes16 = 0;
  bool conv = false;
  ConvShapeKey key;
  // For the fusion model: the elements read, written and held as weights;
  // the output channels; whether it is depthwise or pointwise; the input
  // tensor, and how many nodes read this node's output.
  double in_elems = 0, out_elems = 0, params = 0;
  int out_c = 0;
  bool depthwise = false, pointwise = false;
  std::string input;
  int readers = 0;
};

// Measured efficiency per conv shape (see the top of this file).
struct Efficiency {
  std::string source;  // the device named in the JSON's context, and the file
  double copy_gbs = 0, sgemm_gflops = 0;
  std::map<ConvShapeKey, double> by_shape;
};

Efficiency read_efficiency(const std::string& path) {
  const auto text = read_file_bytes(path, 64u << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(path, ": not JSON: ", e.what()));
  }
  TX2_REQUIRE(j.is_object() && j.contains("benchmarks") && j["benchmarks"].is_array(), path,
              ": not a Google Benchmark JSON file");
  std::map<std::string, ConvShapeKey> shape_of;
  for (const ConvShape& s : distinct_conv_shapes()) shape_of[s.name] = s.key;
  Efficiency e;
  e.source = path;
  std::map<std::string, double> best_us, flops, bytes;
  for (const auto& b : j["benchmarks"]) {
    if (!b.is_object() || b.value("error_occurred", false) || !b.contains("name") || !b["name"].is_string()) continue;
    const std::string name = b["name"];
    const auto slash = name.find('/');
    if (slash == std::string::npos) continue;
    const std::string impl = name.substr(0, slash);
    const std::string layer = name.substr(slash + 1, name.find('/', slash + 1) - slash - 1);
    const double us = b.value("real_time", 0.0);
    if (impl == "peak") {
      if (layer == "copy") e.copy_gbs = b.value("GB/s", 0.0);
      if (layer == "sgemm") e.sgemm_gflops = b.value("GFLOP/s", 0.0);
    } else if (impl.rfind("ours-", 0) == 0 && us > 0 && shape_of.count(layer)) {
      if (!best_us.count(layer) || us < best_us[layer]) {
        best_us[layer] = us;
        flops[layer] = b.value("GFLOP/s", 0.0) * 1e3 * us;  // GFLOP/s x us = kFLOP; x 1e3 = FLOP
        bytes[layer] = b.value("GB/s", 0.0) * 1e3 * us;
      }
    }
  }
  TX2_REQUIRE(e.copy_gbs > 0 && e.sgemm_gflops > 0, path, ": no peak/copy and peak/sgemm results (an older "
              "benchmark binary, or a run without a GPU)");
  for (const auto& l : best_us) {
    const double roof_us = std::max(flops[l.first] / (e.sgemm_gflops * 1e3), bytes[l.first] / (e.copy_gbs * 1e3));
    e.by_shape[shape_of[l.first]] = std::min(1.0, roof_us / l.second);
  }

  return e;
}

std::vector<LayerCost> costs(const ArchitectureGraph& arch, int h, int w) {
  WeightShapes shapes;
  for (const auto& wt : arch.weights) shapes[wt.first] = wt.second;
  const auto tensor = infer_shapes(arch.graph, shapes, h, w);
  const auto macs = graph_macs(arch.graph, shapes, tensor);
  std::map<std::string, int> readers;
  for (const Node& n : arch.graph.nodes)
    for (const std::string& t : n.inputs) ++readers[t];
  for (const std::string& t : arch.graph.outputs) ++readers[t];
  std::vector<LayerCost> out;
  for (const Node& n : arch.graph.nodes) {
    LayerCost c;
    c.name = n.name;
    const TensorShape& o = tensor.at(n.output);
    double elems = 0;  // activations read + written
    double params = 0;
    if (n.op == OpKind::kConv2d) {
      const TensorShape& in = n.inputs[0] == arch.graph.input.name ? TensorShape{3, h, w} : tensor.at(n.inputs[0]);
      elems = static_cast<double>(in.numel() + o.numel());
      for (const std::string& t : {n.weight, n.bias}) {
        double p = 1;
        for (long long d : shapes.at(t)) p *= static_cast<double>(d);
        params += p;
      }
      c.flops = 2.0 * static_cast<double>(macs.at(n.name));
      c.conv = true;
      c.key = conv_shape_key(in, o.c, n);
      const auto& ws = shapes.at(n.weight);
      c.what = n.conv.groups > 1 ? "depthwise 3x3" : (ws[2] == 1 ? "pointwise 1x1" : "conv 3x3");
      if (n.conv.stride_h == 2) c.what += " s2";
      c.in_elems = static_cast<double>(in.numel());
      c.out_elems = static_cast<double>(o.numel());
      c.params = params;
      c.out_c = o.c;
      c.depthwise = n.conv.groups > 1 && n.conv.groups == in.c && n.conv.groups == o.c;
      c.pointwise = ws[2] == 1 && ws[3] == 1 && n.conv.groups == 1 && n.conv.stride_h == 1 && n.conv.stride_w == 1;
      c.input = n.inputs[0];
    } else if (n.op == OpKind::kUpsampleNearest) {
      elems = static_cast<double>(tensor.at(n.inputs[0]).numel() + o.numel());
      c.what = "upsample x2";
    } else {
      c.what = "concat (zero-copy)";
    }
    c.bytes32 = 4 * (elems + params);
    c.bytes16 = 2 * (elems + params);
    c.readers = readers[n.output];
    out.push_back(c);
  }
  return out;
}

double predicted(double flops, double bytes, double peak) { return std::max(flops / peak, bytes / kBandwidth); }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The layer's measured efficiency, or 0 when it has none.
double efficiency_of(const Efficiency* e, const LayerCost& c) {
  if (!e || !c.conv) return 0;
  const auto it = e->by_shape.find(c.key);
  return it == e->by_shape.end() ? 0 : it->second;
}

// Depthwise + pointwise fusion (kernels/conv2d_dwpw.h) in the same model:
// for every depthwise conv whose output only a pointwise conv reads, the
// pair unfused (both layers' times) against fused: the intermediate tensor
// is never written or read, and the depthwise sums are recomputed once per
// 64-channel tile of the pointwise output (the fused kernel's tiling).
void print_fusion_model(const std::vector<Model>& ms, const int (&sizes)[3]) {
  std::printf("\n### Depthwise + pointwise fusion on the TX2 (model)\n\n");
  std::printf("Every depthwise conv whose output only a pointwise conv reads, as a pair: unfused (the two layers' "
              "peak times) against fused (`dwpw-fused`: the intermediate tensor never moves, and the depthwise "
              "multiply-adds are done once per 64-channel tile of the pointwise output). \"Gain if chosen\" "
              "counts only the pairs where fused is faster, as the timed tactics would choose. Same peaks and "
              "assumptions as above.\n\n");
  std::printf("| model | input | pairs | pairs faster fused FP32 / FP16 | pairs ms unfused FP32 | fused FP32 | "
              "gain if chosen FP32 | pairs ms unfused FP16 | fused FP16 | gain if chosen FP16 |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Model& m : ms) {
    const ArchitectureGraph arch = build_yolov3_mobilenet_v1(m.spec);
    for (int s : sizes) {
      const std::vector<LayerCost> layers = costs(arch, s, s);
      std::map<std::string, const LayerCost*> producer;  // output tensor -> its layer
      for (std::size_t i = 0; i < layers.size(); ++i) producer[arch.graph.nodes[i].output] = &layers[i];
      int pairs = 0, faster32 = 0, faster16 = 0;
      double un32 = 0, fu32 = 0, gain32 = 0, un16 = 0, fu16 = 0, gain16 = 0;
      for (const LayerCost& pw : layers) {
        if (!pw.conv || !pw.pointwise) continue;
        const auto d = producer.find(pw.input);
        if (d == producer.end() || !d->second->conv || !d->second->depthwise || d->second->readers != 1) continue;
        const LayerCost& dw = *d->second;
        ++pairs;
        const double tiles = std::ceil(pw.out_c / 64.0);
        const double flops = pw.flops + dw.flops * tiles;
        const double elems = dw.in_elems + pw.out_elems + dw.params + pw.params;
        const double u32 = predicted(dw.flops, dw.bytes32, kPeakFp32) + predicted(pw.flops, pw.bytes32, kPeakFp32);
        const double f32 = predicted(flops, 4 * elems, kPeakFp32);
        const double u16 = predicted(dw.flops, dw.bytes16, kPeakFp16) + predicted(pw.flops, pw.bytes16, kPeakFp16);
        const double f16 = predicted(flops, 2 * elems, kPeakFp16);
        un32 += u32;
        fu32 += f32;
        un16 += u16;
        fu16 += f16;
        if (f32 < u32) {
          ++faster32;
          gain32 += u32 - f32;
        }
        if (f16 < u16) {
          ++faster16;
          gain16 += u16 - f16;
        }
      }
      std::printf("| %s | %d | %d | %d / %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", m.name, s, pairs, faster32,
                  faster16, 1e3 * un32, 1e3 * fu32, 1e3 * gain32, 1e3 * un16, 1e3 * fu16, 1e3 * gain16);
    }
  }
}

int run(int argc, char** argv) {
  std::unique_ptr<Efficiency> eff;
  if (argc == 3 && std::strcmp(argv[1], "--efficiency") == 0) {
    eff = std::make_unique<Efficiency>(read_efficiency(argv[2]));
  } else {
    TX2_REQUIRE(argc == 1, "usage: tx2yolo_tx2_roofline [--efficiency BENCH.json]");
  }
  const int sizes[3] = {320, 416, 608};
  std::printf("## The TX2 model (roofline)\n\n");
  std::printf(
      "Generated by `build/bench/tx2yolo_tx2_roofline` (bench/tx2_roofline.cpp); arithmetic, not a measurement. "
      "TX2 peaks: %.1f GFLOP/s FP32, %.1f GFLOP/s FP16 (half2), %.1f GB/s (shared/research/perf-anchors.md). Each "
      "layer's time is max(FLOPs / peak, bytes / bandwidth) with every tensor streamed from DRAM once (no L2 "
      "reuse, no launch overhead). Batch 1, VOC (20 classes), full width. Preprocessing, decode and NMS are not "
      "included.\n\n",
      kPeakFp32 / 1e9, kPeakFp16 / 1e9, kBandwidth / 1e9);
  if (eff) {
    std::printf(
        "**At measured efficiency** (columns \"eff.\" and \"at eff.\"): each conv layer's FP32 time divided by "
        "the efficiency its fastest tx2yolo kernel measured on another GPU, `%s`, whose measured ceilings were "
        "%.0f GB/s (copy, read + write) and %.0f GFLOP/s (FP32 SGEMM). Efficiency = that layer's roofline time at "
        "those ceilings over its measured time (batch 1, FP32, CUDA events), at most 1. This carries a big GPU's "
        "efficiency over to a small one: at batch 1 a 132-SM GPU leaves most of its SMs idle on the small late "
        "layers, which the TX2's 2 SMs would fill, so the \"at eff.\" times are pessimistic for the TX2. "
        "Layers without a measurement (upsample, concat, and conv shapes only the pruned head has) keep their "
        "peak time.\n\n",
        eff->source.c_str(), eff->copy_gbs, eff->sgemm_gflops);
  } else {
    std::printf(
        "**The same times at each kernel's measured efficiency** come from `tx2yolo_tx2_roofline --efficiency "
        "BENCH.json` (the kernel benchmarks' JSON from tools/gpu-check.sh).\n\n");
  }
  std::printf("### Totals\n\n");
  std::printf("| model | input | GFLOPs | MB moved FP32 | MB moved FP16 | ms at peak FP32 | ms at peak FP16 | FPS FP16 |%s "
              "paper (TX2) | Paddle-TRT (TX2, standard, 608) |\n|---|---|---|---|---|---|---|---|%s---|---|\n",
              eff ? " ms at eff. FP32 | FPS at eff. FP32 | layers measured |" : "", eff ? "---|---|---|" : "");
  const auto ms = models();
  for (const Model& m : ms) {
    const ArchitectureGraph arch = build_yolov3_mobilenet_v1(m.spec);
    for (int s : sizes) {
      double f = 0, b32 = 0, b16 = 0, t32 = 0, t16 = 0, te = 0;
      int measured = 0, convs = 0;
      for (const LayerCost& c : costs(arch, s, s)) {
        f += c.flops;
        b32 += c.bytes32;
        b16 += c.bytes16;
        const double p32 = predicted(c.flops, c.bytes32, kPeakFp32);
        t32 += p32;
        t16 += predicted(c.flops, c.bytes16, kPeakFp16);
        const double e = efficiency_of(eff.get(), c);
        te += e > 0 ? p32 / e : p32;
        measured += e > 0;
        convs += c.conv;
      }
      const std::string at_eff =
          eff ? cat(" ", fixed(1e3 * te, 2), " | ", std::lround(1.0 / te), " | ", measured, " of ", convs, " convs |")
              : "";
      std::printf("| %s | %d | %.2f | %.1f | %.1f | %.2f | %.2f | %.0f |%s %s | %s |\n", m.name, s, f / 1e9,
                  b32 / 1e6, b16 / 1e6, 1e3 * t32, 1e3 * t16, 1.0 / t16, at_eff.c_str(),
                  s == 608 ? (std::to_string(static_cast<int>(m.paper_fps)) + "." +
                              std::to_string(static_cast<int>(std::lround(m.paper_fps * 10)) % 10) + " FPS")
                                 .c_str()
                           : "",
                  s == 608 && m.paper_fps == 5.0 ? "56.24 ms (17.8 FPS)" : "");
    }
  }
  std::printf("\nThe predictions are lower bounds on the network time at 100%% of peak; the paper's figures are "
              "end to end.\n");
  print_fusion_model(ms, sizes);
  for (const Model& m : ms) {
    const ArchitectureGraph arch = build_yolov3_mobilenet_v1(m.spec);
    for (int s : sizes) {
      std::printf("\n### %s, %dx%d\n\n", m.name, s, s);
      std::printf("| layer | op | MFLOPs | KB FP32 | FLOP/B FP32 | us at peak FP32 | bound | us at peak FP16 | "
                  "bound |%s\n|---|---|---|---|---|---|---|---|---|%s\n",
                  eff ? " eff. | us at eff. FP32 |" : "", eff ? "---|---|" : "");
      for (const LayerCost& c : costs(arch, s, s)) {
        const double t32 = predicted(c.flops, c.bytes32, kPeakFp32), t16 = predicted(c.flops, c.bytes16, kPeakFp16);
        const bool mem32 = c.bytes32 / kBandwidth >= c.flops / kPeakFp32;
        const bool mem16 = c.bytes16 / kBandwidth >= c.flops / kPeakFp16;
        const double e = efficiency_of(eff.get(), c);
        const std::string at_eff = !eff   ? ""
                                   : e > 0 ? cat(" ", std::lround(100 * e), "% | ", fixed(1e6 * t32 / e, 1), " |")
                                           : std::string(" - | - |");
        std::printf("| %s | %s | %.1f | %.0f | %.1f | %.1f | %s | %.1f | %s |%s\n", c.name.c_str(), c.what.c_str(),
                    c.flops / 1e6, c.bytes32 / 1e3, c.bytes32 > 0 ? c.flops / c.bytes32 : 0.0, 1e6 * t32,
                    c.bytes32 == 0 ? "-" : (mem32 ? "memory" : "compute"), 1e6 * t16,
                    c.bytes16 == 0 ? "-" : (mem16 ? "memory" : "compute"), at_eff.c_str());
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
