// multiclass_nms on the GPU with exactly the CPU reference's semantics
// (kernels/cpu/multiclass_nms.cpp, Paddle's multiclass_nms3 CPU kernel): the
// same boxes, in the same order, for the same input.
//
// Input (device, fp32): boxes [M, 4] (x1, y1, x2, y2), scores [C, M].
// Pipeline, all on one stream, one copy back at the end:
//  1. collect: every (c, m) with c != background and scores[c][m] > thr
//     (offered by collect_kernel over dense scores, or by the YOLO decode
//     directly, see kernels/cuda/nms_candidates.cuh)
//     appends a 64-bit key through an atomic counter into a buffer of fixed
//     capacity (a power of two); candidates past it are counted (overflow)
//     and dropped. key = class << 54 | (0xFFFFFFFF - float_bits(score)) << 22 | m,
//     so ascending keys are: class ascending, score descending, m ascending -
//     the order of a stable descending sort per class (scores > thr >= 0, so
//     their float bits order like the values).
//  2. sort: bitonic sort of the whole buffer (padding keys are all ones),
//     2048-element stages in shared memory, longer ones in global memory.
//  3. segments: where each class's run starts and ends; top-k = the first
//     min(run, nms_top_k) of each run.
//  4. mask: for each class, bit j of row i is set when candidate j (> i)
//     fails !(iou(j, i) <= nms_threshold) - the CPU's keep test, NaN included
//     - computed in 64 x 64 tiles (iou is Paddle's JaccardOverlap, compiled
//     with -fmad=false so it rounds as on the CPU).
//  5. greedy: one warp per class walks its candidates in order, keeping a
//     candidate unless a kept one already suppressed it, OR-ing the kept
//     row's mask words into the warp's "removed" bits.
//  6. keep_top_k: kept entries get key2 = (0xFFFFFFFF - bits(score)) << 32 |
//     class << 12 | rank (rank = selection order within the class); sorting
//     by key2 and keeping the first keep_top_k is the CPU's stable sort by
//     score with ties to the lower label, then earlier selection. The kept
//     ones are then re-sorted by class << 12 | rank: grouped by label,
//     selection order within a label, as the CPU emits them.
// Limits (checked by multiclass_nms_cuda_supports; the Detector falls back
// to the CPU otherwise): nms_eta == 1, 0 <= nms_top_k <= 4096,
// keep_top_k <= capacity, at most 1023 classes and 2^22 boxes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/nms_candidates.cuh"
#include "kernels/multiclass_nms.h"

namespace tx2yolo {

namespace {

using u64 = unsigned long long;
constexpr u64 kPadKey = ~0ull;
constexpr int kNmsThreads = 256;  // threads per block of the element-wise NMS kernels
constexpr int kLocalSort = 2048;  // elements sorted per block in shared memory
constexpr int kMaskWordsPerLane = 2;
constexpr int kMaxTopK = 64 * 32 * kMaskWordsPerLane;  // 4096

__device__ inline unsigned float_bits(float f) { return __float_as_uint(f); }

__device__ inline int key_class(u64 k) { return static_cast<int>(k >> 54); }
__device__ inline int key_box(u64 k) { return static_cast<int>(k & ((1u << 22) - 1)); }
__device__ inline float key_score(u64 k) {
  return __uint_as_float(0xFFFFFFFFu - static_cast<unsigned>((k >> 22) & 0xFFFFFFFFull));
}

__device__ inline float box_area(const float* b, bool normalized) {
  if (b[2] < b[0] || b[3] < b[1]) return 0.f;
  const float w = b[2] - b[0];
  const float h = b[3] - b[1];
  if (normalized) return w * h;
  return (w + 1.f) * (h + 1.f);
}

// Paddle's JaccardOverlap, the same operations in the same order as nms_iou().
__device__ inline float jaccard(const float* a, const float* b, bool normalized) {
  if (b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1]) return 0.f;
  const float n = normalized ? 0.f : 1.f;
  const float inter_w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]) + n;
  const float inter_h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]) + n;
  const float inter = inter_w * inter_h;
  return inter / (box_area(a, normalized) + box_area(b, normalized) - inter);
}

