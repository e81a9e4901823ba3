#include "engine/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "core/error.h"
#include "engine/fusion.h"
#include "engine/tactic_validation.h"
#include "engine/verification.h"
#include "kernels/conv2d_launch.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_dwpw.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/device.h"
#include "kernels/multiclass_nms.h"
#include "kernels/preprocess.h"
#include "kernels/upsample_nearest.h"
#include "kernels/yolo_box.h"
#include "layers/concat_layer.h"
#include "layers/conv_layer.h"
#include "layers/upsample_layer.h"

namespace tx2yolo {

// The whole frame as one captured graph (detect_frame): what it was
// captured for, and the buffers it uses, fixed while it lives.
struct CudaBackend::FrameGraph {
  cudaGraphExec_t exec = nullptr;
  std::vector<PreprocessParams> params;
  std::vector<std::vector<YoloBoxParams>> levels;
  std::vector<std::string> heads;
  std::vector<unsigned long long> generations;  // of each preprocess slot
  std::string failure;  // capture failed for this key: the frame runs stage by stage
  bool events_inside = false;  // the stage events are nodes of the graph
  ~FrameGraph() {
    if (exec) cudaGraphExecDestroy(exec);
  }
};

struct CudaBackend::Impl {
  struct Step {
    const Layer* layer = nullptr;
    OpKind op = OpKind::kConv2d;
    bool elided = false;
    Conv2dParams conv;
    UpsampleNearestParams upsample;
    ConcatParams concat;
    const float* weight = nullptr;
    const float* bias = nullptr;
    Conv2dCudaKernel kernel = Conv2dCudaKernel::kAuto;  // the layer's tactic
    // conv: FP16 kernels may run it (precision fp16, and every weight within
    // FP16's range: they are rounded to FP16 when staged)
    bool fp16_ok = false;
    std::vector<Conv2dCudaKernel> candidates;  // conv: the kernels it may run (choose_tactics)
    // Depthwise + pointwise fusion (kernels/conv2d_dwpw.h), decided by
    // timing in choose_tactics. On a pointwise step: the depthwise step
    // whose output only it reads and that it may absorb (-1: none), and
    // whether it does (then it runs the pair and that step is skipped).
    int dw_partner = -1;
    bool fused = false;
    bool fused_away = false;  // on the depthwise step of a fused pair
    double best_ms = -1;      // its own best kernel's time, when timed
  };

  CudaBackendOptions options;
  CudaDeviceInfo device;
  std::map<std::string, TensorShape> shapes;
  std::string input_name;
  cudaStream_t stream = nullptr;
  DeviceBuffer<float> weights;
  DeviceBuffer<float> arena;
  DeviceBuffer<float> workspace;  // split-K partial sums (the largest any chosen tactic needs)
  std::vector<std::unique_ptr<Layer>> layers;
  std::vector<Step> steps;
  PinnedBuffer<float> pinned_input;
  PinnedBuffer<float> pinned_decode;
  DeviceBuffer<float> decoded;  // boxes [M, 4] then scores [C, M]
  std::unique_ptr<MulticlassNmsCuda> nms;
  std::vector<std::unique_ptr<PreprocessCuda>> preprocess;  // one per batch slot (own staging and tables)
  std::string nms_unsupported;  // why the GPU NMS is not used, once known
  std::map<std::string, std::vector<float>> host_cache;
  bool has_run = false;
  int steps_total = 0;
  // The network as a captured graph (CudaBackendOptions::cuda_graph).
  cudaGraphExec_t graph = nullptr;
  std::string graph_unavailable;  // why the launches run directly, once known
  std::vector<LayerTactic> tactics;  // one per conv step, in graph order
  std::string tactics_note;          // how they were chosen, for description()
  std::string tactics_cache_note;    // an old cache file ignored, for description()
  std::vector<std::string> warnings; // one line each (CudaBackend::warnings)
  std::unique_ptr<CudaBackend::FrameGraph> frame;  // the whole frame as one captured graph
  DeviceBuffer<float> frame_boxes;  // the frame graph's decoded boxes [M, 4]
  bool frame_unsplit = false;       // the last run was a frame graph without stage events
  int frame_captures = 0, frame_replays = 0, frame_direct = 0;  // detect_frame's frames, for description()
  // Events around preprocess, the layers and the post-processing.
  cudaEvent_t events[4] = {nullptr, nullptr, nullptr, nullptr};
  bool preprocessed_on_device = false;
  bool postprocessed_on_device = false;
  bool zero_copy_input = false;  // CudaBackendOptions::zero_copy_input, where the device can
  bool unverified = false;       // unverified features allowed (options or environment)
  std::string zero_copy_note;
  void record(int i) { CUDA_CHECK(cudaEventRecord(events[i], stream)); }
  // Inside a stream capture: the event as a node of the graph (CUDA 11.1+;
  // false when this CUDA cannot, and nothing is recorded).
  bool record_in_capture(int i) {
#if CUDART_VERSION >= 11010
    CUDA_CHECK(cudaEventRecordWithFlags(events[i], stream, cudaEventRecordExternal));
    return true;
#else
    (void)i;
    return false;
#endif
  }

  // FP16 activation storage (precision fp16). The memory plan is laid out
  // for 4-byte elements; with 2-byte elements every offset simply halves.
  bool half = false;
  template <typename T>
  T* act(std::size_t plan_byte_offset) {
    return reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(arena.data()) +
                                (half ? plan_byte_offset / 2 : plan_byte_offset));
  }
  std::size_t element_bytes() const { return half ? sizeof(half_t) : sizeof(float); }

  ~Impl() {
    if (graph) cudaGraphExecDestroy(graph);
    for (cudaEvent_t e : events)
      if (e) cudaEventDestroy(e);
    if (stream) cudaStreamDestroy(stream);
  }
};

