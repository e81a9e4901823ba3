// GPU tests (CTest label "gpu"): the CUDA skeleton of the foundation issue.
// Tests that make CUDA calls fail on purpose have "Deliberate" in their name;
// tools/gpu-check.sh leaves them out of the compute-sanitizer runs.
// Each test skips with the reason when no CUDA device is usable.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/device.h"
#include "tests/gpu_test_util.h"

#ifdef TX2YOLO_WITH_CUDA
#include "kernels/cuda/device_buffer.h"
#endif

namespace tx2yolo {
namespace {

TEST(CudaDevice, QueryReportsARealDevice) {
  SKIP_WITHOUT_GPU();
  const CudaDeviceInfo info = cuda_device_info(0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.sm_major * 10 + info.sm_minor, 53);
  EXPECT_GT(info.multiprocessors, 0);
  EXPECT_GT(info.total_memory, 0u);
  EXPECT_GE(info.shared_memory_per_block, 48u * 1024u);
  EXPECT_GT(info.runtime_version, 0);
  std::printf("device: %s\n", describe_cuda_device(info).c_str());
  EXPECT_THROW(cuda_device_info(cuda_device_count()), Error);
}

#ifdef TX2YOLO_WITH_CUDA
TEST(CudaDevice, BufferRoundTripAndFillKernel) {
  SKIP_WITHOUT_GPU();
  const std::size_t n = 100003;  // not a multiple of the block size
  DeviceBuffer<float> buf(n);
  std::vector<float> host(n);
  for (std::size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i) * 0.5f;
  buf.upload(host);
  EXPECT_EQ(buf.download(), host);
  cuda_fill_f32(buf.data(), n - 1, -3.f, nullptr);  // leave the last element alone
  CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<float> back = buf.download();
  EXPECT_EQ(back[0], -3.f);
  EXPECT_EQ(back[n - 2], -3.f);
  EXPECT_EQ(back[n - 1], host[n - 1]);
}

TEST(CudaDevice, DeliberateCudaErrorsThrowWithTheCallText) {
  SKIP_WITHOUT_GPU();
  try {
    CUDA_CHECK(cudaSetDevice(9999));
    FAIL() << "cudaSetDevice(9999) must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cudaSetDevice(9999)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DeviceBuffer<float> huge(std::size_t(1) << 50), Error);  // 4 PiB cannot be allocated
  // The failure is reported once: the next launch check does not inherit it.
  DeviceBuffer<float> small(16);
  EXPECT_NO_THROW(cuda_fill_f32(small.data(), 16, 1.f, nullptr));
}
#endif

TEST(CudaDevice, UnavailableReasonIsConsistent) {
  // Runs everywhere: with no device the reason is non-empty, with one it is empty.
  EXPECT_EQ(cuda_device_count() == 0, !cuda_unavailable_reason().empty());
}

}  // namespace
}  // namespace tx2yolo
