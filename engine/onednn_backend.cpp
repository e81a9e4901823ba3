#include "engine/onednn_backend.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "core/error.h"
#include "engine/detector.h"  // kMaxCpuThreads, kMaxBatch
#include "engine/onednn_api.h"
#include "layers/conv_layer.h"

namespace tx2yolo {

#ifdef TX2YOLO_WITH_ONEDNN

struct OnednnBackend::Impl {
  struct Tensor {
    TensorShape shape;
    dnnl_memory_desc_t md{};
    dnnl_memory_t mem = nullptr;
    // NCHW copy: filled after every run for graph outputs, on request otherwise.
    std::vector<float> plain;
    dnnl_memory_t plain_mem = nullptr;
    dnnl_primitive_t to_plain = nullptr;
  };
  struct Step {
    dnnl_primitive_t prim = nullptr;
    std::vector<dnnl_exec_arg_t> args;
  };
  // The network's primitives for one OpenMP team size. oneDNN fixes a
  // primitive's thread count when it is created, so each size the backend
  // may run with has its own plan; the plans share the activations, and the
  // weights wherever both chose the same layout.
  struct Plan {
    int threads = 1;
    std::vector<Step> steps;
  };
  // The default thread count (threads = 0) adapts between plans for all
  // cores and for one thread (OnednnBackend's header says why).
  static constexpr int kProbeRounds = 5;
  static constexpr int kReprobeFrames = 64;
  static constexpr double kReprobeSeconds = 2.0;
  static constexpr double kMultiThreadMargin = 0.8;
  // ... and at least this many times the last probe's own duration apart,
  // so that probing costs at most a few percent on slow networks.
  static constexpr double kReprobeCostFactor = 25.0;
  struct Adaptive {
    bool on = false;
    int chosen = 0;
    int probe_frames_left = 0;
    std::vector<std::vector<double>> samples;  // per plan, ms
    int frames_since_probe = 0;
    double probe_seconds = 0;  // how long the last probe took
    std::chrono::steady_clock::time_point probe_started, probed_at;
  };

  const OnednnApi* api = nullptr;
  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
  dnnl_format_tag_t blocked = dnnl_nChw16c;
  int block = 16;
  int threads = 1;
  int batch = 1;
  std::string input_name;
  std::map<std::string, Tensor> tensors;
  std::vector<std::string> outputs;
  std::vector<Plan> plans;
  bool first_plan = true;  // building plans[0]: tensors and weights are made, not reused
  Adaptive adaptive;
  std::map<std::string, std::pair<dnnl_memory_desc_t, dnnl_memory_t>> weights;  // by node, from plans[0]
  std::vector<dnnl_memory_t> owned;  // weights, biases
  std::map<std::string, int> impls;  // implementation name -> primitives using it
  bool ran = false;

  ~Impl() {
    if (!api) return;
    for (Plan& p : plans)
      for (Step& s : p.steps) api->primitive_destroy(s.prim);
    for (auto& kv : tensors) {
      if (kv.second.to_plain) api->primitive_destroy(kv.second.to_plain);
      if (kv.second.plain_mem) api->memory_destroy(kv.second.plain_mem);
      if (kv.second.mem) api->memory_destroy(kv.second.mem);
    }
    for (dnnl_memory_t m : owned) api->memory_destroy(m);
    if (stream) api->stream_destroy(stream);
    if (engine) api->engine_destroy(engine);
  }

  dnnl_memory_desc_t md(const std::vector<dnnl_dim_t>& dims, dnnl_format_tag_t tag) const {
    dnnl_memory_desc_t d{};
    dnnl_dims_t a{};
    for (std::size_t i = 0; i < dims.size(); ++i) a[i] = dims[i];
    onednn_check(api->memory_desc_init_by_tag(&d, static_cast<int>(dims.size()), a, dnnl_f32, tag),
                 "memory descriptor");
    return d;
  }

