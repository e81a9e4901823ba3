// Tolerances: how close a kernel's output must be to its reference, in one
// place for the GPU tests (tests/*/gpu_*.cpp), `tx2yolo selftest`
// (engine/selftest.h) and the tactic validator (engine/tactic_validation.h).
//
// Elementwise (the GPU tests and selftest, against the CPU reference fed the
// same operands the kernel sees):
//   |actual - expected| <= atol + rtol * |expected| + sum_abs * M
// where M = sum over the dot product of |w_k x_k| (conv2d_abs_products;
// used only where sum_abs > 0: kernels that sum in FP16, whose rounding
// error scales with the terms, not with the result, which cancellation can
// make small).
// Agreement (the tactic validator, one device kernel against another on the
// same input; both round, so the bound is on the whole tensor):
//   relative L2 = ||a - r|| / ||r|| <= relative_l2, and
//   max |a - r| / rms(r) <= max_over_rms; every element finite.
// Why each value: docs/testing.md ("Tolerances").
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/conv2d.h"

namespace tx2yolo {

struct Tolerance {
  float atol = 0.f;
  float rtol = 0.f;
  float sum_abs = 0.f;  // times sum |w_k x_k| of the output's dot product
};

namespace tolerance {
// FP32 conv kernels against conv2d_cpu: only the summation order differs.
constexpr Tolerance kConvFp32{2e-5f, 2e-4f};
// FP16-operand kernels (wmma-fp16) against conv2d_cpu fed the same
// FP16-rounded operands (products exact in FP32; FP32 accumulation).
constexpr Tolerance kConvFp16Operands{1e-4f, 1e-3f};
// FP32 arithmetic on FP16 activation storage: the output rounded once to
// FP16 (half an FP16 step, relative 2^-11) plus float rounding.
constexpr Tolerance kConvFp16Storage{1e-4f, 2e-3f};
// gemm64-half2: up to 16 products summed in FP16 (fused multiply-adds, each
// rounded once) before each promotion to FP32. A chain of n such roundings
// errs by at most n u sum |w_k x_k| (u = 2^-11, FP16's unit roundoff;
// Higham, "Accuracy and Stability of Numerical Algorithms", 3.1), so 16 u =
// 2^-7 of the terms' magnitude. Measured on an H200 (2026-12-04), the
// elementwise bound alone missed on 1 to 4 of millions of outputs where the
// terms cancelled to a small result (0.0013 against 0.0042, K = 27).
constexpr Tolerance kConvHalf2{2e-3f, 1e-2f, 1.f / 128.f};
// cudnn-fp16: FP16 operands with FP32 accumulation (as wmma-fp16), but the
// conv's sum is rounded to FP16 before the bias is added in FP32 and the
// result rounded again: the first rounding errs by at most u |sum| <= u sum
// |w_k x_k| (u = 2^-11), hence the sum_abs term of 2u.
constexpr Tolerance kConvCudnnFp16{1e-4f, 2e-3f, 1.f / 1024.f};
// The fused depthwise + pointwise kernel on FP16 storage (the intermediate
// rounded to FP16 as the unfused pair stores it).
constexpr Tolerance kDwPwFp16Storage{2e-3f, 2e-3f};
// yolo_box on the GPU against the CPU's Paddle arithmetic (boxes in pixels).
constexpr Tolerance kYoloBoxBoxes{1e-3f, 1e-5f};
constexpr Tolerance kYoloBoxScores{1e-7f, 1e-5f};
// GPU preprocessing against cv::resize: within one 8-bit level (as a level,
// before mean and std), on under 5% of the values.
constexpr float kPreprocessMaxLevels = 1.f;
constexpr double kPreprocessMaxFractionDiffering = 0.05;
}  // namespace tolerance

// The GPU tests' tolerance for a conv kernel on FP32 or FP16 activation storage.
Tolerance conv2d_tolerance(Conv2dCudaKernel kernel, bool fp16_storage);

// An elementwise comparison: how many elements miss the bound, and the worst
// ratio |a - e| / (atol + rtol |e|) (<= 1 passes; NaN or inf in `actual`
// counts as missing it).
struct Comparison {
  std::size_t count = 0;
  std::size_t bad = 0;
  double worst_ratio = 0;  // of the bound
  double max_abs = 0;
  std::size_t worst_index = 0;
  bool ok() const { return bad == 0; }
  // "3 of 1024 elements differ; worst [17] 0.51 vs 0.5 (2.3x the bound)".
  std::string describe() const;
  float worst_actual = 0, worst_expected = 0;
};
// `magnitude` (n values, sum |w_k x_k| per element) is read where t.sum_abs > 0
// and must then be given.
Comparison compare_elementwise(const float* actual, const float* expected, std::size_t n, const Tolerance& t,
                               const float* magnitude = nullptr);

// sum_k |w_k x_k| for every output of the conv `p` (the bias and the
// activation left out: conv2d_cpu on |in| and |w|, which are >= 0, so the
// activation is the identity): the magnitude a Tolerance's sum_abs scales.
// `p` at any batch; `in` and `w` as conv2d_cpu reads them.
std::vector<float> conv2d_abs_products(const Conv2dParams& p, const float* in, const float* w);

// Two kernels' outputs on the same input (the tactic validator).
struct AgreementBound {
  double relative_l2 = 0;
  double max_over_rms = 0;
};
namespace tolerance {
// FP32 storage, FP32 arithmetic: summation order only.
constexpr AgreementBound kAgreeFp32{1e-4, 1e-3};
// FP16 storage: each output rounded to FP16 (one FP16 step apart at most).
constexpr AgreementBound kAgreeFp16Storage{5e-3, 2e-2};
// FP16 operands (wmma-fp16, gemm64-half2) against FP32 operands.
constexpr AgreementBound kAgreeFp16Operands{3e-2, 1e-1};
}  // namespace tolerance
struct Agreement {
  double relative_l2 = 0;
  double max_over_rms = 0;
  std::size_t non_finite = 0;  // elements of the candidate that are NaN or inf
  // "" when within `bound`; otherwise why not, in one phrase.
  std::string failure(const AgreementBound& bound) const;
};
Agreement measure_agreement(const float* candidate, const float* reference, std::size_t n);

}  // namespace tx2yolo
