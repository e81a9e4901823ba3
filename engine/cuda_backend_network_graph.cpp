// The network's launches: each step (conv with its tactic, a fused
// depthwise + pointwise pair, upsample, concat) queued in graph order, and
// the network captured once as a CUDA graph and replayed
// (CudaBackendOptions::cuda_graph).
#include "engine/cuda_backend_impl.h"

#include "core/error.h"
#include "kernels/conv2d_dwpw.h"

namespace tx2yolo {

using namespace cuda_backend_detail;

namespace cuda_backend_detail {

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

}  // namespace cuda_backend_detail

namespace {

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

}  // namespace tx2yolo
