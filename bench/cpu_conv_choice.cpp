// Which library a fast CPU conv path should use (the CPU speed issue asks
// for the choice by measurement): every conv layer of a full-width
// architecture (or a model file) at one input size, batch 1, FP32, timed
// three ways on the same machine:
//   reference  conv2d_cpu on the thread pool (the oracle the product runs today)
//   openblas   the product's fast path, conv2d_cpu_gemm (kernels/cpu/conv2d_gemm.cpp):
//              single-threaded OpenBLAS sgemm per band of output rows or per
//              slice of output channels (see --split) on the thread pool, im2col for non-pointwise convs, bias and
//              activation fused. Depthwise layers are not GEMM-shaped: the
//              fast path's depthwise kernel runs them row by row
//              (conv2d_cpu_depthwise_rows, kernels/cpu/conv2d_depthwise_rows.cpp;
//              the engine uses it for rows of 32 columns or more, the
//              reference below that).
//   onednn     oneDNN 2.x convolution_forward with bias and the activation as
//              a post-op, src/dst in plain NCHW (the engine's layout),
//              weights reordered once; OpenMP threads = T.
// Each is checked against the reference (max |diff| / max |ref|); the median
// of --runs runs is reported per layer and summed per kind of layer.
//
//   tx2yolo_cpu_conv_choice [--arch standard|separable|separable-pruned | --model M]
//                           [--size 320] [--threads 2] [--runs 7]
//                           [--split auto|rows|channels]
//                           [--onednn-algorithm direct|auto|winograd] [--onednn-layout nchw|blocked] [--peak]
//                           [--depthwise-rows-min-width 64] [--openblas-only]
// --onednn-algorithm picks oneDNN's algorithm (direct, the default; auto may
// choose Winograd for 3x3 stride-1 convs where the CPU has it). --peak first
// prints OpenBLAS's sgemm on 2048-cubed matrices, the machine's practical
// FP32 ceiling. --onednn-layout blocked lets oneDNN choose its own src and
// dst layouts (as Paddle's MKLDNN runs), reordered outside the timing.
// --depthwise-rows-min-width moves the width from which the openblas column
// runs depthwise layers by rows (the engine's is
// kConv2dCpuDepthwiseRowsMinWidth). --openblas-only times the openblas
// column alone (the reference runs once, for the check; oneDNN not at all).
// --split forces how the openblas column splits each layer into tasks
// (Conv2dGemmSplit: bands of output rows, or slices of output channels);
// auto, the default, is what the engine runs. Each layer's line names the
// split that ran.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/thread_pool.h"
#include "kernels/conv2d.h"
#include "layers/conv_layer.h"
#include "weights/architecture.h"
#include "weights/graph.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace {

std::vector<float> random_vector(std::size_t n, unsigned seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

template <typename F>
double median_ms(int runs, F&& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct OneDnnConv {
  dnnl::convolution_forward prim;
  dnnl::memory src, wei, bias, dst;
  dnnl::memory src_plain, dst_plain;  // NCHW views for the input and the check
};

OneDnnConv make_onednn(const dnnl::engine& eng, dnnl::stream& s, const Conv2dParams& p, const float* w,
                       const float* b, dnnl::algorithm algorithm, bool blocked, bool* fell_back) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::memory::dims src_d = {1, p.in_channels, p.in_h, p.in_w}, dst_d = {1, p.out_channels, p.out_h, p.out_w};
  const bool grouped = p.groups > 1;
  const dnnl::memory::dims wei_d =
      grouped ? dnnl::memory::dims{p.groups, p.out_channels / p.groups, p.in_channels / p.groups, p.kernel_h, p.kernel_w}
              : dnnl::memory::dims{p.out_channels, p.in_channels, p.kernel_h, p.kernel_w};
  const dnnl::memory::desc src_plain(src_d, dt::f32, tag::nchw), dst_plain(dst_d, dt::f32, tag::nchw);
  // Blocked: oneDNN picks src and dst layouts (nChw16c on AVX-512), as a
  // network kept in oneDNN's layout throughout would run; the reorders in
  // and out are outside the timing.
  const dnnl::memory::desc src_md = blocked ? dnnl::memory::desc(src_d, dt::f32, tag::any) : src_plain,
                           dst_md = blocked ? dnnl::memory::desc(dst_d, dt::f32, tag::any) : dst_plain;
  const dnnl::memory::desc bias_md({p.out_channels}, dt::f32, tag::x), wei_any(wei_d, dt::f32, tag::any),
      wei_plain(wei_d, dt::f32, grouped ? tag::goihw : tag::oihw);
  dnnl::post_ops po;
  if (p.activation != Activation::kNone)
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, p.activation == Activation::kLeakyRelu ? p.alpha : 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  auto make_pd = [&](dnnl::algorithm a) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, a, src_md, wei_any, bias_md, dst_md,
                                      {p.stride_h, p.stride_w}, {p.pad_h, p.pad_w}, {p.pad_h, p.pad_w});
    return dnnl::convolution_forward::primitive_desc(d, attr, eng);
  };
  // Winograd exists only for some shapes and CPUs: elsewhere the direct
  // algorithm runs, and the layer's line says so.
  dnnl::convolution_forward::primitive_desc pd;
  *fell_back = false;
  try {
    pd = make_pd(algorithm);
  } catch (const dnnl::error&) {
    pd = make_pd(dnnl::algorithm::convolution_direct);
    *fell_back = true;
  }
  OneDnnConv c;
  c.prim = dnnl::convolution_forward(pd);
  c.src = dnnl::memory(pd.src_desc(), eng);
  c.dst = dnnl::memory(pd.dst_desc(), eng);
  c.src_plain = dnnl::memory(src_plain, eng);
  c.dst_plain = dnnl::memory(dst_plain, eng);
  c.bias = dnnl::memory(bias_md, eng, const_cast<float*>(b));
  dnnl::memory plain(wei_plain, eng, const_cast<float*>(w));
  c.wei = dnnl::memory(pd.weights_desc(), eng);
  dnnl::reorder(plain, c.wei).execute(s, plain, c.wei);
  s.wait();
  return c;
}

// The practical FP32 ceiling of this machine: OpenBLAS's own sgemm on
// 2048-cubed matrices, at 1 thread, and at T threads as T row slices on the
// thread pool (each call single-threaded, as the fast path runs it).
void print_peak(int threads, int runs) {
  // OpenBLAS's own threads off, as conv2d_cpu_gemm sets them (the first run,
  // 2026-12-04, lacked this: its "1 thread" line used OpenBLAS's 2 threads).
  openblas_set_num_threads(1);
  const int n = 2048;
  const auto a = random_vector(static_cast<std::size_t>(n) * n, 11, 1.f), b = random_vector(a.size(), 12, 1.f);
  std::vector<float> c(a.size());
  const double gflop = 2.0 * n * n * n / 1e9;
  for (int t : {1, threads}) {
    set_cpu_threads(t);
    const double ms = median_ms(std::max(3, runs / 2), [&] {
      const int rows = (n + t - 1) / t;
      parallel_for(t, [&](int i) {
        const int r0 = i * rows, r1 = std::min(n, r0 + rows);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, n, n, 1.f, a.data() + static_cast<std::size_t>(r0) * n,
                    n, b.data(), n, 0.f, c.data() + static_cast<std::size_t>(r0) * n, n);
      });
    });
    std::printf("peak: OpenBLAS sgemm 2048^3, %d thread(s): %.1f ms, %.1f GFLOP/s\n", t, ms, gflop / ms * 1e3);
    if (threads == 1) break;
  }
}

struct Layer {
  std::string name;
  Conv2dParams p;
};

std::vector<Layer> conv_layers(const Graph& g, const WeightShapes& ws, int size) {
  const auto shapes = infer_shapes(g, ws, size, size);
  std::vector<Layer> out;
  for (const Node& n : g.nodes)
    if (n.op == OpKind::kConv2d)
      out.push_back({n.name, conv2d_params_for(n, shapes.at(n.inputs[0]),
                                               static_cast<int>(ws.at(n.weight).at(0)), 1)});
  return out;
}