__global__ void __launch_bounds__(kNmsThreads) collect_kernel(const float* __restrict__ scores, int M, int C, NmsCandidateSink sink) {
  const long long total = static_cast<long long>(M) * C;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<long long>(gridDim.x) * blockDim.x) {
    cuda::nms_offer(sink, static_cast<int>(t / M), scores[t], static_cast<int>(t % M));
  }
}

__device__ inline void compare_swap(u64* a, u64* b, bool ascending) {
  const u64 x = *a, y = *b;
  if ((x > y) == ascending) {
    *a = y;
    *b = x;
  }
}

// Sorts (k_end == 0) or merges (k fixed, j from kLocalSort/2 down) one
// 2048-element chunk per block in shared memory; direction from the global index.
// 1024 threads: __launch_bounds__ keeps it within 32 registers, so a block
// fits the TX2's 32K registers per block.
__global__ void __launch_bounds__(1024) bitonic_local(u64* keys, int k_fixed) {
  __shared__ u64 s[kLocalSort];
  const int base = blockIdx.x * kLocalSort;
  for (int i = threadIdx.x; i < kLocalSort; i += blockDim.x) s[i] = keys[base + i];
  __syncthreads();
  const int k_first = k_fixed ? k_fixed : 2;
  const int k_last = k_fixed ? k_fixed : kLocalSort;
  for (int k = k_first; k <= k_last; k <<= 1) {
    for (int j = (k_fixed ? kLocalSort / 2 : k / 2); j > 0; j >>= 1) {
      for (int t = threadIdx.x; t < kLocalSort / 2; t += blockDim.x) {
        const int i = 2 * t - (t & (j - 1));  // lower element of the pair
        const int g = base + i;
        compare_swap(&s[i], &s[i + j], (g & k) == 0);
      }
      __syncthreads();
    }
  }
  for (int i = threadIdx.x; i < kLocalSort; i += blockDim.x) keys[base + i] = s[i];
}

__global__ void __launch_bounds__(kNmsThreads) bitonic_global(u64* keys, int n, int j, int k) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < n / 2; t += gridDim.x * blockDim.x) {
    const int i = 2 * t - (t & (j - 1));
    compare_swap(&keys[i], &keys[i + j], (i & k) == 0);
  }
}

void bitonic_sort(u64* keys, int n, cudaStream_t stream) {
  bitonic_local<<<n / kLocalSort, 1024, 0, stream>>>(keys, 0);
  CUDA_CHECK_LAUNCH("bitonic_local");
  for (int k = 2 * kLocalSort; k <= n; k <<= 1) {
    for (int j = k / 2; j >= kLocalSort; j >>= 1) {
      bitonic_global<<<cuda::grid_for(n / 2, kNmsThreads), kNmsThreads, 0, stream>>>(keys, n, j, k);
      CUDA_CHECK_LAUNCH("bitonic_global");
    }
    bitonic_local<<<n / kLocalSort, 1024, 0, stream>>>(keys, k);
    CUDA_CHECK_LAUNCH("bitonic_local(merge)");
  }
}

__global__ void __launch_bounds__(kNmsThreads) segments_kernel(const u64* __restrict__ keys, const int* __restrict__ counter, int capacity,
                                int* __restrict__ seg_begin, int* __restrict__ seg_end) {
  const int n = min(*counter, capacity);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const int c = key_class(keys[i]);
    if (i == 0 || key_class(keys[i - 1]) != c) seg_begin[c] = i;
    if (i == n - 1 || key_class(keys[i + 1]) != c) seg_end[c] = i + 1;
  }
}

__device__ inline int top_count(const int* seg_begin, const int* seg_end, int c, int top_k) {
  return min(seg_end[c] - seg_begin[c], top_k);
}

