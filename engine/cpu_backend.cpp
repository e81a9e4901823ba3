#include "engine/cpu_backend.h"

#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/detector.h"  // kMaxCpuThreads
#include "kernels/conv2d.h"
#include "layers/conv_layer.h"

namespace tx2yolo {

CpuBackend::CpuBackend(const ModelFile& model, const std::map<std::string, TensorShape>& shapes, int threads,
                       int batch, bool gemm_convs)
    : input_name_(model.graph().input.name), batch_(batch), gemm_convs_(gemm_convs) {
  TX2_REQUIRE(!gemm_convs || conv2d_cpu_gemm_available(),
              "cpu backend: --cpu-convs gemm needs a build with OpenBLAS (libopenblas-dev); this one has none");
  TX2_REQUIRE(batch >= 1 && batch <= kMaxBatch, "cpu backend: batch ", batch, " is outside [1, ", kMaxBatch, "]");
  TX2_REQUIRE(threads >= 0 && threads <= kMaxCpuThreads, "cpu backend: ", threads, " threads requested; 0 to ",
              kMaxCpuThreads, " are allowed");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  threads_ = threads > 0 ? threads : (cores > 0 ? cores : 1);
  for (const Node& node : model.graph().nodes) {
    layers_.push_back(make_layer(node, model, shapes, batch));
    tensors_[node.output].assign(static_cast<std::size_t>(batch) * static_cast<std::size_t>(shapes.at(node.output).numel()),
                                 0.f);
  }
}

void CpuBackend::run(const float* input) {
  set_cpu_threads(threads_);  // this thread's share of the pool (core/thread_pool.h)
  input_ = input;
  std::vector<const float*> inputs;
  for (const auto& layer : layers_) {
    inputs.clear();
    for (const std::string& name : layer->node().inputs) inputs.push_back(output(name));
    float* out = tensors_.at(layer->node().output).data();
    const auto* conv = gemm_convs_ ? dynamic_cast<const ConvLayer*>(layer.get()) : nullptr;
    if (conv && conv->params().groups == 1) {
      conv2d_cpu_gemm(conv->params(), inputs.at(0), conv->weight(), conv->bias(), out);
    } else if (conv && conv2d_cpu_depthwise_rows_preferred(conv->params())) {
      conv2d_cpu_depthwise_rows(conv->params(), inputs.at(0), conv->weight(), conv->bias(), out);
    } else {
      layer->forward_cpu(inputs, out);
    }
  }
}

const float* CpuBackend::output(const std::string& name) const {
  if (name == input_name_) {
    TX2_REQUIRE(input_ != nullptr, "cpu backend: no input has been run");
    return input_;
  }
  const auto it = tensors_.find(name);
  TX2_REQUIRE(it != tensors_.end(), "cpu backend: no tensor named '", name, "'");
  return it->second.data();
}

std::string CpuBackend::description() const {
  return cat("cpu (", threads_, threads_ == 1 ? " thread" : " threads", batch_ > 1 ? cat(", batch ", batch_) : "",
             gemm_convs_ ? "; convs: OpenBLAS GEMM, wide depthwise by rows" : "; convs: the reference", ")");
}

}  // namespace tx2yolo
