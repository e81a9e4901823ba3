// CPU reference kernel microbenchmarks at real YOLOv3-MobileNetV1 layer
// shapes (320x320 input, batch 1, fp32). These time the oracle, not the
// product's fast path; the CUDA kernels get their own benchmarks.
// Counters: GFLOP/s (2 * MACs per second) for convs, GB/s for data movement.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/upsample_nearest.h"

namespace {

std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// args: in_channels, out_channels, spatial (square), kernel, stride, depthwise (0/1)
void BM_Conv2dCpu(benchmark::State& state) {
  tx2yolo::Conv2dParams p;
  p.in_channels = static_cast<int>(state.range(0));
  p.out_channels = static_cast<int>(state.range(1));
  p.in_h = p.in_w = static_cast<int>(state.range(2));
  p.kernel_h = p.kernel_w = static_cast<int>(state.range(3));
  p.stride_h = p.stride_w = static_cast<int>(state.range(4));
  p.pad_h = p.pad_w = (p.kernel_h - 1) / 2;
  p.groups = state.range(5) ? p.in_channels : 1;
  p.activation = tx2yolo::Activation::kLeakyRelu;
  p.alpha = 0.1f;
  tx2yolo::finalize_conv2d_params(p);
  const auto in = random_vector(static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w, 1);
  const auto w = random_vector(static_cast<std::size_t>(p.out_channels) * (p.in_channels / p.groups) * p.kernel_h *
                                   p.kernel_w, 2);
  const auto b = random_vector(static_cast<std::size_t>(p.out_channels), 3);
  std::vector<float> out(static_cast<std::size_t>(p.out_channels) * p.out_h * p.out_w);
  for (auto _ : state) {
    tx2yolo::conv2d_cpu(p, in.data(), w.data(), b.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP"] = benchmark::Counter(2.0 * static_cast<double>(tx2yolo::conv2d_macs(p)) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Layer shapes at 320x320 (paddle-semantics.md §1-§2 scaled from 608).
BENCHMARK(BM_Conv2dCpu)
    ->ArgNames({"cin", "cout", "hw", "k", "s", "dw"})
    ->Args({3, 32, 320, 3, 2, 0})      // backbone.conv1
    ->Args({32, 32, 160, 3, 1, 1})     // conv2_1 depthwise
    ->Args({32, 64, 160, 1, 1, 0})     // conv2_1 pointwise
    ->Args({256, 256, 40, 3, 2, 1})    // conv4_2 depthwise, stride 2
    ->Args({512, 512, 20, 1, 1, 0})    // conv5_x pointwise
    ->Args({512, 1024, 10, 3, 1, 0})   // yolo_block.0 conv1 (3x3)
    ->Args({128, 256, 40, 3, 1, 0})    // yolo_block.2 conv1 (3x3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_UpsampleNearestCpu(benchmark::State& state) {
  tx2yolo::UpsampleNearestParams p;
  p.channels = static_cast<int>(state.range(0));
  p.in_h = p.in_w = static_cast<int>(state.range(1));
  tx2yolo::finalize_upsample_nearest_params(p);
  const auto in = random_vector(static_cast<std::size_t>(p.channels) * p.in_h * p.in_w, 4);
  std::vector<float> out(in.size() * 4);
  for (auto _ : state) {
    tx2yolo::upsample_nearest_cpu(p, in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(in.size() * 5 * sizeof(float)));
}
BENCHMARK(BM_UpsampleNearestCpu)->ArgNames({"c", "hw"})->Args({256, 19})->Args({128, 38})->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