// grid (words, words, C), 64 threads: rows [64*y, +64), columns [64*x, +64).
__global__ void __launch_bounds__(64) mask_kernel(const u64* __restrict__ keys, const float* __restrict__ boxes,
                            const int* __restrict__ seg_begin, const int* __restrict__ seg_end, int top_k,
                            int words, float thr, bool normalized, u64* __restrict__ mask) {
  const int c = blockIdx.z;
  const int rb = blockIdx.y, cb = blockIdx.x;
  const int n = top_count(seg_begin, seg_end, c, top_k);
  if (cb < rb || rb * 64 >= n || cb * 64 >= n) return;
  const u64* ck = keys + seg_begin[c];
  __shared__ float col[64][4];
  const int t = threadIdx.x;
  if (cb * 64 + t < n) {
    const float* b = boxes + static_cast<long long>(key_box(ck[cb * 64 + t])) * 4;
    col[t][0] = b[0];
    col[t][1] = b[1];
    col[t][2] = b[2];
    col[t][3] = b[3];
  }
  __syncthreads();
  const int i = rb * 64 + t;
  if (i >= n) return;
  const float* bi = boxes + static_cast<long long>(key_box(ck[i])) * 4;
  const float row[4] = {bi[0], bi[1], bi[2], bi[3]};
  u64 bits = 0;
  for (int jj = 0; jj < 64; ++jj) {
    const int j = cb * 64 + jj;
    if (j <= i || j >= n) continue;
    // The CPU asks iou(candidate j, kept i) <= thr; JaccardOverlap is symmetric.
    if (!(jaccard(col[jj], row, normalized) <= thr)) bits |= 1ull << jj;
  }
  mask[(static_cast<long long>(c) * top_k + i) * words + cb] = bits;
}

// One warp per class.
__global__ void __launch_bounds__(32) greedy_kernel(const u64* __restrict__ mask, const int* __restrict__ seg_begin,
                              const int* __restrict__ seg_end, int top_k, int words, int* __restrict__ kept_rank,
                              int* __restrict__ kept_count) {
  const int c = blockIdx.x;
  const int lane = threadIdx.x;
  const int n = top_count(seg_begin, seg_end, c, top_k);
  const int row_words = (n + 63) / 64;  // words the mask kernel wrote for this class
  u64 removed[kMaskWordsPerLane] = {0, 0};
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    const int word = i >> 6;
    const u64 mine = removed[(word >> 5) == 0 ? 0 : 1];
    const u64 owner_bits = __shfl_sync(0xFFFFFFFFu, mine, word & 31);
    if ((owner_bits >> (i & 63)) & 1ull) continue;
    if (lane == 0) kept_rank[static_cast<long long>(c) * top_k + kept] = i;
    ++kept;
    const u64* row = mask + (static_cast<long long>(c) * top_k + i) * words;
#pragma unroll
    for (int s = 0; s < kMaskWordsPerLane; ++s) {
      const int w = lane + 32 * s;
      if (w >= word && w < row_words) removed[s] |= row[w];
    }
  }
  if (lane == 0) kept_count[c] = kept;
}

// One block: exclusive scan of kept counts (C <= 1023) and the total.
__global__ void __launch_bounds__(1024) scan_kernel(const int* __restrict__ kept_count, int C, int* __restrict__ offsets,
                            int* __restrict__ total) {
  __shared__ int s[1024];
  const int t = threadIdx.x;
  s[t] = t < C ? kept_count[t] : 0;
  __syncthreads();
  for (int d = 1; d < 1024; d <<= 1) {
    const int v = t >= d ? s[t - d] : 0;
    __syncthreads();
    s[t] += v;
    __syncthreads();
  }
  if (t < C) offsets[t] = s[t] - (t < C ? kept_count[t] : 0);
  if (t == 1023) *total = s[1023];
}

// grid (ceil(top_k / 256), C): kept entries to key2 (score desc, class, rank).
__global__ void __launch_bounds__(kNmsThreads) gather_kernel(const u64* __restrict__ keys, const int* __restrict__ seg_begin,
                              const int* __restrict__ kept_rank, const int* __restrict__ kept_count,
                              const int* __restrict__ offsets, int top_k, u64* __restrict__ list) {
  const int c = blockIdx.y;
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= kept_count[c]) return;
  const u64 key = keys[seg_begin[c] + kept_rank[static_cast<long long>(c) * top_k + r]];
  list[offsets[c] + r] = (static_cast<u64>(0xFFFFFFFFu - float_bits(key_score(key))) << 32) |
                         (static_cast<u64>(c) << 12) | static_cast<u64>(r);
}