  dnnl_memory_t memory(const dnnl_memory_desc_t& d, void* handle) const {
    dnnl_memory_t m = nullptr;
    onednn_check(api->memory_create(&m, &d, engine, handle), "memory");
    return m;
  }

  bool impl_name(dnnl_primitive_desc_t pd, const char** impl) const {
    return api->primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl) == dnnl_success && *impl;
  }

  // A primitive from its descriptor (destroyed here). With `count`, the
  // implementation oneDNN chose is tallied for description().
  dnnl_primitive_t primitive(dnnl_primitive_desc_t pd, bool count) {
    const char* impl = nullptr;
    if (count && first_plan && impl_name(pd, &impl)) ++impls[impl];
    dnnl_primitive_t p = nullptr;
    const dnnl_status_t s = api->primitive_create(&p, pd);
    api->primitive_desc_destroy(pd);
    onednn_check(s, "primitive");
    return p;
  }

  dnnl_primitive_t reorder(const dnnl_memory_desc_t& from, const dnnl_memory_desc_t& to) {
    dnnl_primitive_desc_t pd = nullptr;
    onednn_check(api->reorder_primitive_desc_create(&pd, &from, engine, &to, engine, nullptr), "reorder");
    return primitive(pd, false);
  }

  // Copies `src` (layout from) into `dst` (layout to) once, now.
  void reorder_now(const dnnl_memory_desc_t& from, const float* src, const dnnl_memory_desc_t& to, dnnl_memory_t dst) {
    dnnl_memory_t s = memory(from, const_cast<float*>(src));
    dnnl_primitive_t r = nullptr;
    dnnl_status_t st = dnnl_success;
    try {
      r = reorder(from, to);
      const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, dst}};
      st = api->primitive_execute(r, stream, 2, args);
      if (st == dnnl_success) st = api->stream_wait(stream);
    } catch (...) {
      api->memory_destroy(s);
      throw;
    }
    api->primitive_destroy(r);
    api->memory_destroy(s);
    onednn_check(st, "weights reorder");
  }

  void execute(dnnl_primitive_t p, const std::vector<dnnl_exec_arg_t>& args) const {
    onednn_check(api->primitive_execute(p, stream, static_cast<int>(args.size()), args.data()), "execute");
  }

  // A blocked tensor [batch, C, H, W], allocated and zero-padded by oneDNN.
  // In later plans, the one plans[0] made.
  Tensor& add_tensor(const std::string& name, const TensorShape& s) {
    if (!first_plan) return tensors.at(name);
    TX2_REQUIRE(!tensors.count(name), "cpu backend (oneDNN): tensor '", name, "' is written twice");
    Tensor& t = tensors[name];
    t.shape = s;
    t.md = md({batch, s.c, s.h, s.w}, blocked);
    t.mem = memory(t.md, DNNL_MEMORY_ALLOCATE);
    return t;
  }

  const Tensor& input_of(const Node& node, std::size_t i) const {
    const auto it = tensors.find(node.inputs.at(i));
    TX2_REQUIRE(it != tensors.end(), "cpu backend (oneDNN): node '", node.name, "' reads '", node.inputs.at(i),
                "', which no earlier node writes");
    return it->second;
  }

  // oneDNN's eltwise_relu slope for negative inputs: ReLU and leaky ReLU
  // are both that algorithm.
  static float relu_alpha(Activation act, float alpha) { return act == Activation::kLeakyRelu ? alpha : 0.f; }

  // A conv's primitive descriptor with the activation fused as a post-op
  // (none for kNone), or the status oneDNN refused it with.
  dnnl_status_t conv_pd(bool winograd, const dnnl_memory_desc_t& src, const dnnl_memory_desc_t& w,
                        const dnnl_memory_desc_t* bias, const dnnl_memory_desc_t& dst, const dnnl_dims_t strides,
                        const dnnl_dims_t pad_l, const dnnl_dims_t pad_r, Activation act, float alpha,
                        dnnl_primitive_desc_t* pd) const {
    dnnl_convolution_desc_t cd{};
    dnnl_status_t s = api->convolution_forward_desc_init(
        &cd, dnnl_forward_inference, winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, &src, &w, bias,
        &dst, strides, pad_l, pad_r);
    dnnl_primitive_attr_t attr = nullptr;
    if (s == dnnl_success) s = api->primitive_attr_create(&attr);
    if (s != dnnl_success) return s;
    dnnl_post_ops_t ops = nullptr;
    s = api->post_ops_create(&ops);
    if (s == dnnl_success && act != Activation::kNone)
      s = api->post_ops_append_eltwise(ops, 1.f, dnnl_eltwise_relu, relu_alpha(act, alpha), 0.f);
    if (s == dnnl_success) s = api->primitive_attr_set_post_ops(attr, ops);
    if (s == dnnl_success) s = api->primitive_desc_create(pd, &cd, attr, engine, nullptr);
    if (ops) api->post_ops_destroy(ops);
    api->primitive_attr_destroy(attr);
    return s;
  }

  // The activation as its own in-place step on `t` (after a conv that could
  // not fuse it).
  void add_activation(const Node& node, const Tensor& t, Activation act, float alpha) {
    dnnl_eltwise_desc_t ed{};
    onednn_check(api->eltwise_forward_desc_init(&ed, dnnl_forward_inference, dnnl_eltwise_relu, &t.md,
                                                relu_alpha(act, alpha), 0.f),
                 cat("activation descriptor of node '", node.name, "'").c_str());
    dnnl_primitive_desc_t pd = nullptr;
    onednn_check(api->primitive_desc_create(&pd, &ed, nullptr, engine, nullptr),
                 cat("activation of node '", node.name, "'").c_str());
    plans.back().steps.push_back({primitive(pd, true), {{DNNL_ARG_SRC, t.mem}, {DNNL_ARG_DST, t.mem}}});
  }

  void add_conv(const Node& node, const ModelFile& model, const std::map<std::string, TensorShape>& shapes) {
    const Tensor& in = input_of(node, 0);
    const Conv2dParams p =
        conv2d_params_for(node, in.shape, static_cast<int>(model.tensor(node.weight).shape.at(0)), batch);
    const TensorShape& out_shape = shapes.at(node.output);
    TX2_REQUIRE(out_shape.c == p.out_channels && out_shape.h == p.out_h && out_shape.w == p.out_w, "node '",
                node.name, "': conv output ", p.out_channels, "x", p.out_h, "x", p.out_w, " disagrees with the graph");
    const int g = p.groups;
    const dnnl_memory_desc_t w_plain =
        g == 1 ? md({p.out_channels, p.in_channels, p.kernel_h, p.kernel_w}, dnnl_oihw)
               : md({g, p.out_channels / g, p.in_channels / g, p.kernel_h, p.kernel_w}, dnnl_goihw);
    const dnnl_memory_desc_t w_any =
        g == 1 ? md({p.out_channels, p.in_channels, p.kernel_h, p.kernel_w}, dnnl_format_tag_any)
               : md({g, p.out_channels / g, p.in_channels / g, p.kernel_h, p.kernel_w}, dnnl_format_tag_any);
    const dnnl_memory_desc_t b_md = md({p.out_channels}, dnnl_a);
    Tensor& out = add_tensor(node.output, out_shape);
    dnnl_dims_t strides{}, pad_l{}, pad_r{};
    strides[0] = p.stride_h;
    strides[1] = p.stride_w;
    pad_l[0] = pad_r[0] = p.pad_h;
    pad_l[1] = pad_r[1] = p.pad_w;
    // oneDNN wants the right padding that gives exactly out_h (the floor of
    // the output formula may leave some of pad_h unused).
    pad_r[0] = (p.out_h - 1) * p.stride_h + p.kernel_h - p.in_h - p.pad_h;
    pad_r[1] = (p.out_w - 1) * p.stride_w + p.kernel_w - p.in_w - p.pad_w;
    const bool has_bias = !node.bias.empty();
    // 3x3 stride-1 convs (the deep layers, two thirds of the standard
    // model's time) try oneDNN's Winograd first: F(2x2, 3x3) or F(4x4, 3x3),
    // 2.25x or 4x fewer multiplies (2.1x to 2.8x faster per layer here,
    // docs/performance.md). Its kernels fuse no leaky ReLU, so that activation
    // then runs as its own in-place eltwise primitive. Where oneDNN has no
    // Winograd kernel (below AVX-512, or a shape it refuses) the conv is
    // direct with the activation fused, as every other conv is.
    const bool winograd_shape = g == 1 && p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 && p.stride_w == 1;
    dnnl_primitive_desc_t pd = nullptr;
    const auto try_conv = [&](bool winograd, Activation fused) {
      return conv_pd(winograd, in.md, w_any, has_bias ? &b_md : nullptr, out.md, strides, pad_l, pad_r, fused,
                     p.alpha, &pd);
    };
    bool separate_activation = false;
    dnnl_status_t s = dnnl_unimplemented;
    if (winograd_shape) {
      s = try_conv(true, p.activation);
      if (s != dnnl_success && p.activation != Activation::kNone) {
        s = try_conv(true, Activation::kNone);
        separate_activation = s == dnnl_success;
      }
    }
    if (s != dnnl_success) s = try_conv(false, p.activation);
    onednn_check(s, cat("conv of node '", node.name, "'").c_str());
    const dnnl_memory_desc_t* w_md = api->primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (!w_md) {
      api->primitive_desc_destroy(pd);
      throw Error(cat("cpu backend (oneDNN): conv of node '", node.name, "' has no weights layout"));
    }
    const auto shared = weights.find(node.name);
    const bool reuse = shared != weights.end() && api->memory_desc_equal(&shared->second.first, w_md);
    dnnl_memory_t w = reuse ? shared->second.second : nullptr;
    if (!reuse) {
      if (api->memory_create(&w, w_md, engine, DNNL_MEMORY_ALLOCATE) != dnnl_success) {
        api->primitive_desc_destroy(pd);
        throw Error(cat("cpu backend (oneDNN): weights of node '", node.name, "' could not be allocated"));
      }
      owned.push_back(w);
    }
    const dnnl_memory_desc_t chosen = *w_md;  // w_md dies with pd
    const dnnl_primitive_t conv = primitive(pd, true);
    std::vector<Step>& steps = plans.back().steps;
    steps.push_back({conv, {{DNNL_ARG_SRC, in.mem}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, out.mem}}});
    // Weights: Paddle's [C_out, C_in/groups, K_h, K_w], reordered once into
    // the layout the conv chose. The bias is read in place from the model
    // file, which outlives the backend.
    if (!reuse) {
      reorder_now(w_plain, model.tensor_data(node.weight), chosen, w);
      if (first_plan) weights[node.name] = {chosen, w};
    }
    if (has_bias) {
      dnnl_memory_t b = memory(b_md, const_cast<float*>(model.tensor_data(node.bias)));
      owned.push_back(b);
      steps.back().args.push_back({DNNL_ARG_BIAS, b});
    }
    if (separate_activation) add_activation(node, out, p.activation, p.alpha);
  }

  void add_upsample(const Node& node, const std::map<std::string, TensorShape>& shapes) {
    const Tensor& in = input_of(node, 0);
    const TensorShape& s = shapes.at(node.output);
    TX2_REQUIRE(s.c == in.shape.c && s.h == in.shape.h * node.scale && s.w == in.shape.w * node.scale, "node '",
                node.name, "': upsample output disagrees with the graph");
    Tensor& out = add_tensor(node.output, s);
    dnnl_resampling_desc_t rd{};
    onednn_check(api->resampling_forward_desc_init(&rd, dnnl_forward_inference, dnnl_resampling_nearest, nullptr,
                                                   &in.md, &out.md),
                 cat("upsample descriptor of node '", node.name, "'").c_str());
    dnnl_primitive_desc_t pd = nullptr;
    onednn_check(api->primitive_desc_create(&pd, &rd, nullptr, engine, nullptr),
                 cat("upsample of node '", node.name, "'").c_str());
    plans.back().steps.push_back({primitive(pd, true), {{DNNL_ARG_SRC, in.mem}, {DNNL_ARG_DST, out.mem}}});
  }

  void add_concat(const Node& node, const std::map<std::string, TensorShape>& shapes) {
    std::vector<dnnl_memory_desc_t> mds;
    Step step;
    int c = 0;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor& in = input_of(node, i);
      mds.push_back(in.md);
      step.args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), in.mem});
      c += in.shape.c;
    }
    const TensorShape& s = shapes.at(node.output);
    TX2_REQUIRE(s.c == c, "node '", node.name, "': concat output disagrees with the graph");
    Tensor& out = add_tensor(node.output, s);
    dnnl_primitive_desc_t pd = nullptr;
    onednn_check(api->concat_primitive_desc_create(&pd, &out.md, static_cast<int>(mds.size()), 1, mds.data(),
                                                   nullptr, engine),
                 cat("concat of node '", node.name, "'").c_str());
    step.prim = primitive(pd, true);
    step.args.push_back({DNNL_ARG_DST, out.mem});
    plans.back().steps.push_back(step);
  }

  // The NCHW copy of a tensor (made once).
  dnnl_memory_desc_t add_plain_buffer(Tensor& t) {
    const dnnl_memory_desc_t plain_md = md({batch, t.shape.c, t.shape.h, t.shape.w}, dnnl_nchw);
    if (!t.plain_mem) {
      t.plain.assign(static_cast<std::size_t>(batch) * static_cast<std::size_t>(t.shape.numel()), 0.f);
      t.plain_mem = memory(plain_md, t.plain.data());
    }
    return plain_md;
  }

  // The NCHW copy of an inner tensor, with the reorder that fills it on request.
  void add_plain(Tensor& t) {
    if (t.to_plain) return;
    const dnnl_memory_desc_t plain_md = add_plain_buffer(t);
    t.to_plain = reorder(t.md, plain_md);
  }

  void to_plain(const Tensor& t) const { execute(t.to_plain, {{DNNL_ARG_FROM, t.mem}, {DNNL_ARG_TO, t.plain_mem}}); }
};

