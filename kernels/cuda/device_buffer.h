// DeviceBuffer<T>: a move-only owner of one cudaMalloc allocation, with
// checked copies to and from host memory. PinnedBuffer<T>: page-locked host
// memory (cudaMallocHost), for asynchronous copies and for copies a CUDA
// graph can capture. Host header (runtime API only).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace tx2yolo {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    if (count_ > 0) CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), count_ * sizeof(T)));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);  // cannot throw from a destructor; freeing cannot usefully fail
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), count_(o.count_) {
    o.ptr_ = nullptr;
    o.count_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(count_, o.count_);
    return *this;
  }

  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

  void upload(const T* host, std::size_t count) {
    TX2_REQUIRE(count <= count_, "DeviceBuffer::upload of ", count, " elements into ", count_);
    if (count > 0) CUDA_CHECK(cudaMemcpy(ptr_, host, count * sizeof(T), cudaMemcpyHostToDevice));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    if (count_ > 0) CUDA_CHECK(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  // At least `count` elements; a larger request reallocates, so the caller
  // must know that no copy from the old memory is still queued. Contents
  // are not kept.
  T* reserve(std::size_t count) {
    if (count > count_) {
      if (ptr_) CUDA_CHECK(cudaFreeHost(ptr_));
      ptr_ = nullptr;
      count_ = 0;
      CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
      count_ = count;
    }
    return ptr_;
  }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  std::size_t size() const { return count_; }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

// Fills n floats at ptr with value on stream (a real kernel; used to poison
// outputs before a kernel under test runs). Checks the launch.
void cuda_fill_f32(float* ptr, std::size_t n, float value, cudaStream_t stream);

}  // namespace tx2yolo