// Keeps the first `final` entries as class << 12 | rank keys; pads the rest.
__global__ void __launch_bounds__(kNmsThreads) regroup_kernel(u64* list, int capacity, const int* __restrict__ total, int keep_top_k) {
  const int n = *total;
  const int final_count = keep_top_k >= 0 ? min(n, keep_top_k) : n;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < capacity; i += gridDim.x * blockDim.x)
    list[i] = i < final_count ? (list[i] & 0xFFFFFFFFull) : kPadKey;
}

struct OutRow {
  float score, x1, y1, x2, y2;
  int class_id, box_index, pad;
};

// header[0] = rows written, header[1] = candidates seen (overflow = seen - capacity).
__global__ void __launch_bounds__(kNmsThreads) output_kernel(const u64* __restrict__ list, const u64* __restrict__ keys,
                              const float* __restrict__ boxes, const int* __restrict__ seg_begin,
                              const int* __restrict__ kept_rank, const int* __restrict__ total,
                              const int* __restrict__ counter, int top_k, int keep_top_k, int max_rows,
                              int* __restrict__ header, OutRow* __restrict__ rows) {
  const int n = *total;
  const int final_count = min(keep_top_k >= 0 ? min(n, keep_top_k) : n, max_rows);
  const int f = blockIdx.x * blockDim.x + threadIdx.x;
  if (f == 0) {
    header[0] = final_count;
    header[1] = *counter;
  }
  if (f >= final_count) return;
  const u64 e = list[f];
  const int c = static_cast<int>((e >> 12) & 0x3FF);
  const int r = static_cast<int>(e & 0xFFF);
  const u64 key = keys[seg_begin[c] + kept_rank[static_cast<long long>(c) * top_k + r]];
  const int m = key_box(key);
  const float* b = boxes + static_cast<long long>(m) * 4;
  rows[f] = OutRow{key_score(key), b[0], b[1], b[2], b[3], c, m, 0};
}

}  // namespace

bool multiclass_nms_cuda_supports(const MulticlassNmsParams& p, int num_boxes, int num_classes, int capacity,
                                  std::string* why) {
  std::string reason;
  if (p.nms_eta != 1.f) reason = "nms_eta != 1 changes the threshold during the greedy scan";
  else if (p.nms_top_k < 0 || p.nms_top_k > kMaxTopK) reason = cat("nms_top_k ", p.nms_top_k, " is outside 0..", kMaxTopK);
  else if (num_classes < 1 || num_classes > 1023) reason = cat(num_classes, " classes (at most 1023)");
  else if (num_boxes < 1 || num_boxes >= (1 << 22)) reason = cat(num_boxes, " boxes (at most 2^22 - 1)");
  else if (capacity < kLocalSort || (capacity & (capacity - 1)) != 0 || capacity > (1 << 24))
    reason = cat("capacity ", capacity, " is not a power of two in [2048, 2^24]");
  else if (p.keep_top_k > capacity) reason = cat("keep_top_k ", p.keep_top_k, " exceeds the capacity ", capacity);
  else if (p.score_threshold < 0.f) reason = "a negative score_threshold";
  if (why) *why = reason;
  return reason.empty();
}

struct MulticlassNmsCuda::Buffers {
  DeviceBuffer<u64> keys, list, mask;
  DeviceBuffer<int> counter, seg_begin, seg_end, kept_rank, kept_count, offsets, total, header;
  DeviceBuffer<OutRow> rows;
  // Per slot: the header (count, candidates seen) and max_rows_ rows.
  PinnedBuffer<int> host_header;
  PinnedBuffer<OutRow> host_rows;
};

