// Choosing each conv step's kernel: the fusable depthwise + pointwise pairs
// (engine/fusion.h), then every candidate the device supports timed on the
// arena's own buffers and compared with the reference kernel (gemm64) on the
// timing input (engine/tactic_validation.h); a kernel that disagrees is
// never chosen. Results go to the tactics cache (engine/tactics.h).
#include "engine/cuda_backend_impl.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/error.h"
#include "engine/fusion.h"
#include "engine/tactic_validation.h"
#include "engine/verification.h"
#include "kernels/conv2d_launch.h"

namespace tx2yolo {

using namespace cuda_backend_detail;

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

}  // namespace

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
                  " kernel in several launches (grid z), which are not verified on a GPU; use a smaller batch or "
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
                s.conv.batch, ": each would need several launches (grid z), which are not verified on a GPU; use a "
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
      tc.may_fail = conv2d_cuda_kernel_is_cudnn(c);
      tc.time = [&, c] {
        try {
          return time_launches([&] { launch_conv(m, s, in_off, out_off, c); });
        } catch (const Error&) {
          if (conv2d_cuda_kernel_is_cudnn(c)) CUDA_CHECK(cudaStreamSynchronize(m.stream));
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

}  // namespace tx2yolo
