// multiclass_nms: Paddle's multiclass_nms3 CPU kernel for one image
// (shared/research/paddle-semantics.md §4.2). Full algorithm at the top of
// kernels/cpu/multiclass_nms.cpp.
//
// Layouts (fp32): boxes [M, 4] (x1, y1, x2, y2); scores [C, M].
// Output rows are grouped by label ascending and, within a label, by
// descending score (selection order) - Paddle's CPU kernel order.
#pragma once

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#endif

#include <vector>

namespace tx2yolo {

struct MulticlassNmsParams {
  float score_threshold = 0.01f;  // candidate iff score > threshold (strict)
  int nms_top_k = 1000;           // per class, before NMS; < 0 keeps all
  int keep_top_k = 100;           // per image, after NMS; < 0 keeps all
  float nms_threshold = 0.45f;    // keep iff IoU <= threshold with every kept box
  bool normalized = true;         // false: static-era +1 pixel convention
  float nms_eta = 1.f;
  int background_label = -1;      // class skipped; -1 or >= C skips none
};

struct Detection {
  int class_id = 0;
  float score = 0.f;
  float x1 = 0.f, y1 = 0.f, x2 = 0.f, y2 = 0.f;
  int box_index = 0;  // m, the row in boxes
};

void validate_multiclass_nms_params(const MulticlassNmsParams& p);
// Field by field.
bool operator==(const MulticlassNmsParams& a, const MulticlassNmsParams& b);
inline bool operator!=(const MulticlassNmsParams& a, const MulticlassNmsParams& b) { return !(a == b); }

// Paddle's JaccardOverlap on (x1, y1, x2, y2) boxes.
float nms_iou(const float* a, const float* b, bool normalized);

std::vector<Detection> multiclass_nms_cpu(const MulticlassNmsParams& p, const float* boxes,
                                          const float* scores, int num_boxes, int num_classes);

#ifdef TX2YOLO_WITH_CUDA
// The GPU multiclass NMS (kernels/cuda/multiclass_nms.cu): the same output as
// multiclass_nms_cpu for the same boxes and scores. Candidates (score >
// threshold) go through a buffer of fixed `capacity` (a power of two >=
// 2048); more than that are dropped and counted in `overflow`.
constexpr int kDefaultNmsCapacity = 1 << 15;

// Where a producer appends NMS candidates (device pointers; see
// kernels/cuda/nms_candidates.cuh for the key and the append).
struct NmsCandidateSink {
  unsigned long long* keys = nullptr;
  int* counter = nullptr;
  int capacity = 0;
  float score_threshold = 0.f;
  int background = -1;  // class never offered; -1: none
};

// Whether the GPU path can reproduce the CPU exactly for these settings
// (nms_eta == 1, 0 <= nms_top_k <= 4096, ...); *why says what is not.
bool multiclass_nms_cuda_supports(const MulticlassNmsParams& p, int num_boxes, int num_classes, int capacity,
                                  std::string* why);

class MulticlassNmsCuda {
 public:
  // Allocates the device workspace; throws Error if the settings are not supported.
  // `slots`: how many results finish_async() can hold at once (one per
  // image of a batch), each in page-locked host memory.
  MulticlassNmsCuda(const MulticlassNmsParams& p, int num_boxes, int num_classes,
                    int capacity = kDefaultNmsCapacity, int slots = 1);
  ~MulticlassNmsCuda();
  MulticlassNmsCuda(const MulticlassNmsCuda&) = delete;
  MulticlassNmsCuda& operator=(const MulticlassNmsCuda&) = delete;

  // boxes [M, 4] and scores [C, M] in device memory. Enqueues the pipeline on
  // `stream`, copies the detections back once and synchronises the stream.
  // `done`, when given, is recorded on the stream after the last kernel.
  // Equivalent to begin(), a collect kernel over `scores`, then finish().
  std::vector<Detection> run(const float* boxes, const float* scores, cudaStream_t stream, long long* overflow,
                             cudaEvent_t done = nullptr);
  // The split form, for a producer that offers candidates itself (the YOLO
  // decode): begin() clears the candidate buffer on `stream` and says where
  // to append; finish() runs NMS over what was appended.
  NmsCandidateSink begin(cudaStream_t stream);
  std::vector<Detection> finish(const float* boxes, cudaStream_t stream, long long* overflow,
                                cudaEvent_t done = nullptr);
  // finish() without the synchronisation, for a caller that captures the
  // frame in a CUDA graph: queues the NMS and the copy of the detections
  // into host slot `slot` (0 <= slot < slots()); once the stream has passed
  // that point, result(slot) reads them. Every address it queues is fixed
  // for the object's lifetime. Between begin() and finish_async() of one
  // image no other image may begin() (they share the candidate buffer);
  // in stream order, images one after another is fine.
  void finish_async(const float* boxes, cudaStream_t stream, int slot, cudaEvent_t done = nullptr);
  std::vector<Detection> result(int slot, long long* overflow) const;
  int capacity() const { return capacity_; }
  int slots() const { return slots_; }
  const MulticlassNmsParams& params() const { return params_; }
  int num_boxes() const { return num_boxes_; }
  int num_classes() const { return num_classes_; }

 private:
  struct Buffers;
  MulticlassNmsParams params_;
  int num_boxes_ = 0;
  int num_classes_ = 0;
  int capacity_ = 0;
  int words_ = 0;
  int max_rows_ = 0;
  int slots_ = 1;
  std::unique_ptr<Buffers> buffers_;
};
#endif

}  // namespace tx2yolo