MulticlassNmsCuda::MulticlassNmsCuda(const MulticlassNmsParams& p, int num_boxes, int num_classes, int capacity,
                                     int slots)
    : params_(p), num_boxes_(num_boxes), num_classes_(num_classes), capacity_(capacity), slots_(slots),
      buffers_(std::make_unique<Buffers>()) {
  validate_multiclass_nms_params(p);
  TX2_REQUIRE(slots >= 1 && slots <= 4096, "multiclass_nms on the GPU: ", slots, " result slots");
  std::string why;
  TX2_REQUIRE(multiclass_nms_cuda_supports(p, num_boxes, num_classes, capacity, &why),
              "multiclass_nms on the GPU: ", why);
  const int top_k = std::max(p.nms_top_k, 1);
  words_ = (top_k + 63) / 64;
  max_rows_ = p.keep_top_k >= 0 ? std::max(p.keep_top_k, 1) : capacity;
  Buffers& b = *buffers_;
  b.keys = DeviceBuffer<u64>(static_cast<std::size_t>(capacity));
  b.list = DeviceBuffer<u64>(static_cast<std::size_t>(capacity));
  b.mask = DeviceBuffer<u64>(static_cast<std::size_t>(num_classes) * top_k * words_);
  b.counter = DeviceBuffer<int>(1);
  b.seg_begin = DeviceBuffer<int>(static_cast<std::size_t>(num_classes));
  b.seg_end = DeviceBuffer<int>(static_cast<std::size_t>(num_classes));
  b.kept_rank = DeviceBuffer<int>(static_cast<std::size_t>(num_classes) * top_k);
  b.kept_count = DeviceBuffer<int>(static_cast<std::size_t>(num_classes));
  b.offsets = DeviceBuffer<int>(static_cast<std::size_t>(num_classes));
  b.total = DeviceBuffer<int>(1);
  b.header = DeviceBuffer<int>(2);
  b.rows = DeviceBuffer<OutRow>(static_cast<std::size_t>(max_rows_));
  b.host_header.reserve(2 * static_cast<std::size_t>(slots));
  b.host_rows.reserve(static_cast<std::size_t>(max_rows_) * static_cast<std::size_t>(slots));
  std::memset(b.host_header.data(), 0, 2 * static_cast<std::size_t>(slots) * sizeof(int));  // empty until filled
  // run() copies all max_rows_ rows back in one go (one synchronisation);
  // rows past the count are never used, but zero them once so the copy never
  // reads uninitialised memory (compute-sanitizer initcheck).
  CUDA_CHECK(cudaMemset(b.rows.data(), 0, b.rows.bytes()));
  // cudaMemset may still be running when it returns, and a caller's
  // non-blocking stream is not ordered after it: finish it here.
  CUDA_CHECK(cudaDeviceSynchronize());
}

MulticlassNmsCuda::~MulticlassNmsCuda() = default;

NmsCandidateSink MulticlassNmsCuda::begin(cudaStream_t stream) {
  Buffers& b = *buffers_;
  CUDA_CHECK(cudaMemsetAsync(b.keys.data(), 0xFF, b.keys.bytes(), stream));
  CUDA_CHECK(cudaMemsetAsync(b.counter.data(), 0, sizeof(int), stream));
  NmsCandidateSink sink;
  sink.keys = b.keys.data();
  sink.counter = b.counter.data();
  sink.capacity = capacity_;
  sink.score_threshold = params_.score_threshold;
  sink.background =
      params_.background_label >= 0 && params_.background_label < num_classes_ ? params_.background_label : -1;
  return sink;
}

std::vector<Detection> MulticlassNmsCuda::run(const float* boxes, const float* scores, cudaStream_t stream,
                                              long long* overflow, cudaEvent_t done) {
  const NmsCandidateSink sink = begin(stream);
  collect_kernel<<<cuda::grid_for(static_cast<long long>(num_boxes_) * num_classes_, kNmsThreads), kNmsThreads, 0, stream>>>(
      scores, num_boxes_, num_classes_, sink);
  CUDA_CHECK_LAUNCH("collect_kernel");
  return finish(boxes, stream, overflow, done);
}

std::vector<Detection> MulticlassNmsCuda::finish(const float* boxes, cudaStream_t stream, long long* overflow,
                                                 cudaEvent_t done) {
  finish_async(boxes, stream, 0, done);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return result(0, overflow);
}

