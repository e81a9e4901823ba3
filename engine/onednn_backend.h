// OnednnBackend: the CPU backend's --cpu-convs onednn path. The whole
// network runs as oneDNN primitives on activations kept in oneDNN's blocked
// channel layout from layer to layer: nChw16c (16 channels interleaved per
// pixel) where oneDNN's effective ISA has AVX-512, nChw8c otherwise. That is
// the layout oneDNN's fastest CPU convs (brgconv, jit depthwise) read and
// write, and what Paddle Inference's MKLDNN path runs; with NCHW tensors
// between layers, as the other paths keep them, oneDNN falls back to im2col
// GEMMs no faster than OpenBLAS (docs/performance.md, the CPU section).
//
//   image  [N, 3, H, W] float32, NCHW (as the Detector preprocesses it)
//     -> conv (weights reordered once to the layout oneDNN chose; bias and
//        the activation fused as a post-op) -> blocked tensors
//        3x3 stride-1 dense convs: oneDNN's Winograd F(4x4, 3x3) (or
//        F(2x2, 3x3), as oneDNN picks) where it has one (AVX-512), 2.1x to
//        2.8x faster per layer than its direct convs here; its kernels fuse
//        no leaky ReLU, which then runs as an in-place eltwise primitive.
//        Elsewhere these convs are direct, as all the others are.
//     -> upsample: oneDNN resampling (nearest), blocked in and out
//     -> concat: oneDNN concat along channels, blocked in and out
//   graph outputs: reordered to NCHW after every run; output() of any other
//   tensor reorders that one on request.
//
// Threads: oneDNN's own OpenMP team (libgomp), sized on the calling thread.
// An explicit `threads` is used as given. The default (threads = 0) adapts,
// for the CPU speed issue's contention case: beside a busy process, libgomp's
// threads made 2 threads 1.6x slower than 1 (docs/performance.md). The
// network is built for all cores and for one thread; each is timed on
// kProbeRounds interleaved frames, and all cores run only while their mean
// (without the slowest frame) beats one thread's by 20%. The timing is
// repeated every 2 s (at least 64 frames and 25 probe durations apart), so
// the choice follows the load. Both plans compute the same network within
// the FP32 tolerance, not bit for bit.
// Results are within the CPU fp32 tolerance of the reference (accumulation
// order differs); tests/engine/test_onednn_backend.cpp checks every layer
// shape and the detections.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "weights/model_file.h"

namespace tx2yolo {

class OnednnBackend : public Backend {
 public:
  // shapes: per image, from infer_shapes. Throws Error when oneDNN is not
  // available (onednn_available) or refuses a layer.
  OnednnBackend(const ModelFile& model, const std::map<std::string, TensorShape>& shapes, int threads, int batch);
  ~OnednnBackend() override;
  int batch() const override { return batch_; }
  void run(const float* input) override;
  const float* output(const std::string& name) const override;
  std::string description() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int batch_ = 1;
};

}  // namespace tx2yolo
