// The whole frame as one captured CUDA graph (detect_frame): uploads and
// preprocessing of each image, the network, then decode + NMS of each image
// with its detections copied to the host, captured once per set of frame
// parameters and replayed; stage by stage when capture fails.
#include "engine/cuda_backend_impl.h"

#include "core/error.h"
#include "engine/verification.h"

namespace tx2yolo {

using namespace cuda_backend_detail;

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
  // Not verified: the frame then runs stage by stage (verified).
  if (!feature_allowed("frame-graph", m.unverified)) return false;
#if CUDART_VERSION < 11010
  // Built with a CUDA older than 11.1 (JetPack 4.6's 10.2): the frame graph
  // has no stage events inside it, a path no GPU has run (the H200 run of
  // 2026-12-04 used CUDA 13), so it is opt-in there.
  if (!m.unverified) return false;
#endif
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

}  // namespace tx2yolo