void MulticlassNmsCuda::finish_async(const float* boxes, cudaStream_t stream, int slot, cudaEvent_t done) {
  TX2_REQUIRE(slot >= 0 && slot < slots_, "multiclass_nms on the GPU: result slot ", slot, " of ", slots_);
  Buffers& b = *buffers_;
  const int C = num_classes_;
  const int top_k = std::max(params_.nms_top_k, 1);
  CUDA_CHECK(cudaMemsetAsync(b.list.data(), 0xFF, b.list.bytes(), stream));
  CUDA_CHECK(cudaMemsetAsync(b.seg_begin.data(), 0, b.seg_begin.bytes(), stream));
  CUDA_CHECK(cudaMemsetAsync(b.seg_end.data(), 0, b.seg_end.bytes(), stream));
  bitonic_sort(b.keys.data(), capacity_, stream);
  segments_kernel<<<cuda::grid_for(capacity_, kNmsThreads), kNmsThreads, 0, stream>>>(b.keys.data(), b.counter.data(), capacity_,
                                                                      b.seg_begin.data(), b.seg_end.data());
  CUDA_CHECK_LAUNCH("segments_kernel");
  if (params_.nms_top_k > 0) {
    mask_kernel<<<dim3(words_, words_, C), 64, 0, stream>>>(b.keys.data(), boxes, b.seg_begin.data(),
                                                            b.seg_end.data(), top_k, words_, params_.nms_threshold,
                                                            params_.normalized, b.mask.data());
    CUDA_CHECK_LAUNCH("mask_kernel");
  }
  greedy_kernel<<<C, 32, 0, stream>>>(b.mask.data(), b.seg_begin.data(), b.seg_end.data(),
                                      params_.nms_top_k > 0 ? top_k : 0, words_, b.kept_rank.data(),
                                      b.kept_count.data());
  CUDA_CHECK_LAUNCH("greedy_kernel");
  scan_kernel<<<1, 1024, 0, stream>>>(b.kept_count.data(), C, b.offsets.data(), b.total.data());
  CUDA_CHECK_LAUNCH("scan_kernel");
  gather_kernel<<<dim3(cuda::ceil_div(top_k, kNmsThreads), C), kNmsThreads, 0, stream>>>(
      b.keys.data(), b.seg_begin.data(), b.kept_rank.data(), b.kept_count.data(), b.offsets.data(), top_k,
      b.list.data());
  CUDA_CHECK_LAUNCH("gather_kernel");
  bitonic_sort(b.list.data(), capacity_, stream);  // score desc, class, rank
  regroup_kernel<<<cuda::grid_for(capacity_, kNmsThreads), kNmsThreads, 0, stream>>>(b.list.data(), capacity_, b.total.data(),
                                                                     params_.keep_top_k);
  CUDA_CHECK_LAUNCH("regroup_kernel");
  bitonic_sort(b.list.data(), capacity_, stream);  // class, rank
  output_kernel<<<cuda::ceil_div(max_rows_, kNmsThreads), kNmsThreads, 0, stream>>>(
      b.list.data(), b.keys.data(), boxes, b.seg_begin.data(), b.kept_rank.data(), b.total.data(),
      b.counter.data(), top_k, params_.keep_top_k, max_rows_, b.header.data(), b.rows.data());
  CUDA_CHECK_LAUNCH("output_kernel");
  if (done) CUDA_CHECK(cudaEventRecord(done, stream));
  CUDA_CHECK(cudaMemcpyAsync(b.host_header.data() + 2 * slot, b.header.data(), 2 * sizeof(int),
                             cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(b.host_rows.data() + static_cast<std::size_t>(max_rows_) * slot, b.rows.data(),
                             b.rows.bytes(), cudaMemcpyDeviceToHost, stream));
}

std::vector<Detection> MulticlassNmsCuda::result(int slot, long long* overflow) const {
  TX2_REQUIRE(slot >= 0 && slot < slots_, "multiclass_nms on the GPU: result slot ", slot, " of ", slots_);
  const Buffers& b = *buffers_;
  const int* header = b.host_header.data() + 2 * slot;
  const OutRow* rows = b.host_rows.data() + static_cast<std::size_t>(max_rows_) * slot;
  const int count = header[0];
  const long long seen = header[1];
  // The device writes count <= max_rows_; a value outside it means the
  // slot was never filled (or memory went bad), never a short read.
  TX2_REQUIRE(count >= 0 && count <= max_rows_, "multiclass_nms on the GPU: result slot ", slot, " holds ", count,
              " rows of at most ", max_rows_);
  if (overflow) *overflow = seen > capacity_ ? seen - capacity_ : 0;
  std::vector<Detection> out(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const OutRow& r = rows[static_cast<std::size_t>(i)];
    out[static_cast<std::size_t>(i)] = Detection{r.class_id, r.score, r.x1, r.y1, r.x2, r.y2, r.box_index};
  }
  return out;
}

}  // namespace tx2yolo