OnednnBackend::OnednnBackend(const ModelFile& model, const std::map<std::string, TensorShape>& shapes, int threads,
                             int batch)
    : impl_(std::make_unique<Impl>()), batch_(batch) {
  std::string why;
  const OnednnApi* api = onednn_api(&why);
  TX2_REQUIRE(api, "cpu backend: --cpu-convs onednn is not available: ", why);
  TX2_REQUIRE(batch >= 1 && batch <= kMaxBatch, "cpu backend: batch ", batch, " is outside [1, ", kMaxBatch, "]");
  TX2_REQUIRE(threads >= 0 && threads <= kMaxCpuThreads, "cpu backend: ", threads, " threads requested; 0 to ",
              kMaxCpuThreads, " are allowed");
  Impl& m = *impl_;
  m.api = api;
  m.batch = batch;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  m.threads = threads > 0 ? threads : (cores > 0 ? cores : 1);
  m.adaptive.on = threads == 0 && m.threads > 1;
  const dnnl_cpu_isa_t isa = api->get_effective_cpu_isa();
  if ((isa & dnnl_cpu_isa_avx512_core) != dnnl_cpu_isa_avx512_core) {
    m.blocked = dnnl_nChw8c;
    m.block = 8;
  }
  onednn_check(api->engine_create(&m.engine, dnnl_cpu, 0), "engine");
  onednn_check(api->stream_create(&m.stream, m.engine, dnnl_stream_default_flags), "stream");
  const Graph& graph = model.graph();
  m.input_name = graph.input.name;
  const TensorShape& in_shape = shapes.at(graph.input.name);
  // The caller's NCHW image, read in place: the first conv reads NCHW and
  // writes the blocked layout. (NHWC throughout, which gets oneDNN's brgconv
  // kernels, measured no faster: docs/performance.md.)
  Impl::Tensor& input = m.tensors[graph.input.name];
  input.shape = in_shape;
  input.md = m.md({batch, in_shape.c, in_shape.h, in_shape.w}, dnnl_nchw);
  input.mem = m.memory(input.md, DNNL_MEMORY_NONE);
  for (const int team : m.adaptive.on ? std::vector<int>{m.threads, 1} : std::vector<int>{m.threads}) {
    m.first_plan = m.plans.empty();
    m.plans.push_back({team, {}});
    api->omp_set_num_threads(team);  // oneDNN sizes each primitive to the calling thread's team
    for (const Node& node : graph.nodes) {
      switch (node.op) {
        case OpKind::kConv2d: m.add_conv(node, model, shapes); break;
        case OpKind::kUpsampleNearest: m.add_upsample(node, shapes); break;
        case OpKind::kConcat: m.add_concat(node, shapes); break;
      }
    }
    // The graph outputs, reordered to NCHW at the end of each run by this
    // plan's own team (a reorder made for more threads than the run uses
    // would wake the idle OpenMP threads every frame).
    for (const std::string& name : graph.outputs) {
      const auto it = m.tensors.find(name);
      TX2_REQUIRE(it != m.tensors.end() && name != m.input_name, "cpu backend (oneDNN): graph output '", name,
                  "' is written by no node");
      Impl::Tensor& t = it->second;
      const dnnl_memory_desc_t plain_md = m.add_plain_buffer(t);
      m.plans.back().steps.push_back(
          {m.reorder(t.md, plain_md), {{DNNL_ARG_FROM, t.mem}, {DNNL_ARG_TO, t.plain_mem}}});
      if (m.first_plan) m.outputs.push_back(name);
    }
  }
  m.first_plan = true;
  m.adaptive.samples.resize(m.plans.size());
  m.adaptive.probe_frames_left = m.adaptive.on ? Impl::kProbeRounds * static_cast<int>(m.plans.size()) : 0;
  api->omp_set_num_threads(m.threads);
}

