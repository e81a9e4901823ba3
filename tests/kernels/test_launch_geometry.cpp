// Launch geometry of the CUDA conv kernels against CUDA's limits, on the CPU
// (kernels/conv2d_launch.h): every conv layer of the three full-width
// architectures, at 320, 416 and 608, at every batch from 1 to kMaxBatch,
// with each kernel that applies to the layer's shape, and each fusable
// depthwise + pointwise pair. The limits are sm_62's (the TX2): 48 KiB of
// shared memory per block, grid y and z <= 65535, 1024 threads.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/detector.h"
#include "kernels/conv2d_launch.h"
#include "layers/conv_layer.h"
#include "weights/architecture.h"
#include "tests/test_util.h"
#include "weights/graph.h"

namespace tx2yolo {
namespace {

using Layer = testing_util::ConvLayerShape;

std::vector<Layer> conv_layers(const std::string& arch, int size, std::map<std::string, int>* index = nullptr) {
  const std::vector<Layer> out = testing_util::full_width_conv_layers(arch, size);
  if (index)
    for (std::size_t i = 0; i < out.size(); ++i) (*index)[out[i].output] = static_cast<int>(i);
  return out;
}

bool shape_applies(const Conv2dParams& p, Conv2dCudaKernel k) {
  const bool depthwise = p.groups == p.in_channels && p.groups == p.out_channels;
  if (k == Conv2dCudaKernel::kDepthwise) return depthwise;
  return !conv2d_cuda_kernel_is_cudnn(k);  // cuDNN launches its own kernels
}

TEST(LaunchGeometry, EveryLayerOfTheFullWidthModelsFitsAtEveryBatch) {
  const CudaLaunchLimits sm62;
  int checked = 0, chunked = 0;
  for (const char* arch : kFullWidthArchitectures) {
    for (int size : {320, 416, 608}) {
      for (const Layer& l : conv_layers(arch, size)) {
        for (int batch = 1; batch <= kMaxBatch; ++batch) {
          Conv2dParams p = l.p;
          p.batch = batch;
          for (Conv2dCudaKernel k : kConv2dCudaTactics) {
            if (!shape_applies(p, k)) continue;
            // Split-K at the ranges a TX2 (2 SMs) and an H100 (132 SMs) would use.
            for (int sms : {2, 132}) {
              const int splits = k == Conv2dCudaKernel::kGemmSplitK ? conv2d_splitk_splits(p, sms) : 1;
              const LaunchGeometry g = conv2d_cuda_geometry(p, k, splits, sm62);
              ASSERT_TRUE(g.fits) << arch << " " << l.name << "@" << size << " batch " << batch << " "
                                  << conv2d_cuda_kernel_name(k) << ": " << g.why;
              EXPECT_LE(g.grid_x, sm62.max_grid_x);
              EXPECT_LE(g.grid_y, sm62.max_grid_yz);
              EXPECT_LE(g.grid_z, sm62.max_grid_yz);
              EXPECT_LE(g.threads, sm62.max_threads);
              EXPECT_LE(g.static_shared_bytes + g.dynamic_shared_bytes, sm62.max_shared_bytes);
              // The launches cover the batch, each within the limit.
              EXPECT_GE(static_cast<long long>(g.launches) * g.images_per_launch, batch);
              EXPECT_LT(static_cast<long long>(g.launches - 1) * g.images_per_launch, batch);
              chunked += g.launches > 1;
              ++checked;
              if (k != Conv2dCudaKernel::kGemmSplitK) break;  // the SM count matters to split-K only
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100000);
  EXPECT_GT(chunked, 0);  // the 1024-channel depthwise layers at large batches
}

// The case the issue found: at batch 64 the 1024-channel depthwise layer
// needs grid z = 64 x 1024 = 65536, one past the limit, so it is launched in
// two chunks of 63 and 1 images.
TEST(LaunchGeometry, DeepDepthwiseLayerAtBatch64IsSplitIntoLaunches) {
  Conv2dParams p;
  p.batch = 64;
  p.in_channels = p.out_channels = p.groups = 1024;
  p.in_h = p.in_w = 19;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  finalize_conv2d_params(p);
  const LaunchGeometry g = conv2d_cuda_geometry(p, Conv2dCudaKernel::kDepthwise);
  ASSERT_TRUE(g.fits) << g.why;
  EXPECT_EQ(g.images_per_launch, 63);
  EXPECT_EQ(g.launches, 2);
  EXPECT_EQ(g.grid_z, 63 * 1024);
  // The GEMM kernels on the same layer (groups 1024): one image is z 1024.
  const LaunchGeometry gemm = conv2d_cuda_geometry(p, Conv2dCudaKernel::kGemm);
  ASSERT_TRUE(gemm.fits) << gemm.why;
  EXPECT_EQ(gemm.launches, 2);
  // At batch 63 it is one launch again.
  p.batch = 63;
  EXPECT_EQ(conv2d_cuda_geometry(p, Conv2dCudaKernel::kDepthwise).launches, 1);
}

TEST(LaunchGeometry, RefusesWhatCannotLaunch) {
  Conv2dParams p;
  p.in_channels = p.out_channels = p.groups = 70000;  // one image alone past grid z
  p.in_h = p.in_w = 4;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  finalize_conv2d_params(p);
  const LaunchGeometry g = conv2d_cuda_geometry(p, Conv2dCudaKernel::kDepthwise);
  EXPECT_FALSE(g.fits);
  EXPECT_NE(g.why.find("grid z 70000"), std::string::npos) << g.why;
  // A depthwise input tile over the kernel's shared-memory budget (stride 64).
  Conv2dParams wide;
  wide.in_channels = wide.out_channels = wide.groups = 8;
  wide.in_h = wide.in_w = 4096;
  wide.kernel_h = wide.kernel_w = 3;
  wide.stride_h = wide.stride_w = 64;
  finalize_conv2d_params(wide);
  const LaunchGeometry t = conv2d_cuda_geometry(wide, Conv2dCudaKernel::kDepthwise);
  EXPECT_FALSE(t.fits);
  EXPECT_NE(t.why.find("input tile"), std::string::npos) << t.why;
  // A smaller shared-memory limit refuses the tensor-core kernel's 27136 bytes.
  CudaLaunchLimits tiny;
  tiny.max_shared_bytes = 16 * 1024;
  Conv2dParams q;
  q.in_channels = q.out_channels = 64;
  q.in_h = q.in_w = 8;
  finalize_conv2d_params(q);
  const LaunchGeometry w = conv2d_cuda_geometry(q, Conv2dCudaKernel::kWmmaFp16, 1, tiny);
  EXPECT_FALSE(w.fits);
  EXPECT_EQ(w.static_shared_bytes, 27136u);
}

// The static shared memory of each kernel is what ptxas reports for sm_62
// (docs/sm62-kernels.md): the geometry and the kernels share their tiles.
TEST(LaunchGeometry, SharedMemoryMatchesTheCompiledKernels) {
  Conv2dParams p;
  p.in_channels = p.out_channels = 64;
  p.in_h = p.in_w = 16;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  finalize_conv2d_params(p);
  EXPECT_EQ(conv2d_cuda_geometry(p, Conv2dCudaKernel::kGemm).static_shared_bytes, 8448u);
  EXPECT_EQ(conv2d_cuda_geometry(p, Conv2dCudaKernel::kGemmSmall).static_shared_bytes, 4352u);
  EXPECT_EQ(conv2d_cuda_geometry(p, Conv2dCudaKernel::kGemmLarge).static_shared_bytes, 12544u);
  EXPECT_EQ(conv2d_cuda_geometry(p, Conv2dCudaKernel::kGemmHalf2).static_shared_bytes, 4608u);
  Conv2dParams dw = p;
  dw.groups = 64;
  finalize_conv2d_params(dw);
  EXPECT_EQ(conv2d_cuda_geometry(dw, Conv2dCudaKernel::kDepthwise).static_shared_bytes, 208u);
  Conv2dParams pw = p;
  pw.kernel_h = pw.kernel_w = 1;
  pw.pad_h = pw.pad_w = 0;
  finalize_conv2d_params(pw);
  EXPECT_EQ(conv2d_dwpw_geometry({dw, pw}).static_shared_bytes, 8448u);
}

TEST(LaunchGeometry, FusedPairsFitAtEveryBatch) {
  int pairs = 0;
  for (const char* arch : kFullWidthArchitectures) {
    for (int size : {320, 416, 608}) {
      const std::vector<Layer> layers = conv_layers(arch, size);
      for (std::size_t i = 0; i + 1 < layers.size(); ++i) {
        if (!conv2d_dwpw_fusable(layers[i].p, layers[i + 1].p)) continue;
        ++pairs;
        for (int batch = 1; batch <= kMaxBatch; ++batch) {
          Conv2dDwPwParams f{layers[i].p, layers[i + 1].p};
          f.dw.batch = f.pw.batch = batch;
          const LaunchGeometry g = conv2d_dwpw_geometry(f);
          ASSERT_TRUE(g.fits && g.launches == 1) << arch << " " << layers[i + 1].name << " batch " << batch << ": "
                                                 << g.why;
        }
      }
    }
  }
  EXPECT_GT(pairs, 13 * 9);
}

}  // namespace
}  // namespace tx2yolo