int run(int argc, char** argv) {
  std::string arch = "standard", model;
  int size = 320, threads = 2, runs = 7;
  Conv2dGemmSplit split = Conv2dGemmSplit::kAuto;
  std::string onednn_algorithm = "direct", onednn_layout = "nchw";
  bool peak = false;
  int rows_min_width = kConv2dCpuDepthwiseRowsMinWidth;
  bool openblas_only = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--peak" || a == "--openblas-only") {
      (a == "--peak" ? peak : openblas_only) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) { std::fprintf(stderr, "error: %s needs a value\n", a.c_str()); return 2; }
    const std::string v = argv[i + 1];
    if (a == "--arch") arch = v;
    else if (a == "--model") model = v;
    else if (a == "--size") size = std::stoi(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--runs") runs = std::stoi(v);
    else if (a == "--depthwise-rows-min-width") rows_min_width = std::stoi(v);
    else if (a == "--onednn-layout" && (v == "nchw" || v == "blocked")) onednn_layout = v;
    else if (a == "--onednn-algorithm" && (v == "direct" || v == "auto" || v == "winograd")) onednn_algorithm = v;
    else if (a == "--split" && (v == "auto" || v == "rows" || v == "channels"))
      split = v == "auto" ? Conv2dGemmSplit::kAuto : v == "rows" ? Conv2dGemmSplit::kRows : Conv2dGemmSplit::kChannels;
    else { std::fprintf(stderr, "error: unknown option %s\n", a.c_str()); return 2; }
  }
  std::vector<Layer> layers;
  if (!model.empty()) {
    const ModelFile m = ModelFile::load(model);
    layers = conv_layers(m.graph(), m.weight_shapes(), size);
  } else {
    const ArchitectureGraph g = build_yolov3_mobilenet_v1(full_width_spec(arch, 80));
    WeightShapes ws;
    for (const auto& w : g.weights) ws[w.first] = w.second;
    layers = conv_layers(g.graph, ws, size);
  }
  set_cpu_threads(threads);
  omp_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  std::map<std::string, std::array<double, 4>> sum;  // kind -> ref, blas, onednn, GFLOP
  std::printf("%s, %dx%d, batch 1, FP32, %d threads, median of %d runs (ms), openblas split %s, onednn %s %s\n",
              model.empty() ? arch.c_str() : model.c_str(), size, size, threads, runs,
              split == Conv2dGemmSplit::kAuto ? "auto" : split == Conv2dGemmSplit::kRows ? "rows" : "channels",
              onednn_algorithm.c_str(), onednn_layout.c_str());
  if (peak) print_peak(threads, runs);
  const dnnl::algorithm dnn_alg = onednn_algorithm == "auto"       ? dnnl::algorithm::convolution_auto
                                  : onednn_algorithm == "winograd" ? dnnl::algorithm::convolution_winograd
                                                                   : dnnl::algorithm::convolution_direct;
  std::printf("%-52s %9s %9s %9s %9s  %s\n", "layer", "GFLOP", "reference", "openblas", "onednn", "max err (blas, onednn)");
  auto rows_here = [&](const Conv2dParams& p) {
    return conv2d_cpu_depthwise_rows_supports(p) && p.out_w >= rows_min_width;
  };
  for (const Layer& l : layers) {
    const Conv2dParams& p = l.p;
    const std::size_t in_n = static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w;
    const std::size_t w_n = static_cast<std::size_t>(p.out_channels) * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
    const std::size_t out_n = static_cast<std::size_t>(p.out_channels) * p.out_h * p.out_w;
    const auto in = random_vector(in_n, 1, 1.f);
    const auto w = random_vector(w_n, 2, std::sqrt(3.f / static_cast<float>(w_n / p.out_channels)));
    const auto b = random_vector(static_cast<std::size_t>(p.out_channels), 3, 0.5f);
    std::vector<float> ref(out_n), blas(out_n), dnn(out_n);
    const bool depthwise = p.groups > 1;
    // --openblas-only: the reference runs once, untimed, for the check.
    const double tr = openblas_only ? (conv2d_cpu(p, in.data(), w.data(), b.data(), ref.data()), 0.0)
                                    : median_ms(runs, [&] { conv2d_cpu(p, in.data(), w.data(), b.data(), ref.data()); });
    const double tb = median_ms(runs, [&] {
      if (depthwise && rows_here(p))
        conv2d_cpu_depthwise_rows(p, in.data(), w.data(), b.data(), blas.data());
      else if (depthwise)
        conv2d_cpu(p, in.data(), w.data(), b.data(), blas.data());
      else
        conv2d_cpu_gemm_split(p, in.data(), w.data(), b.data(), blas.data(), split);
    });
    const Conv2dGemmSplit ran = split == Conv2dGemmSplit::kAuto ? conv2d_cpu_gemm_auto_split(p, threads) : split;
    bool dnn_fell_back = false;
    double td = 0;
    if (!openblas_only) {
      OneDnnConv c = make_onednn(eng, s, p, w.data(), b.data(), dnn_alg, onednn_layout == "blocked", &dnn_fell_back);
      std::memcpy(c.src_plain.get_data_handle(), in.data(), in_n * sizeof(float));
      dnnl::reorder(c.src_plain, c.src).execute(s, c.src_plain, c.src);
      s.wait();
      td = median_ms(runs, [&] {
        c.prim.execute(s, {{DNNL_ARG_SRC, c.src}, {DNNL_ARG_WEIGHTS, c.wei}, {DNNL_ARG_BIAS, c.bias}, {DNNL_ARG_DST, c.dst}});
        s.wait();
      });
      dnnl::reorder(c.dst, c.dst_plain).execute(s, c.dst, c.dst_plain);
      s.wait();
      std::memcpy(dnn.data(), c.dst_plain.get_data_handle(), out_n * sizeof(float));
    } else {
      dnn = ref;
    }
    double scale = 0, eb = 0, ed = 0;
    for (std::size_t i = 0; i < out_n; ++i) {
      scale = std::max(scale, static_cast<double>(std::fabs(ref[i])));
      eb = std::max(eb, static_cast<double>(std::fabs(blas[i] - ref[i])));
      ed = std::max(ed, static_cast<double>(std::fabs(dnn[i] - ref[i])));
    }
    const double gflop = 2.0 * static_cast<double>(conv2d_macs(p)) / 1e9;
    const std::string kind = depthwise ? "depthwise" : (p.kernel_h == 1 ? "pointwise" : "3x3");
    auto& k = sum[kind];
    k[0] += tr; k[1] += tb; k[2] += td; k[3] += gflop;
    auto& t = sum["all"];
    t[0] += tr; t[1] += tb; t[2] += td; t[3] += gflop;
    std::printf("%-52s %9.3f %9.2f %9.2f %9.2f  %.1e, %.1e%s\n", l.name.c_str(), gflop, tr, tb, td, eb / scale,
                ed / scale, depthwise ? (rows_here(p) ? "  (openblas column: depthwise by rows)"
                                                                   : "  (openblas column: the reference)")
                          : (ran == Conv2dGemmSplit::kRows ? "  rows" : "  channels"));
    if (dnn_fell_back) std::printf("    (onednn: %s not available for this layer; direct ran)\n", onednn_algorithm.c_str());
  }
  std::printf("\n%-12s %9s %11s %11s %11s   GFLOP/s (reference, openblas, onednn)\n", "kind", "GFLOP", "reference",
              "openblas", "onednn");
  for (const auto& kv : sum) {
    const auto& k = kv.second;
    std::printf("%-12s %9.2f %9.1f ms %8.1f ms %8.1f ms   %.1f, %.1f, %.1f\n", kv.first.c_str(), k[3], k[0], k[1], k[2],
                k[3] / k[0] * 1e3, k[3] / k[1] * 1e3, k[3] / k[2] * 1e3);
  }
  return 0;
}

}  // namespace
}  // namespace tx2yolo

int main(int argc, char** argv) {
  try {
    return tx2yolo::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