OnednnBackend::~OnednnBackend() = default;

void OnednnBackend::run(const float* input) {
  Impl& m = *impl_;
  TX2_REQUIRE(input != nullptr, "cpu backend (oneDNN): no input");
  Impl::Adaptive& a = m.adaptive;
  const auto t0 = std::chrono::steady_clock::now();
  if (a.on && a.probe_frames_left == 0 && a.frames_since_probe >= Impl::kReprobeFrames &&
      std::chrono::duration<double>(t0 - a.probed_at).count() >=
          std::max(Impl::kReprobeSeconds, Impl::kReprobeCostFactor * a.probe_seconds)) {
    a.probe_frames_left = Impl::kProbeRounds * static_cast<int>(m.plans.size());
    for (auto& v : a.samples) v.clear();
  }
  if (a.probe_frames_left == Impl::kProbeRounds * static_cast<int>(m.plans.size())) a.probe_started = t0;
  // A probe runs one thread's frames first, then all cores': libgomp's idle
  // threads spin for a while after a multi-thread frame, and a one-thread
  // frame right after it would be timed beside them.
  const int plan = a.probe_frames_left > Impl::kProbeRounds ? 1 : a.probe_frames_left > 0 ? 0 : a.chosen;
  m.api->omp_set_num_threads(m.plans[plan].threads);  // per calling thread, so on every run
  onednn_check(m.api->memory_set_data_handle(m.tensors.at(m.input_name).mem, const_cast<float*>(input)), "input");
  for (const Impl::Step& s : m.plans[plan].steps) m.execute(s.prim, s.args);
  onednn_check(m.api->stream_wait(m.stream), "run");
  m.ran = true;
  if (a.probe_frames_left == 0) {
    ++a.frames_since_probe;
    return;
  }
  const auto t1 = std::chrono::steady_clock::now();
  a.samples[plan].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  if (--a.probe_frames_left > 0) return;
  // Each plan's mean without its slowest frame (a cold first run, or a
  // frame the scheduler stalled); the multi-thread plan must beat one
  // thread by kMultiThreadMargin, so that noise settles on one thread.
  std::vector<double> mean(a.samples.size());
  for (std::size_t i = 0; i < a.samples.size(); ++i) {
    std::vector<double> v = a.samples[i];
    std::sort(v.begin(), v.end());
    v.pop_back();
    for (double x : v) mean[i] += x / static_cast<double>(v.size());
  }
  a.chosen = mean[0] < Impl::kMultiThreadMargin * mean[1] ? 0 : 1;
  a.frames_since_probe = 0;
  a.probed_at = t1;
  a.probe_seconds = std::chrono::duration<double>(t1 - a.probe_started).count();
}

