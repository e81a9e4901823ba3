// The CUDA backend (engine/cuda_backend.h): running a batch (host input or
// images preprocessed on the device), reading outputs, stage timings and
// the description. Its other parts are listed in engine/cuda_backend_impl.h.
#include "engine/cuda_backend_impl.h"

#include <cstring>

#include "core/error.h"

namespace tx2yolo {

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
