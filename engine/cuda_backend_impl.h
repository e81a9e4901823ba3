// The CUDA backend's state, private to its files (engine/cuda_backend*.cpp):
// one Impl that owns everything on the device, the whole-frame graph's
// record, and the few launch helpers that several parts share. Where the
// parts are:
//   cuda_backend_plan.cpp           the constructor: weights, steps, memory plan
//   cuda_backend_tactics.cpp        fusable pairs, tactic timing and validation
//   cuda_backend_network_graph.cpp  the steps' launches, the network's CUDA graph
//   cuda_backend_frame_graph.cpp    the whole frame as one CUDA graph
//   cuda_backend_decode.cpp         yolo_box decode and the GPU NMS
//   cuda_backend.cpp                running, outputs, timings, description
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/half.h"
#include "engine/cuda_backend.h"
#include "engine/memory_plan.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/device.h"
#include "kernels/multiclass_nms.h"
#include "kernels/preprocess.h"
#include "kernels/upsample_nearest.h"
#include "kernels/yolo_box.h"
#include "layers/layer.h"

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

// Launch helpers shared by the backend's files.
namespace cuda_backend_detail {

// One conv step with kernel `kernel`, input and output at plan offsets, on
// the backend's activation storage (cuda_backend_network_graph.cpp).
void launch_conv(CudaBackend::Impl& m, const CudaBackend::Impl::Step& s, std::size_t in_off, std::size_t out_off,
                 Conv2dCudaKernel kernel);

// A pointwise step `s` fused with its depthwise partner `d`: the pair in one
// kernel, from d's input to s's output (cuda_backend_network_graph.cpp).
void launch_fused(CudaBackend::Impl& m, const MemoryPlan& plan, const CudaBackend::Impl::Step& d,
                  const CudaBackend::Impl::Step& s);

// Captures what `enqueue` queues on `stream` into *exec. Returns why it
// failed ("" on success); see cuda_backend_network_graph.cpp.
std::string capture_graph(cudaStream_t stream, const std::function<void()>& enqueue, cudaGraphExec_t* exec);

// yolo_box_cuda on the heads of batch slot `image`, whatever their storage
// (cuda_backend_decode.cpp).
void decode_heads(CudaBackend::Impl& m, const MemoryPlan& plan, const std::vector<YoloBoxParams>& levels,
                  const std::vector<std::string>& heads, int image, float* boxes, float* scores,
                  const NmsCandidateSink* sink);

// Launches the decode of all levels into m.decoded; returns the box count M
// (cuda_backend_decode.cpp).
std::size_t launch_decode(CudaBackend::Impl& m, const MemoryPlan& plan, const std::vector<YoloBoxParams>& levels,
                          const std::vector<std::string>& heads, int image);

// The GPU NMS for these settings, made (or remade) on first use; false when
// the GPU path cannot reproduce the CPU for them (cuda_backend_decode.cpp).
bool ensure_gpu_nms(CudaBackend::Impl& m, const MulticlassNmsParams& nms, int num_boxes, int num_classes);

}  // namespace cuda_backend_detail
}  // namespace tx2yolo
