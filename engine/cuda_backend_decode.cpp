// Decode and NMS on the GPU: yolo_box_cuda on each head of one batch slot
// (FP32 or FP16 storage), and the GPU NMS (kernels/multiclass_nms.h) where
// it reproduces the CPU exactly for the settings; else the Detector decodes
// on the host.
#include "engine/cuda_backend_impl.h"

#include "core/error.h"

namespace tx2yolo {

using namespace cuda_backend_detail;

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

}  // namespace

namespace cuda_backend_detail {

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

}  // namespace cuda_backend_detail

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

}  // namespace tx2yolo
