// CpuBackend: runs every layer's CPU reference in graph order. Each tensor
// gets its own buffer, allocated once; the conv and upsample kernels run on
// the threads of core/thread_pool.h, which block rather than spin. This is
// the oracle the CUDA backend is checked against. With gemm_convs, the convs
// with groups == 1 run the fast path instead (conv2d_cpu_gemm: OpenBLAS
// GEMMs, within kConvFp32 of the reference); depthwise convs, upsample and
// concat stay the reference.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "layers/layer.h"
#include "weights/model_file.h"

namespace tx2yolo {

class CpuBackend : public Backend {
 public:
  // shapes: per image, from infer_shapes; batch: images per run.
  // gemm_convs needs conv2d_cpu_gemm_available() (an Error says so otherwise).
  CpuBackend(const ModelFile& model, const std::map<std::string, TensorShape>& shapes, int threads, int batch = 1,
             bool gemm_convs = false);
  int batch() const override { return batch_; }
  void run(const float* input) override;
  const float* output(const std::string& name) const override;
  std::string description() const override;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

 private:
  std::string input_name_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::map<std::string, std::vector<float>> tensors_;
  const float* input_ = nullptr;
  int threads_ = 1;
  int batch_ = 1;
  bool gemm_convs_ = false;
};

}  // namespace tx2yolo
