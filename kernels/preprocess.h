// preprocess: PaddleDetection's inference input transform
// (shared/research/paddle-semantics.md §5.1):
//
//   1. uint8 BGR image, HWC, rows of src_w*3 bytes (what cv::imread gives);
//   2. resize to dst_h x dst_w with cv::resize(INTER_CUBIC), called the way
//      Paddle calls it: dsize empty, fx = dst_w / src_w, fy = dst_h / src_h
//      (doubles), on the uint8 image (fixed-point bicubic, A = -0.75);
//   3. BGR -> RGB when swap_rb;
//   4. per channel c (RGB order), in numpy's precision:
//        a = float(p) * float(scale)            (float32)
//        b = float(double(a) - mean[c])         (mean, std are float64)
//        x = float(double(b) / std[c])
//   5. planar NCHW float32 output [3, dst_h, dst_w].
#pragma once

#include "core/half.h"

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>

#include <memory>
#endif

#include <cstdint>

namespace tx2yolo {

struct PreprocessParams {
  int src_h = 0;
  int src_w = 0;
  int dst_h = 0;
  int dst_w = 0;
  double mean[3] = {0.485, 0.456, 0.406};
  double std[3] = {0.229, 0.224, 0.225};
  double scale = 1.0 / 255.0;
  bool swap_rb = true;
};

// Throws Error on empty sizes or a zero std.
void validate_preprocess_params(const PreprocessParams& p);
// Field by field.
bool operator==(const PreprocessParams& a, const PreprocessParams& b);
inline bool operator!=(const PreprocessParams& a, const PreprocessParams& b) { return !(a == b); }

// out: [3, dst_h, dst_w] float32.
void preprocess_cpu(const PreprocessParams& p, const std::uint8_t* bgr, float* out);

#ifdef TX2YOLO_WITH_CUDA
// The GPU version (kernels/cuda/preprocess.cu): uploads the uint8 BGR image
// through pinned memory and writes [3, dst_h, dst_w] float to `out` (device).
// Its resize matches cv::resize INTER_CUBIC to within one level (see the
// file's header); the normalisation is the same arithmetic as the CPU's.
//
// zero_copy: the kernel reads the image in place from the page-locked
// staging buffer (mapped into the device's address space) instead of from a
// device copy of it. On a Jetson that saves a copy of every frame through
// the same DRAM, but the iGPU does not cache pinned host memory and the
// cubic resize reads each source pixel several times, so which is faster is
// a measurement (not made yet); on a discrete GPU the reads cross PCIe.
// Both give the same bytes to the same kernel.
class PreprocessCuda {
 public:
  explicit PreprocessCuda(bool zero_copy = false);
  ~PreprocessCuda();
  PreprocessCuda(const PreprocessCuda&) = delete;
  PreprocessCuda& operator=(const PreprocessCuda&) = delete;
  void run(const PreprocessParams& p, const std::uint8_t* bgr, float* out, cudaStream_t stream);
  // The same writing FP16 (core/half.h): each value computed in float as
  // above, then rounded to FP16 once.
  void run(const PreprocessParams& p, const std::uint8_t* bgr, half_t* out, cudaStream_t stream);

  // The split form, for a caller that captures the upload and the kernel in
  // a CUDA graph (run() is prepare, a stream sync, stage, enqueue):
  //  * prepare() sizes the resize tables, the device image and the pinned
  //    staging buffer for p's sizes; where it must replace ones in use it
  //    synchronises `stream` first and bumps generation();
  //  * stage() copies the image into the staging buffer on the host; the
  //    caller makes sure no upload from it is still queued;
  //  * enqueue() queues the upload from the staging buffer and the kernel.
  // What enqueue() queues uses only addresses that stay valid until
  // generation() changes, so a captured graph of it can be replayed with
  // stage() alone in between.
  void prepare(const PreprocessParams& p, cudaStream_t stream);
  void stage(const PreprocessParams& p, const std::uint8_t* bgr);
  void enqueue(const PreprocessParams& p, float* out, cudaStream_t stream);
  void enqueue(const PreprocessParams& p, half_t* out, cudaStream_t stream);
  unsigned long long generation() const;

 private:
  template <typename T>
  void launch(const PreprocessParams& p, T* out, cudaStream_t stream);
  struct State;
  std::unique_ptr<State> state_;
};
#endif

}  // namespace tx2yolo
