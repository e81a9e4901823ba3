// The CUDA backend's constructor: the device and its stream, the weights in
// one allocation, one step per graph node (conv, upsample, concat, with
// their params), the memory plan and the arena, and the fusable pairs and
// tactics (cuda_backend_tactics.cpp). The state it fills is
// engine/cuda_backend_impl.h.
#include "engine/cuda_backend_impl.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "engine/fusion.h"
#include "engine/verification.h"
#include "layers/concat_layer.h"
#include "layers/conv_layer.h"
#include "layers/upsample_layer.h"

namespace tx2yolo {

using namespace cuda_backend_detail;

CudaBackend::CudaBackend(const ModelFile& model, const std::map<std::string, TensorShape>& shapes,
                         const CudaBackendOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  TX2_REQUIRE(options.batch >= 1 && options.batch <= 1024, "cuda backend: batch ", options.batch, " is not positive");
  m.options = options;
  m.shapes = shapes;
  m.unverified = options.unverified || unverified_allowed_by_environment();
  // Verified defaults (engine/verification.h): an unverified feature is
  // used only when asked for by name and allowed.
  TX2_REQUIRE(options.precision == Precision::kFp32 || feature_allowed("fp16", m.unverified),
              "precision fp16 is not verified on a GPU (", verified_feature("fp16").last_verification(),
              "); pass --unverified to use it anyway");
  TX2_REQUIRE(!options.zero_copy_input || feature_allowed("zero-copy", m.unverified),
              "zero-copy input is not verified on a GPU (", verified_feature("zero-copy").last_verification(),
              "); pass --unverified to use it anyway");
  m.input_name = model.graph().input.name;
  m.device = cuda_device_info(options.device);  // throws when there is no such device
  if (options.zero_copy_input) {
    int can_map = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&can_map, cudaDevAttrCanMapHostMemory, options.device));
    m.zero_copy_input = can_map != 0;
    if (!m.zero_copy_input) m.zero_copy_note = "; zero-copy input asked for, but this device cannot map host memory";
  }
  CUDA_CHECK(cudaSetDevice(options.device));
  CUDA_CHECK(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  for (cudaEvent_t& e : m.events) CUDA_CHECK(cudaEventCreate(&e));

  // All weights in one allocation, each tensor 256-byte aligned.
  std::map<std::string, std::size_t> weight_offset;  // in floats
  std::size_t total = 0;
  for (const TensorInfo& t : model.tensors()) {
    weight_offset[t.name] = total;
    total += (static_cast<std::size_t>(t.numel()) + 63) / 64 * 64;
  }
  m.weights = DeviceBuffer<float>(total);
  weight_bytes_ = total * sizeof(float);
  for (const TensorInfo& t : model.tensors()) {
    CUDA_CHECK(cudaMemcpy(m.weights.data() + weight_offset[t.name], model.tensor_data(t.name),
                          static_cast<std::size_t>(t.numel()) * sizeof(float), cudaMemcpyHostToDevice));
  }
  // A pageable cudaMemcpy may return before its DMA lands, and the backend's
  // non-blocking stream is not ordered after the legacy stream.
  CUDA_CHECK(cudaDeviceSynchronize());

  plan_ = plan_memory(model.graph(), shapes, options.batch, options.alias_concat, !options.keep_all_tensors);
  m.steps_total = static_cast<int>(model.graph().nodes.size());
  m.half = options.precision == Precision::kFp16;

  for (const Node& node : model.graph().nodes) {
    m.layers.push_back(make_layer(node, model, shapes, options.batch));
    Impl::Step s;
    s.layer = m.layers.back().get();
    s.op = node.op;
    const TensorPlacement& out = plan_.tensors.at(node.output);
    switch (node.op) {
      case OpKind::kConv2d:
        s.conv = static_cast<const ConvLayer*>(s.layer)->params();
        s.conv.out_channel_offset = out.channel_offset;
        s.conv.out_channels_total = out.channels_total;
        finalize_conv2d_params(s.conv);
        s.weight = m.weights.data() + weight_offset.at(node.weight);
        if (m.half) {
          const float* w = model.tensor_data(node.weight);
          const long long count = model.tensor(node.weight).numel();
          s.fp16_ok = std::all_of(w, w + count, [](float x) { return std::fabs(x) <= 65504.f; });
        }
        s.bias = node.bias.empty() ? nullptr : m.weights.data() + weight_offset.at(node.bias);
        break;
      case OpKind::kUpsampleNearest:
        s.upsample = static_cast<const UpsampleLayer*>(s.layer)->params();
        s.upsample.out_channel_offset = out.channel_offset;
        s.upsample.out_channels_total = out.channels_total;
        finalize_upsample_nearest_params(s.upsample);
        break;
      case OpKind::kConcat:
        s.concat = static_cast<const ConcatLayer*>(s.layer)->params();
        s.elided = plan_.elided_concats.count(node.name) > 0;
        break;
    }
    m.steps.push_back(s);
  }
  // The fusable pairs, and the plan remade so that they may fuse (it keeps
  // each depthwise input live through its pointwise step). Slices and elided
  // concats, which the steps' params use, do not depend on that.
  const bool replanned = find_fusable_pairs(model.graph(), shapes);
  auto allocate_arena = [&] {
    const std::size_t arena_bytes = m.half ? plan_.arena_bytes / 2 + 256 : plan_.arena_bytes;
    const std::size_t floats = (arena_bytes + sizeof(float) - 1) / sizeof(float);
    if (floats == m.arena.size()) return;
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
    m.arena = DeviceBuffer<float>();
    m.arena = DeviceBuffer<float>(floats);
    // Zeroed once: a partial batch (fewer images than the batch) leaves the
    // unused images' input unwritten, and the first conv reads it (its
    // results are dropped; compute-sanitizer initcheck flagged the read on
    // an H200, 2026-12-04). Timed tactics zero it again after timing.
    CUDA_CHECK(cudaMemsetAsync(m.arena.data(), 0, m.arena.bytes(), m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
  };
  allocate_arena();
  choose_tactics();
  // The final plan keeps only the pairs that timing fused live together
  // (none fused: the plain plan, with no extra bytes). Pairs fuse only where
  // find_fusable_pairs planned for candidates.
  std::map<int, int> fused;
  for (std::size_t i = 0; i < m.steps.size(); ++i)
    if (m.steps[i].fused) fused[static_cast<int>(i)] = m.steps[i].dw_partner;
  if (replanned) {
    plan_ = plan_memory(model.graph(), shapes, options.batch, options.alias_concat, !options.keep_all_tensors, fused,
                        true);
    allocate_arena();
  }
  std::map<int, Conv2dParams> convs;
  for (const auto& pair : fused) {
    convs[pair.first] = m.steps[static_cast<std::size_t>(pair.first)].conv;
    convs[pair.second] = m.steps[static_cast<std::size_t>(pair.second)].conv;
  }
  TX2_REQUIRE(fusable_dwpw_pairs(model.graph(), convs, plan_, options.keep_all_tensors) == fused,
              "cuda backend: the memory plan does not keep the fused layers' tensors apart");
}

}  // namespace tx2yolo