const float* OnednnBackend::output(const std::string& name) const {
  Impl& m = *impl_;
  TX2_REQUIRE(m.ran, "cpu backend: no input has been run");
  const auto it = m.tensors.find(name);
  TX2_REQUIRE(it != m.tensors.end(), "cpu backend: no tensor named '", name, "'");
  TX2_REQUIRE(name != m.input_name, "cpu backend (oneDNN): the input is the caller's buffer");
  Impl::Tensor& t = it->second;
  const bool is_output = std::find(m.outputs.begin(), m.outputs.end(), name) != m.outputs.end();
  if (!is_output) {  // an inner tensor, reordered now
    m.api->omp_set_num_threads(m.plans.at(m.adaptive.chosen).threads);
    m.add_plain(t);
    m.to_plain(t);
    onednn_check(m.api->stream_wait(m.stream), "reorder");
  }
  return t.plain.data();
}

std::string OnednnBackend::description() const {
  const Impl& m = *impl_;
  const dnnl_version_t* v = m.api->version();
  std::string impls;
  for (const auto& kv : m.impls) impls += cat(impls.empty() ? "" : ", ", kv.first, " x", kv.second);
  const std::string team =
      m.adaptive.on ? cat(m.threads, " threads, or 1 while that measures faster (timed again every ",
                          Impl::kReprobeSeconds, " s)")
                    : cat(m.threads, m.threads == 1 ? " thread" : " threads");
  return cat("cpu (", team, batch_ > 1 ? cat(", batch ", batch_) : "",
             "; oneDNN ", v->major, ".", v->minor, ".", v->patch, ", nChw", m.block, "c: ", impls,
             "; OpenMP wait policy: ", onednn_wait_policy(), ")");
}

#else  // no oneDNN in this build

struct OnednnBackend::Impl {};

OnednnBackend::OnednnBackend(const ModelFile&, const std::map<std::string, TensorShape>&, int, int batch)
    : batch_(batch) {
  std::string why;
  onednn_available(&why);
  throw Error(cat("cpu backend: --cpu-convs onednn is not available: ", why));
}

OnednnBackend::~OnednnBackend() = default;
void OnednnBackend::run(const float*) {}
const float* OnednnBackend::output(const std::string&) const { return nullptr; }
std::string OnednnBackend::description() const { return "cpu (oneDNN: not in this build)"; }

#endif

}  // namespace tx2yolo