namespace {

// Whether `kernel` may run `p` under the verified defaults
// (engine/verification.h): the kernel itself verified, and a batch that
// would need several launches (kernels/conv2d_launch.h) only where chunked
// launches are allowed.
bool kernel_allowed(const CudaBackend::Impl& m, const Conv2dParams& p, Conv2dCudaKernel kernel) {
  if (!feature_allowed(conv2d_cuda_kernel_name(kernel), m.unverified)) return false;
  const int splits =
      kernel == Conv2dCudaKernel::kGemmSplitK ? conv2d_splitk_splits(p, m.device.multiprocessors) : 1;
  return conv2d_cuda_geometry(p, kernel, splits).launches <= 1 || feature_allowed("chunked-launch", m.unverified);
}

// One conv step with kernel `kernel`, input and output at plan offsets, on
// the backend's activation storage.
void launch_conv(CudaBackend::Impl& m, const CudaBackend::Impl::Step& s, std::size_t in_off, std::size_t out_off,
                 Conv2dCudaKernel kernel) {
  if (m.half) {
    conv2d_cuda(s.conv, m.act<half_t>(in_off), s.weight, s.bias, m.act<half_t>(out_off), m.stream, kernel,
                m.workspace.data());
  } else {
    conv2d_cuda(s.conv, m.act<float>(in_off), s.weight, s.bias, m.act<float>(out_off), m.stream, kernel,
                m.workspace.data());
  }
}

// The kernel every candidate is compared with while timing: the 64x64 GEMM,
// verified on GPUs and able to run every conv.
constexpr Conv2dCudaKernel kReferenceKernel = Conv2dCudaKernel::kGemm;

// A conv step's output buffer, at its plan offset (the step's params hold
// its channel slice).
std::size_t output_offset(const MemoryPlan& plan, const CudaBackend::Impl::Step& s) {
  return plan.buffer_offsets[static_cast<std::size_t>(plan.tensors.at(s.layer->node().output).buffer)];
}

std::size_t input_elements(const Conv2dParams& p) {
  return static_cast<std::size_t>(p.batch) * p.in_channels * p.in_h * p.in_w;
}

// Seeded uniform values in [-1, 1] for a conv's input (`images` images of
// `count / images` values) into the arena at `off`, in the backend's
// activation storage. One image's worth is drawn, plus a few per image:
// image n is that run of values shifted by 97 n, so images differ at the
// cost of one.
void fill_random(CudaBackend::Impl& m, std::size_t off, std::size_t count, int images, std::uint32_t seed) {
  constexpr std::size_t kShift = 97;
  const std::size_t image = count / static_cast<std::size_t>(images);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::vector<float> pool(image + kShift * static_cast<std::size_t>(images));
  for (float& x : pool) x = uniform(rng);
  std::vector<float> host(count);
  for (int n = 0; n < images; ++n)
    std::copy(pool.begin() + static_cast<long long>(kShift) * n,
              pool.begin() + static_cast<long long>(kShift) * n + static_cast<long long>(image),
              host.begin() + static_cast<long long>(image) * n);
  if (m.half) {
    std::vector<half_t> h(count);
    for (std::size_t i = 0; i < count; ++i) h[i] = to_half(host[i]);
    CUDA_CHECK(cudaMemcpyAsync(m.act<half_t>(off), h.data(), count * sizeof(half_t), cudaMemcpyHostToDevice, m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
  } else {
    CUDA_CHECK(cudaMemcpyAsync(m.act<float>(off), host.data(), count * sizeof(float), cudaMemcpyHostToDevice, m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
  }
}

// Poisoning and reading a conv step's own output channels (its slice of the
// buffer at `out_off`, image by image), for the tactic validator. The
// poison is all-ones bytes: NaN in FP32 and in FP16.
TacticValidation validation_of(CudaBackend::Impl& m, const CudaBackend::Impl::Step& s, std::size_t out_off) {
  TacticValidation v;
  v.reference = conv2d_cuda_kernel_name(kReferenceKernel);
  v.fp16_storage = m.half;
  const Conv2dParams p = s.conv;
  const std::size_t plane = static_cast<std::size_t>(p.out_h) * p.out_w * m.element_bytes();
  const std::size_t pitch = plane * static_cast<std::size_t>(p.out_channels_total);
  const std::size_t width = plane * static_cast<std::size_t>(p.out_channels);
  unsigned char* first = m.act<unsigned char>(out_off) + plane * static_cast<std::size_t>(p.out_channel_offset);
  v.poison_output = [&m, first, pitch, width, p] {
    CUDA_CHECK(cudaMemset2DAsync(first, pitch, 0xFF, width, static_cast<std::size_t>(p.batch), m.stream));
  };
  v.read_output = [&m, first, pitch, width, p] {
    std::vector<unsigned char> bytes(width * static_cast<std::size_t>(p.batch));
    CUDA_CHECK(cudaMemcpy2DAsync(bytes.data(), width, first, pitch, width, static_cast<std::size_t>(p.batch),
                                 cudaMemcpyDeviceToHost, m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
    std::vector<float> out(bytes.size() / m.element_bytes());
    if (m.half) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        half_t h;
        std::memcpy(&h, bytes.data() + i * sizeof(half_t), sizeof(half_t));
        out[i] = to_float(h);
      }
    } else {
      std::memcpy(out.data(), bytes.data(), bytes.size());
    }
    return out;
  };
  return v;
}

// The tactic name of a pointwise layer that runs fused with its depthwise
// partner (the partner's own entry keeps its own kernel).
constexpr const char* kFusedTactic = "dwpw-fused";

// A pointwise step `s` fused with its depthwise partner `d`: the pair in one
// kernel, from d's input to s's output.
void launch_fused(CudaBackend::Impl& m, const MemoryPlan& plan, const CudaBackend::Impl::Step& d,
                  const CudaBackend::Impl::Step& s) {
  const Conv2dDwPwParams p{d.conv, s.conv};
  const std::size_t in_off = plan.read_offset(d.layer->node().inputs[0]);
  const std::size_t out_off =
      plan.buffer_offsets[static_cast<std::size_t>(plan.tensors.at(s.layer->node().output).buffer)];
  if (m.half) {
    conv2d_dwpw_cuda(p, m.act<half_t>(in_off), d.weight, d.bias, s.weight, s.bias, m.act<half_t>(out_off), m.stream);
  } else {
    conv2d_dwpw_cuda(p, m.act<float>(in_off), d.weight, d.bias, s.weight, s.bias, m.act<float>(out_off), m.stream);
  }
}

// One step of the network, T being the activation storage.
template <typename T>
void enqueue_step(CudaBackend::Impl& m, const MemoryPlan& plan, const CudaBackend::Impl::Step& s,
                  std::size_t out_off) {
  const Node& node = s.layer->node();
  switch (s.op) {
    case OpKind::kConv2d:
      if (s.fused) {
        launch_fused(m, plan, m.steps[static_cast<std::size_t>(s.dw_partner)], s);
      } else {
        launch_conv(m, s, plan.read_offset(node.inputs[0]), out_off, s.kernel);
      }
      break;
    case OpKind::kUpsampleNearest:
      upsample_nearest_cuda(s.upsample, m.act<T>(plan.read_offset(node.inputs[0])), m.act<T>(out_off), m.stream);
      break;
    case OpKind::kConcat: {
      const T* inputs[kMaxConcatInputs] = {};
      for (std::size_t i = 0; i < node.inputs.size(); ++i) inputs[i] = m.act<T>(plan.read_offset(node.inputs[i]));
      concat_cuda(s.concat, inputs, m.act<T>(out_off), m.stream);
      break;
    }
  }
}

}  // namespace

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
              "precision fp16 has never run on a GPU (", verified_feature("fp16").last_verification(),
              "); pass --unverified to use it anyway");
  TX2_REQUIRE(!options.zero_copy_input || feature_allowed("zero-copy", m.unverified),
              "zero-copy input has never run on a GPU; pass --unverified to use it anyway");
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

// The depthwise + pointwise pairs this backend may fuse (engine/fusion.h),
// marked on their pointwise steps for choose_tactics to time, with plan_
// remade for them; false when there are none (plan_ unchanged).
bool CudaBackend::find_fusable_pairs(const Graph& graph, const std::map<std::string, TensorShape>& shapes) {
  Impl& m = *impl_;
  // Fusion is only ever chosen by timing (or forced, in tests).
  if (m.options.tactics == TacticMode::kHeuristic && m.options.force_tactic != kFusedTactic) return false;
  if (!feature_allowed(kFusedTactic, m.unverified)) return false;
  std::map<int, Conv2dParams> convs;
  for (std::size_t i = 0; i < m.steps.size(); ++i)
    if (m.steps[i].op == OpKind::kConv2d) convs[static_cast<int>(i)] = m.steps[i].conv;
  const std::map<int, int> candidates = fusable_dwpw_pairs(graph, convs, plan_, m.options.keep_all_tensors, false);
  if (candidates.empty()) return false;
  plan_ = plan_memory(graph, shapes, m.options.batch, m.options.alias_concat, !m.options.keep_all_tensors, candidates);
  for (const auto& pair : fusable_dwpw_pairs(graph, convs, plan_, m.options.keep_all_tensors))
    m.steps[static_cast<std::size_t>(pair.first)].dw_partner = pair.second;
  return true;
}

void CudaBackend::choose_tactics() {
  Impl& m = *impl_;
  const TacticMode mode = m.options.tactics;
  Conv2dCudaKernel forced = Conv2dCudaKernel::kAuto;
  if (!m.options.force_tactic.empty()) {
    TX2_REQUIRE(mode == TacticMode::kHeuristic, "cuda backend: force_tactic needs the heuristic tactics mode");
    TX2_REQUIRE(m.options.force_tactic == kFusedTactic ||
                    conv2d_cuda_kernel_from_name(m.options.force_tactic, &forced),
                "cuda backend: unknown tactic '", m.options.force_tactic, "' to force");
  }
  std::unique_ptr<TacticCache> cache;
  std::map<std::string, LayerTactic> cached;
  TacticKey key;
  // Each conv step's candidates: the kernels the device and build support
  // for it, the FP16 ones only where the step allows FP16 (Step::fp16_ok),
  // and only those that run on the backend's activation storage.
  for (Impl::Step& s : m.steps)
    if (s.op == OpKind::kConv2d && mode != TacticMode::kHeuristic)  // the heuristic needs none (nor cuDNN opened)
      for (Conv2dCudaKernel c : kConv2dCudaTactics) {
        const bool storage_ok = m.half ? !conv2d_cuda_kernel_needs_fp32_storage(c)
                                       : !conv2d_cuda_kernel_needs_fp16_storage(c);
        if (storage_ok && conv2d_cuda_supports(s.conv, c) && (s.fp16_ok || !conv2d_cuda_kernel_is_fp16(c)) &&
            kernel_allowed(m, s.conv, c))
          s.candidates.push_back(c);
      }
  if (mode != TacticMode::kHeuristic) {
    const TensorShape& in = m.shapes.at(m.input_name);
    key.gpu = m.device.name;
    key.sms = m.device.multiprocessors;
    key.cuda_runtime = m.device.runtime_version;
    key.cuda_driver = m.device.driver_version;
    key.model_sha256 = m.options.model_sha256;
    key.input_h = in.h;
    key.input_w = in.w;
    key.batch = m.options.batch;
    key.precision = precision_name(m.options.precision);
    // The kernels that are a candidate for at least one layer.
    for (Conv2dCudaKernel c : kConv2dCudaTactics) {
      const bool offered = std::any_of(m.steps.begin(), m.steps.end(), [c](const Impl::Step& s) {
        return std::find(s.candidates.begin(), s.candidates.end(), c) != s.candidates.end();
      });
      if (offered) key.candidates += cat(key.candidates.empty() ? "" : ",", conv2d_cuda_kernel_name(c));
    }
    if (std::any_of(m.steps.begin(), m.steps.end(), [](const Impl::Step& s) { return s.dw_partner >= 0; }))
      key.candidates += cat(",", kFusedTactic);
    const std::string path = m.options.tactics_cache.empty() ? default_tactic_cache_path() : m.options.tactics_cache;
    // Without the model's hash there is no key: time, but keep nothing.
    if (!path.empty() && path != "none" && !key.model_sha256.empty()) cache = std::make_unique<TacticCache>(path);
    if (cache && mode == TacticMode::kCached) cached = cache->lookup(key);
    if (cache && !cache->note().empty()) m.tactics_cache_note = cat("; cache ", cache->path(), ": ", cache->note());
  }
  // Timing runs each candidate on the arena's own buffers (zeroed first, so
  // that no layer reads uninitialised memory): 2 warm-up launches, then the
  // mean of 10 between events.
  constexpr int kWarm = 2, kTimed = 10;
  if (mode != TacticMode::kHeuristic) {
    CUDA_CHECK(cudaMemsetAsync(m.arena.data(), 0, m.arena.bytes(), m.stream));
    // Room for every candidate while timing; shrunk below to what the chosen ones need.
    std::size_t need = 0;
    for (const Impl::Step& s : m.steps)
      for (Conv2dCudaKernel c : s.candidates) need = std::max(need, conv2d_cuda_workspace_floats(s.conv, c));
    if (need > 0) m.workspace = DeviceBuffer<float>(need);
  }
  // The mean time of one launch: kWarm launches, then kTimed between events.
  auto time_launches = [&](const std::function<void()>& launch) {
    for (int i = 0; i < kWarm; ++i) launch();
    CUDA_CHECK(cudaEventRecord(m.events[0], m.stream));
    for (int i = 0; i < kTimed; ++i) launch();
    CUDA_CHECK(cudaEventRecord(m.events[1], m.stream));
    CUDA_CHECK(cudaEventSynchronize(m.events[1]));
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, m.events[0], m.events[1]));
    return static_cast<double>(ms) / kTimed;
  };
  int timed = 0, from_cache = 0;
  for (Impl::Step& s : m.steps) {
    if (s.op != OpKind::kConv2d) continue;
    const Node& node = s.layer->node();
    LayerTactic t;
    t.layer = node.name;
    if (mode == TacticMode::kHeuristic) {
      s.kernel = conv2d_cuda_choose(s.conv, s.fp16_ok);
      if (forced != Conv2dCudaKernel::kAuto && conv2d_cuda_supports(s.conv, forced) && kernel_allowed(m, s.conv, forced) &&
          (m.half ? !conv2d_cuda_kernel_needs_fp32_storage(forced) : !conv2d_cuda_kernel_needs_fp16_storage(forced)) &&
          (s.fp16_ok || !conv2d_cuda_kernel_is_fp16(forced)))
        s.kernel = forced;
      TX2_REQUIRE(kernel_allowed(m, s.conv, s.kernel), "cuda backend: layer '", node.name, "' at batch ",
                  s.conv.batch, " needs the ", conv2d_cuda_kernel_name(s.kernel),
                  " kernel in several launches (grid z), which have never run on a GPU; use a smaller batch or "
                  "--unverified");
      t.tactic = conv2d_cuda_kernel_name(s.kernel);
      if (m.options.force_tactic == kFusedTactic && s.dw_partner >= 0) {
        s.fused = true;
        m.steps[static_cast<std::size_t>(s.dw_partner)].fused_away = true;
        t.tactic = kFusedTactic;
      }
      m.tactics.push_back(t);
      continue;
    }
    auto hit = cached.find(node.name);
    if (hit != cached.end() && !hit->second.validated) hit = cached.end();  // chosen without validation: time again
    if (hit != cached.end() && hit->second.tactic == kFusedTactic && s.dw_partner >= 0) {
      s.kernel = conv2d_cuda_choose(s.conv, s.fp16_ok);  // not launched while fused
      s.fused = true;
      m.steps[static_cast<std::size_t>(s.dw_partner)].fused_away = true;
      m.tactics.push_back(hit->second);
      ++from_cache;
      continue;
    }
    Conv2dCudaKernel k = Conv2dCudaKernel::kAuto;
    if (hit != cached.end() && conv2d_cuda_kernel_from_name(hit->second.tactic, &k) &&
        std::find(s.candidates.begin(), s.candidates.end(), k) != s.candidates.end()) {
      s.kernel = k;
      const auto timed_ms = hit->second.ms.find(hit->second.tactic);
      if (timed_ms != hit->second.ms.end()) s.best_ms = timed_ms->second;  // for a fusion timed later
      m.tactics.push_back(hit->second);
      ++from_cache;
      continue;
    }
    TX2_REQUIRE(!s.candidates.empty(), "cuda backend: no kernel may run layer '", node.name, "' at batch ",
                s.conv.batch, ": each would need several launches (grid z), which have never run on a GPU; use a "
                "smaller batch or --unverified");
    const std::size_t in_off = plan_.read_offset(node.inputs[0]);
    const std::size_t out_off = output_offset(plan_, s);
    // Every candidate on a seeded random input, its output compared with
    // the reference kernel's (engine/tactic_validation.h): one that
    // disagrees is never chosen, and the layer records why.
    fill_random(m, in_off, input_elements(s.conv), s.conv.batch, static_cast<std::uint32_t>(&s - m.steps.data()) + 1);
    TacticValidation v = validation_of(m, s, out_off);
    v.run_reference = [&] { launch_conv(m, s, in_off, out_off, kReferenceKernel); };
    std::vector<TacticCandidate> candidates;
    for (Conv2dCudaKernel c : s.candidates) {
      TacticCandidate tc;
      tc.name = conv2d_cuda_kernel_name(c);
      tc.fp16_operands = conv2d_cuda_kernel_is_fp16(c);
      // cuDNN may refuse at run time what it planned (then it is no
      // candidate here); a hand-written kernel failing is a real error.
      tc.may_fail = c == Conv2dCudaKernel::kCudnn;
      tc.time = [&, c] {
        try {
          return time_launches([&] { launch_conv(m, s, in_off, out_off, c); });
        } catch (const Error&) {
          if (c == Conv2dCudaKernel::kCudnn) CUDA_CHECK(cudaStreamSynchronize(m.stream));
          throw;
        }
      };
      candidates.push_back(tc);
    }
    ValidatedChoice choice;
    try {
      choice = time_and_validate(candidates, v);
    } catch (const Error& e) {
      throw Error(cat("cuda backend: timing the kernels of layer '", node.name, "' failed: ", e.what()));
    }
    if (!choice.reference_problem.empty()) {
      // Nothing to validate against: the reference kernel itself, untimed.
      s.kernel = kReferenceKernel;
      t.tactic = conv2d_cuda_kernel_name(s.kernel);
      m.warnings.push_back(cat("layer '", node.name, "': ", choice.reference_problem, "; it runs ", t.tactic,
                               " without validation (run tx2yolo selftest)"));
      m.tactics.push_back(t);
      ++timed;
      continue;
    }
    TX2_REQUIRE(!choice.chosen.empty() && conv2d_cuda_kernel_from_name(choice.chosen, &s.kernel),
                "cuda backend: no kernel agreed with the reference kernel on layer '", node.name,
                "' (run tx2yolo selftest)");
    t.ms = choice.ms;
    t.rejected = choice.rejected;
    t.validated = true;
    t.tactic = conv2d_cuda_kernel_name(s.kernel);
    const double best = choice.ms.at(choice.chosen);
    s.best_ms = best;
    // The fused pair, where it agrees with the two layers run one after the
    // other and beats their own best kernels.
    Impl::Step* d = s.dw_partner >= 0 ? &m.steps[static_cast<std::size_t>(s.dw_partner)] : nullptr;
    if (d != nullptr && d->best_ms >= 0) {
      const std::size_t d_in = plan_.read_offset(d->layer->node().inputs[0]);
      const std::size_t d_out = output_offset(plan_, *d);
      fill_random(m, d_in, input_elements(d->conv), d->conv.batch,
                  static_cast<std::uint32_t>(&s - m.steps.data()) + 7919);
      TacticValidation fv = validation_of(m, s, out_off);
      fv.reference = cat(conv2d_cuda_kernel_name(d->kernel), " + ", conv2d_cuda_kernel_name(kReferenceKernel));
      fv.run_reference = [&] {
        launch_conv(m, *d, d_in, d_out, d->kernel);
        launch_conv(m, s, in_off, out_off, kReferenceKernel);
      };
      TacticCandidate fused;
      fused.name = kFusedTactic;
      fused.time = [&] { return time_launches([&] { launch_fused(m, plan_, *d, s); }); };
      ValidatedChoice fc;
      try {
        fc = time_and_validate({fused}, fv);
      } catch (const Error& e) {
        throw Error(cat("cuda backend: timing ", kFusedTactic, " of layers '", d->layer->node().name, "' and '",
                        node.name, "' failed: ", e.what()));
      }
      if (!fc.reference_problem.empty()) {
        // Not fused: nothing to validate the pair against.
      } else if (fc.chosen.empty()) {
        t.rejected[kFusedTactic] = fc.rejected.at(kFusedTactic);
      } else {
        const double pair = fc.ms.at(kFusedTactic);
        // The pointwise layer's share when fused: the pair's time less the
        // depthwise layer's own best (so the chosen tactic is the fastest
        // entry). It can be negative: the pair skips the depthwise layer's
        // write of its output, which may cost more than the pointwise work.
        t.ms[kFusedTactic] = pair - d->best_ms;
        if (pair < d->best_ms + best) {
          s.fused = true;
          d->fused_away = true;
          t.tactic = kFusedTactic;
        }
      }
    }
    m.tactics.push_back(t);
    ++timed;
  }
  // Timing left random inputs and poison in the arena: zero it again, so
  // that no first run can read either.
  if (mode != TacticMode::kHeuristic) {
    CUDA_CHECK(cudaMemsetAsync(m.arena.data(), 0, m.arena.bytes(), m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
  }
  std::size_t chosen_need = 0;
  for (const Impl::Step& s : m.steps)
    if (s.op == OpKind::kConv2d && !s.fused && !s.fused_away)
      chosen_need = std::max(chosen_need, conv2d_cuda_workspace_floats(s.conv, s.kernel));
  if (chosen_need != m.workspace.size()) {
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
    m.workspace = chosen_need > 0 ? DeviceBuffer<float>(chosen_need) : DeviceBuffer<float>();
  }
  if (mode == TacticMode::kHeuristic) {
    m.tactics_note = "tactics: heuristic";
    return;
  }
  // One warning line for the kernels that disagreed with the reference.
  std::map<std::string, int> rejected_layers;
  for (const LayerTactic& t : m.tactics)
    for (const auto& r : t.rejected) ++rejected_layers[r.first];
  if (!rejected_layers.empty()) {
    std::string list;
    for (const auto& r : rejected_layers)
      list += cat(list.empty() ? "" : ", ", r.first, " on ", r.second, r.second == 1 ? " layer" : " layers");
    m.warnings.push_back(cat("kernels that disagreed with the reference kernel on this device were not used (", list,
                             "); run `tx2yolo selftest` and report it"));
  }
  m.tactics_note = cat("tactics: ", tactic_mode_name(mode), ", ", timed, " layers timed, ", from_cache, " from the cache");
  if (cache && timed > 0) {
    try {
      cache->store(key, m.tactics);
      m.tactics_note += cat(" (cache ", cache->path(), " updated)");
    } catch (const Error& e) {
      m.tactics_note += cat(" (cache not written: ", e.what(), ")");  // a read-only cache folder is no reason to stop
    }
  } else if (cache) {
    m.tactics_note += cat(" (cache ", cache->path(), ")");
  } else {
    m.tactics_note += " (no cache file)";
  }
  m.tactics_note += m.tactics_cache_note;
}

std::vector<LayerTactic> CudaBackend::tactics() const { return impl_->tactics; }

std::vector<std::string> CudaBackend::warnings() const { return impl_->warnings; }

CudaBackend::~CudaBackend() = default;

int CudaBackend::batch() const { return impl_->options.batch; }

void CudaBackend::run(const float* input) {
  Impl& m = *impl_;
  CUDA_CHECK(cudaSetDevice(m.options.device));
  const std::size_t input_floats =
      static_cast<std::size_t>(m.options.batch) * static_cast<std::size_t>(m.shapes.at(m.input_name).numel());
  float* staging = m.pinned_input.reserve(input_floats);
  // The previous frame's upload must be done before the staging buffer is reused.
  CUDA_CHECK(cudaStreamSynchronize(m.stream));
  if (m.half) {  // rounded to FP16 here, on the host, then uploaded at half the size
    half_t* h = reinterpret_cast<half_t*>(staging);
    for (std::size_t i = 0; i < input_floats; ++i) h[i] = to_half(input[i]);
  } else {
    std::memcpy(staging, input, input_floats * sizeof(float));
  }
  m.record(0);
  CUDA_CHECK(cudaMemcpyAsync(m.act<unsigned char>(plan_.read_offset(m.input_name)), staging,
                             input_floats * m.element_bytes(), cudaMemcpyHostToDevice, m.stream));
  m.record(1);
  m.preprocessed_on_device = false;
  run_layers();
}

bool CudaBackend::run_images(const std::vector<PreprocessParams>& params,
                             const std::vector<const std::uint8_t*>& bgr) {
  Impl& m = *impl_;
  if (!m.options.gpu_preprocess) return false;
  TX2_REQUIRE(!params.empty() && params.size() == bgr.size() && static_cast<int>(params.size()) <= m.options.batch,
              "cuda backend: ", params.size(), " images (", bgr.size(), " pointers) for a batch of ", m.options.batch);
  CUDA_CHECK(cudaSetDevice(m.options.device));
  const TensorShape& in = m.shapes.at(m.input_name);
  const std::size_t slot = static_cast<std::size_t>(in.numel());  // elements per image
  while (m.preprocess.size() < params.size()) m.preprocess.push_back(std::make_unique<PreprocessCuda>(m.zero_copy_input));
  m.record(0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const PreprocessParams& p = params[i];
    TX2_REQUIRE(in.c == 3 && in.h == p.dst_h && in.w == p.dst_w, "cuda backend: preprocessing to ", p.dst_h, "x",
                p.dst_w, " for a network input of ", in.c, "x", in.h, "x", in.w);
    try {
      if (m.half) {
        m.preprocess[i]->run(p, bgr[i], m.act<half_t>(plan_.read_offset(m.input_name)) + i * slot, m.stream);
      } else {
        m.preprocess[i]->run(p, bgr[i], m.act<float>(plan_.read_offset(m.input_name)) + i * slot, m.stream);
      }
      if (m.options.debug_sync) CUDA_CHECK(cudaStreamSynchronize(m.stream));
    } catch (const Error& e) {
      throw Error(cat("cuda backend: preprocessing failed: ", e.what()));
    }
  }
  m.record(1);
  m.preprocessed_on_device = true;
  run_layers();
  return true;
}

namespace {

cudaError_t instantiate_graph(cudaGraphExec_t* exec, cudaGraph_t graph) {
#if CUDART_VERSION >= 11040
  return cudaGraphInstantiateWithFlags(exec, graph, 0);
#else
  return cudaGraphInstantiate(exec, graph, nullptr, nullptr, 0);
#endif
}

// Captures what `enqueue` queues on `stream` into *exec. Returns why it
// failed ("" on success). A failure inside the capture still ends it (the
// stream must leave capture mode), and the non-sticky error it leaves is
// cleared; the caller then runs the launches directly, which report any
// real launch error with its layer's name.
std::string capture_graph(cudaStream_t stream, const std::function<void()>& enqueue, cudaGraphExec_t* exec) {
  *exec = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  std::string failure;
  try {
    enqueue();
  } catch (const Error& e) {
    failure = e.what();
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  if (failure.empty() && end != cudaSuccess) failure = cat("cudaStreamEndCapture: ", cudaGetErrorString(end));
  if (failure.empty()) {
    const cudaError_t inst = instantiate_graph(exec, graph);
    if (inst != cudaSuccess) {
      *exec = nullptr;
      failure = cat("cudaGraphInstantiate: ", cudaGetErrorString(inst));
    }
  }
  if (graph) cudaGraphDestroy(graph);
  if (!failure.empty()) cudaGetLastError();
  return failure;
}

}  // namespace

void CudaBackend::run_layers() {
  Impl& m = *impl_;
  m.host_cache.clear();
  launch_network();
  m.record(2);
  m.postprocessed_on_device = false;
  m.frame_unsplit = false;
  m.has_run = true;
}

// The network's launches: the captured graph where there is one; else
// directly, and then (cuda_graph on) captured for the next runs - after a
// direct run, so every kernel (and cuDNN) is loaded and initialised before
// the capture, as stream capture requires.
void CudaBackend::launch_network() {
  Impl& m = *impl_;
  const bool want_graph = m.options.cuda_graph && !m.options.debug_sync && m.graph_unavailable.empty();
  if (want_graph && m.graph) {
    CUDA_CHECK(cudaGraphLaunch(m.graph, m.stream));
    return;
  }
  enqueue_layers();
  if (want_graph) m.graph_unavailable = capture_graph(m.stream, [&] { enqueue_layers(); }, &m.graph);
}

bool CudaBackend::uses_cuda_graph() const { return impl_->graph != nullptr; }

void CudaBackend::enqueue_layers() {
  Impl& m = *impl_;
  for (const Impl::Step& s : m.steps) {
    const Node& node = s.layer->node();
    if (s.elided || s.fused_away) continue;
    const std::size_t out_off = plan_.buffer_offsets[static_cast<std::size_t>(plan_.tensors.at(node.output).buffer)];
    try {
      if (m.half) {
        enqueue_step<half_t>(m, plan_, s, out_off);
      } else {
        enqueue_step<float>(m, plan_, s, out_off);
      }
      if (m.options.debug_sync) CUDA_CHECK(cudaStreamSynchronize(m.stream));
    } catch (const Error& e) {
      throw Error(cat("cuda backend: layer '", node.name, "' (", s.layer->describe(), ") failed: ", e.what()));
    }
  }
}

const float* CudaBackend::output(const std::string& name) const {
  Impl& m = *impl_;
  TX2_REQUIRE(m.has_run, "cuda backend: no input has been run");
  const auto cached = m.host_cache.find(name);
  if (cached != m.host_cache.end()) return cached->second.data();
  const auto shape = m.shapes.find(name);
  TX2_REQUIRE(shape != m.shapes.end(), "cuda backend: no tensor named '", name, "'");
  const PlannedBuffer& buffer = plan_.buffers[static_cast<std::size_t>(plan_.tensors.at(name).buffer)];
  TX2_REQUIRE(m.options.keep_all_tensors || buffer.last_step >= m.steps_total, "cuda backend: tensor '", name,
              "' is not kept after the run (its memory is reused); set keep_all_tensors to read it");
  std::vector<float> host(static_cast<std::size_t>(m.options.batch) * static_cast<std::size_t>(shape->second.numel()));
  if (m.half) {  // FP16 on the device: widened to float here
    std::vector<half_t> h(host.size());
    CUDA_CHECK(cudaMemcpyAsync(h.data(), m.act<half_t>(plan_.read_offset(name)), h.size() * sizeof(half_t),
                               cudaMemcpyDeviceToHost, m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
    for (std::size_t i = 0; i < h.size(); ++i) host[i] = to_float(h[i]);
  } else {
    CUDA_CHECK(cudaMemcpyAsync(host.data(), m.act<float>(plan_.read_offset(name)), host.size() * sizeof(float),
                               cudaMemcpyDeviceToHost, m.stream));
    CUDA_CHECK(cudaStreamSynchronize(m.stream));
  }
  return m.host_cache.emplace(name, std::move(host)).first->second.data();
}

namespace {
// The head tensors of batch slot `image`, as T (the activation storage).
template <typename T>
std::vector<const T*> head_inputs(CudaBackend::Impl& m, const MemoryPlan& plan, const std::vector<std::string>& heads,
                                  int image) {
  TX2_REQUIRE(image >= 0 && image < m.options.batch, "cuda backend: image ", image, " of a batch of ",
              m.options.batch);
  std::vector<const T*> inputs;
  for (const auto& h : heads)
    inputs.push_back(m.act<T>(plan.read_offset(h)) + static_cast<std::size_t>(image) * m.shapes.at(h).numel());
  return inputs;
}

// yolo_box_cuda on the heads of batch slot `image`, whatever their storage.
void decode_heads(CudaBackend::Impl& m, const MemoryPlan& plan, const std::vector<YoloBoxParams>& levels,
                  const std::vector<std::string>& heads, int image, float* boxes, float* scores,
                  const NmsCandidateSink* sink) {
  if (m.half) {
    const std::vector<const half_t*> inputs = head_inputs<half_t>(m, plan, heads, image);
    yolo_box_cuda(levels.data(), inputs.data(), static_cast<int>(levels.size()), boxes, scores, m.stream, sink);
  } else {
    const std::vector<const float*> inputs = head_inputs<float>(m, plan, heads, image);
    yolo_box_cuda(levels.data(), inputs.data(), static_cast<int>(levels.size()), boxes, scores, m.stream, sink);
  }
}

// Launches the decode of all levels into m.decoded; returns the box count M.
std::size_t launch_decode(CudaBackend::Impl& m, const MemoryPlan& plan, const std::vector<YoloBoxParams>& levels,
                          const std::vector<std::string>& heads, int image) {
  TX2_REQUIRE(m.has_run, "cuda backend: decode before any run");
  TX2_REQUIRE(!levels.empty() && levels.size() == heads.size(), "cuda backend: ", levels.size(), " levels for ",
              heads.size(), " heads");
  const std::size_t num_boxes = static_cast<std::size_t>(levels[0].score_stride);
  const std::size_t total = num_boxes * (4 + static_cast<std::size_t>(levels[0].num_classes));
  if (m.decoded.size() < total) m.decoded = DeviceBuffer<float>(total);
  decode_heads(m, plan, levels, heads, image, m.decoded.data(), m.decoded.data() + num_boxes * 4, nullptr);
  return num_boxes;
}
}  // namespace

namespace {
// The GPU NMS for these settings, made (or remade, when they changed) on
// first use; false when the GPU path cannot reproduce the CPU for them (the
// reason is kept for description()).
bool ensure_gpu_nms(CudaBackend::Impl& m, const MulticlassNmsParams& nms, int num_boxes, int num_classes) {
  if (!m.options.gpu_nms) return false;
  if (m.nms && m.nms->params() == nms && m.nms->num_boxes() == num_boxes && m.nms->num_classes() == num_classes)
    return true;
  const int capacity = m.options.nms_capacity > 0 ? m.options.nms_capacity : kDefaultNmsCapacity;
  std::string why;
  if (!multiclass_nms_cuda_supports(nms, num_boxes, num_classes, capacity, &why)) {
    m.nms_unsupported = why;
    return false;
  }
  CUDA_CHECK(cudaStreamSynchronize(m.stream));  // the old one's buffers may still be in use
  m.frame.reset();                              // a captured frame refers to them
  m.nms = std::make_unique<MulticlassNmsCuda>(nms, num_boxes, num_classes, capacity, m.options.batch);
  m.nms_unsupported.clear();
  return true;
}
}  // namespace

bool CudaBackend::detect(const std::vector<YoloBoxParams>& levels, const std::vector<std::string>& heads,
                         const MulticlassNmsParams& nms, int image, std::vector<Detection>* out,
                         long long* overflow) {
  Impl& m = *impl_;
  if (levels.empty()) return false;
  TX2_REQUIRE(m.has_run, "cuda backend: detect before any run");
  TX2_REQUIRE(levels.size() == heads.size(), "cuda backend: ", levels.size(), " levels for ", heads.size(), " heads");
  const int num_boxes = levels[0].score_stride;
  if (!ensure_gpu_nms(m, nms, num_boxes, levels[0].num_classes)) return false;
  // The decode offers NMS candidates itself; no dense scores are written.
  const NmsCandidateSink sink = m.nms->begin(m.stream);
  const std::size_t box_floats = static_cast<std::size_t>(num_boxes) * 4;
  if (m.decoded.size() < box_floats) m.decoded = DeviceBuffer<float>(box_floats);
  decode_heads(m, plan_, levels, heads, image, m.decoded.data(), nullptr, &sink);
  *out = m.nms->finish(m.decoded.data(), m.stream, overflow, m.events[3]);
  m.postprocessed_on_device = true;
  return true;
}

// Everything one frame queues, in stream order: the uploads and the
// preprocessing of each image, the network, then decode + NMS of each
// image with its detections copied into the NMS's host slot. `mark(i)`
// records stage event i.
// capturing: inside the frame's stream capture (the network's launches go
// into it); otherwise the network runs as launch_network() does.
void CudaBackend::enqueue_frame(const FrameGraph& f, bool capturing, const std::function<void(int)>& mark) {
  Impl& m = *impl_;
  const MemoryPlan& plan = plan_;
  const std::size_t slot = static_cast<std::size_t>(m.shapes.at(m.input_name).numel());
  mark(0);
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    if (m.half) {
      m.preprocess[i]->enqueue(f.params[i], m.act<half_t>(plan.read_offset(m.input_name)) + i * slot, m.stream);
    } else {
      m.preprocess[i]->enqueue(f.params[i], m.act<float>(plan.read_offset(m.input_name)) + i * slot, m.stream);
    }
  }
  mark(1);
  if (capturing) {
    enqueue_layers();
  } else {
    launch_network();
  }
  mark(2);
  for (std::size_t i = 0; i < f.params.size(); ++i) {
    const NmsCandidateSink sink = m.nms->begin(m.stream);
    decode_heads(m, plan, f.levels[i], f.heads, static_cast<int>(i), m.frame_boxes.data(), nullptr, &sink);
    m.nms->finish_async(m.frame_boxes.data(), m.stream, static_cast<int>(i));
  }
  mark(3);
}

bool CudaBackend::detect_frame(const std::vector<PreprocessParams>& params,
                               const std::vector<const std::uint8_t*>& bgr,
                               const std::vector<std::vector<YoloBoxParams>>& levels,
                               const std::vector<std::string>& heads, const MulticlassNmsParams& nms,
                               std::vector<std::vector<Detection>>* out, std::vector<long long>* overflow) {
  Impl& m = *impl_;
  if (!m.options.gpu_preprocess || !m.options.cuda_graph || m.options.debug_sync) return false;
  // Never run on a GPU: the frame then runs stage by stage (verified).
  if (!feature_allowed("frame-graph", m.unverified)) return false;
  TX2_REQUIRE(!params.empty() && params.size() == bgr.size() && params.size() == levels.size() &&
                  static_cast<int>(params.size()) <= m.options.batch,
              "cuda backend: ", params.size(), " images (", bgr.size(), " pointers, ", levels.size(),
              " level sets) for a batch of ", m.options.batch);
  TX2_REQUIRE(!heads.empty(), "cuda backend: no heads to decode");
  const TensorShape& in = m.shapes.at(m.input_name);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const PreprocessParams& p = params[i];
    TX2_REQUIRE(in.c == 3 && in.h == p.dst_h && in.w == p.dst_w, "cuda backend: preprocessing to ", p.dst_h, "x",
                p.dst_w, " for a network input of ", in.c, "x", in.h, "x", in.w);
    TX2_REQUIRE(levels[i].size() == heads.size(), "cuda backend: ", levels[i].size(), " levels for ", heads.size(),
                " heads");
    TX2_REQUIRE(levels[i][0].score_stride == levels[0][0].score_stride &&
                    levels[i][0].num_classes == levels[0][0].num_classes,
                "cuda backend: image ", i, " decodes ", levels[i][0].score_stride, " boxes of ",
                levels[i][0].num_classes, " classes, image 0 ", levels[0][0].score_stride, " of ",
                levels[0][0].num_classes);
  }
  CUDA_CHECK(cudaSetDevice(m.options.device));
  const int num_boxes = levels[0][0].score_stride;
  if (!ensure_gpu_nms(m, nms, num_boxes, levels[0][0].num_classes)) return false;
  while (m.preprocess.size() < params.size()) m.preprocess.push_back(std::make_unique<PreprocessCuda>(m.zero_copy_input));
  for (std::size_t i = 0; i < params.size(); ++i) m.preprocess[i]->prepare(params[i], m.stream);
  std::vector<unsigned long long> generations;
  for (std::size_t i = 0; i < params.size(); ++i) generations.push_back(m.preprocess[i]->generation());

  // The graph is captured once for each set of sizes (and settings): at the
  // second frame in a row that has them (the first ran every kernel, and
  // cuDNN, directly, so all are loaded and initialised as capture requires;
  // frames whose sizes keep changing, as in a folder of photos, never pay
  // for a capture). It is replayed for every frame after that.
  const bool same = m.frame && m.frame->params == params && m.frame->levels == levels && m.frame->heads == heads &&
                    m.frame->generations == generations;
  // No upload from the staging buffers may still be queued (a frame ends
  // with a synchronisation, but run_images() does not), nor an old graph run.
  CUDA_CHECK(cudaStreamSynchronize(m.stream));
  if (!same) {
    m.frame = std::make_unique<FrameGraph>();
    m.frame->params = params;
    m.frame->levels = levels;
    m.frame->heads = heads;
    m.frame->generations = generations;
    const std::size_t box_floats = static_cast<std::size_t>(num_boxes) * 4;
    if (m.frame_boxes.size() < box_floats) m.frame_boxes = DeviceBuffer<float>(box_floats);
  }
  FrameGraph& f = *m.frame;
  if (same && !f.exec && f.failure.empty()) {
    // Where this CUDA cannot put events into a graph, the stage split of
    // the replayed frames is not measured (their total still is).
    f.events_inside = true;
    f.failure = capture_graph(
        m.stream,
        [&] {
          enqueue_frame(f, true, [&](int i) {
            if (!m.record_in_capture(i)) f.events_inside = false;
          });
        },
        &f.exec);
    if (f.failure.empty()) ++m.frame_captures;
  }
  for (std::size_t i = 0; i < params.size(); ++i) m.preprocess[i]->stage(params[i], bgr[i]);
  m.host_cache.clear();
  if (f.exec) {
    if (!f.events_inside) m.record(0);
    CUDA_CHECK(cudaGraphLaunch(f.exec, m.stream));
    if (!f.events_inside) m.record(3);
    ++m.frame_replays;
  } else {
    // A frame with new sizes, or one whose capture failed (then every one
    // with these sizes): the same launches, directly, the network as its
    // own graph where it can be.
    enqueue_frame(f, false, [&](int i) { m.record(i); });
    ++m.frame_direct;
  }
  CUDA_CHECK(cudaStreamSynchronize(m.stream));
  out->assign(params.size(), {});
  overflow->assign(params.size(), 0);
  for (std::size_t i = 0; i < params.size(); ++i)
    (*out)[i] = m.nms->result(static_cast<int>(i), &(*overflow)[i]);
  m.has_run = true;
  m.preprocessed_on_device = true;
  m.postprocessed_on_device = true;
  m.frame_unsplit = f.exec && !f.events_inside;
  return true;
}

bool CudaBackend::uses_frame_graph() const { return impl_->frame && impl_->frame->exec; }

bool CudaBackend::decode(const std::vector<YoloBoxParams>& levels, const std::vector<std::string>& heads, int image,
                         float* boxes, float* scores) {
  Impl& m = *impl_;
  const std::size_t num_boxes = launch_decode(m, plan_, levels, heads, image);
  const std::size_t box_floats = num_boxes * 4;
  const std::size_t total = box_floats + num_boxes * static_cast<std::size_t>(levels[0].num_classes);
  float* staging = m.pinned_decode.reserve(total);
  CUDA_CHECK(cudaMemcpyAsync(staging, m.decoded.data(), total * sizeof(float), cudaMemcpyDeviceToHost, m.stream));
  CUDA_CHECK(cudaStreamSynchronize(m.stream));
  std::memcpy(boxes, staging, box_floats * sizeof(float));
  std::memcpy(scores, staging + box_floats, (total - box_floats) * sizeof(float));
  return true;
}

bool CudaBackend::device_timings(double* preprocess_ms, double* network_ms, double* postprocess_ms) const {
  const Impl& m = *impl_;
  if (!m.has_run) return false;
  if (m.frame_unsplit) return false;  // a frame graph without its stage events (CUDA < 11.1)
  float ms[3] = {0.f, 0.f, 0.f};
  CUDA_CHECK(cudaEventSynchronize(m.events[2]));
  CUDA_CHECK(cudaEventElapsedTime(&ms[0], m.events[0], m.events[1]));
  CUDA_CHECK(cudaEventElapsedTime(&ms[1], m.events[1], m.events[2]));
  if (m.postprocessed_on_device) {
    CUDA_CHECK(cudaEventSynchronize(m.events[3]));
    CUDA_CHECK(cudaEventElapsedTime(&ms[2], m.events[2], m.events[3]));
  }
  // A host-side preprocess (run()) shows only its upload here; a CPU NMS shows 0.
  *preprocess_ms = ms[0];
  *network_ms = ms[1];
  *postprocess_ms = ms[2];
  return true;
}

std::string CudaBackend::description() const {
  const Impl& m = *impl_;
  char buf[400];
  std::snprintf(buf, sizeof(buf),
                "cuda (%s, sm_%d%d; batch %d; %s; weights %.1f MiB, activation arena %.1f MiB of %.1f unshared%s)",
                m.device.name.c_str(), m.device.sm_major, m.device.sm_minor, m.options.batch,
                m.half ? "fp16 activations (convs: fp32, tensor-core or half2 kernels, as chosen)" : "fp32",
                weight_bytes_ / 1048576.0, m.arena.bytes() / 1048576.0,
                plan_.unshared_bytes / (m.half ? 2.0 : 1.0) / 1048576.0,
                m.options.debug_sync ? "; debug sync" : "");
  std::string d = buf;
  d += "; " + m.tactics_note;
  if (m.frame_replays > 0)
    d += cat("; whole frame replayed as a CUDA graph (", m.frame_captures, " captures, ", m.frame_replays,
             " replays, ", m.frame_direct, " frames direct)");
  if (m.frame && !m.frame->failure.empty()) d += "; no whole-frame CUDA graph for these sizes: " + m.frame->failure;
  if (m.graph) d += "; network replayed as a CUDA graph";
  else if (!m.graph_unavailable.empty()) d += "; no CUDA graph: " + m.graph_unavailable;
  else if (!m.options.cuda_graph || m.options.debug_sync) d += "; no CUDA graph (off)";
  if (m.zero_copy_input) d += "; input read in place from pinned host memory (zero-copy)";
  d += m.zero_copy_note;
  if (!m.options.gpu_nms) d += "; NMS on the CPU (requested)";
  else if (!m.nms_unsupported.empty()) d += "; NMS on the CPU: " + m.nms_unsupported;
  return d;
}

}  // namespace tx2yolo
