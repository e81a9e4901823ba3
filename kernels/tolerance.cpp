#include "kernels/tolerance.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace tx2yolo {

Tolerance conv2d_tolerance(Conv2dCudaKernel kernel, bool fp16_storage) {
  if (kernel == Conv2dCudaKernel::kGemmHalf2) return tolerance::kConvHalf2;
  if (kernel == Conv2dCudaKernel::kCudnnFp16) return tolerance::kConvCudnnFp16;
  if (fp16_storage) return tolerance::kConvFp16Storage;
  return conv2d_cuda_kernel_is_fp16(kernel) ? tolerance::kConvFp16Operands : tolerance::kConvFp32;
}

std::string Comparison::describe() const {
  if (ok()) return cat(count, " elements within the bound (worst ", worst_ratio, "x of it)");
  return cat(bad, " of ", count, " elements differ; worst [", worst_index, "] ", worst_actual, " vs ", worst_expected,
             " (", worst_ratio, "x the bound)");
}

Comparison compare_elementwise(const float* actual, const float* expected, std::size_t n, const Tolerance& t,
                               const float* magnitude) {
  TX2_REQUIRE(t.sum_abs == 0.f || magnitude != nullptr,
              "compare_elementwise: the tolerance scales with sum |w x|, which was not given");
  Comparison c;
  c.count = n;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = actual[i], e = expected[i];
    const double diff = std::fabs(a - e);
    const double bound = t.atol + t.rtol * std::fabs(e) + (t.sum_abs > 0.f ? t.sum_abs * std::fabs(magnitude[i]) : 0.0);
    const double ratio = std::isfinite(a) ? (bound > 0 ? diff / bound : (diff > 0 ? INFINITY : 0.0)) : INFINITY;
    if (!(ratio <= 1.0)) ++c.bad;
    if (!(ratio <= c.worst_ratio)) {
      c.worst_ratio = ratio;
      c.worst_index = i;
      c.worst_actual = actual[i];
      c.worst_expected = expected[i];
    }
    if (std::isfinite(diff) && diff > c.max_abs) c.max_abs = diff;
  }
  return c;
}

std::vector<float> conv2d_abs_products(const Conv2dParams& p, const float* in, const float* w) {
  Conv2dParams q = p;
  q.activation = Activation::kNone;
  finalize_conv2d_params(q);
  const std::size_t in_n = static_cast<std::size_t>(q.batch) * q.in_channels * q.in_h * q.in_w;
  const std::size_t w_n = static_cast<std::size_t>(q.out_channels) * (q.in_channels / q.groups) * q.kernel_h * q.kernel_w;
  std::vector<float> abs_in(in, in + in_n), abs_w(w, w + w_n);
  for (float& v : abs_in) v = std::fabs(v);
  for (float& v : abs_w) v = std::fabs(v);
  const std::vector<float> zero_bias(static_cast<std::size_t>(q.out_channels), 0.f);
  std::vector<float> out(static_cast<std::size_t>(q.batch) * q.out_channels_total * q.out_h * q.out_w, 0.f);
  conv2d_cpu(q, abs_in.data(), abs_w.data(), zero_bias.data(), out.data());
  return out;
}

Agreement measure_agreement(const float* candidate, const float* reference, std::size_t n) {
  Agreement a;
  double diff2 = 0, ref2 = 0, max_diff = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(candidate[i])) {
      ++a.non_finite;
      continue;
    }
    const double d = static_cast<double>(candidate[i]) - reference[i];
    diff2 += d * d;
    ref2 += static_cast<double>(reference[i]) * reference[i];
    max_diff = std::max(max_diff, std::fabs(d));
  }
  const double rms = n > 0 ? std::sqrt(ref2 / static_cast<double>(n)) : 0.0;
  a.relative_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : (diff2 > 0 ? INFINITY : 0.0);
  a.max_over_rms = rms > 0 ? max_diff / rms : (max_diff > 0 ? INFINITY : 0.0);
  return a;
}

std::string Agreement::failure(const AgreementBound& bound) const {
  if (non_finite > 0) return cat(non_finite, " outputs NaN or inf (unwritten or overflowed)");
  if (!(relative_l2 <= bound.relative_l2))
    return cat("relative L2 ", relative_l2, " against the reference kernel (at most ", bound.relative_l2, ")");
  if (!(max_over_rms <= bound.max_over_rms))
    return cat("an output off by ", max_over_rms, " x the output's RMS (at most ", bound.max_over_rms, ")");
  return "";
}

}  // namespace tx2yolo
