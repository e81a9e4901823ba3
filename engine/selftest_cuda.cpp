// The CUDA checks of `tx2yolo selftest` (engine/selftest.h): each kernel on
// the user's device against the CPU reference, and the graphs against the
// launches they replay.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <type_traits>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/half.h"
#include "engine/selftest.h"
#include "engine/verification.h"
#include "kernels/concat.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/device.h"
#include "kernels/multiclass_nms.h"
#include "kernels/preprocess.h"
#include "kernels/upsample_nearest.h"
#include "kernels/yolo_box.h"
#include "weights/architecture.h"
#include "weights/model_file.h"

namespace tx2yolo {

namespace {

std::vector<float> uniform(std::size_t n, std::uint32_t seed, float lo, float hi) {
  return selftest_uniform(n, seed, lo, hi);
}

float round_half(float x) { return to_float(to_half(x)); }

// Host floats to a device buffer of storage T (rounded to FP16 for half_t), and back.
template <typename T>
DeviceBuffer<T> upload(const std::vector<float>& host) {
  std::vector<T> v(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) v[i] = static_cast<T>(host[i]);
  DeviceBuffer<T> d(v.size());
  d.upload(v);
  return d;
}
template <>
DeviceBuffer<half_t> upload<half_t>(const std::vector<float>& host) {
  std::vector<half_t> v(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) v[i] = to_half(host[i]);
  DeviceBuffer<half_t> d(v.size());
  d.upload(v);
  return d;
}
std::vector<float> download(const DeviceBuffer<float>& d) {
  CUDA_CHECK(cudaDeviceSynchronize());
  return d.download();
}
std::vector<float> download(const DeviceBuffer<half_t>& d) {
  CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<half_t> h = d.download();
  std::vector<float> out(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) out[i] = to_float(h[i]);
  return out;
}
// A device buffer of n NaNs (unwritten outputs then fail).
template <typename T>
DeviceBuffer<T> poisoned(std::size_t n) {
  return upload<T>(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()));
}

template <typename T>
void run_conv(const Conv2dParams& p, Conv2dCudaKernel k, const std::vector<float>& in, const std::vector<float>& w,
              const std::vector<float>& b, std::vector<float>* out) {
  DeviceBuffer<T> d_in = upload<T>(in);
  DeviceBuffer<T> d_out = poisoned<T>(out->size());
  DeviceBuffer<float> d_w = upload<float>(w), d_b = upload<float>(b);
  DeviceBuffer<float> ws = poisoned<float>(std::max<std::size_t>(1, conv2d_cuda_workspace_floats(p, k)));
  conv2d_cuda(p, d_in.data(), d_w.data(), d_b.data(), d_out.data(), nullptr, k, ws.data());
  *out = download(d_out);
}

template <typename T>
std::vector<float> run_dwpw(const Conv2dDwPwParams& p, const std::vector<float>& in, const std::vector<float>& dw_w,
                            const std::vector<float>& dw_b, const std::vector<float>& pw_w,
                            const std::vector<float>& pw_b, std::size_t out_n) {
  DeviceBuffer<T> d_in = upload<T>(in);
  DeviceBuffer<T> d_out = poisoned<T>(out_n);
  DeviceBuffer<float> a = upload<float>(dw_w), b = upload<float>(dw_b), c = upload<float>(pw_w),
                      d = upload<float>(pw_b);
  conv2d_dwpw_cuda(p, d_in.data(), a.data(), b.data(), c.data(), d.data(), d_out.data(), nullptr);
  return download(d_out);
}

SelftestOutcome outcome(const std::string& group, const std::string& label, bool passed, double worst,
                        const std::string& detail) {
  SelftestOutcome o;
  o.group = group;
  o.label = label;
  o.passed = passed;
  o.worst = worst;
  o.detail = detail;
  return o;
}

SelftestOutcome compared(const std::string& group, const std::string& label, const std::vector<float>& got,
                         const std::vector<float>& expected, const Tolerance& t) {
  if (got.size() != expected.size())
    return outcome(group, label, false, INFINITY, cat(got.size(), " outputs, expected ", expected.size()));
  const Comparison c = compare_elementwise(got.data(), expected.data(), got.size(), t);
  return outcome(group, label, c.ok(), c.worst_ratio, c.ok() ? "" : c.describe());
}

// The fused depthwise + pointwise kernel at one pair's shape and batch,
// against conv2d_cpu of the two (the intermediate rounded to FP16 at FP16
// storage, as the unfused pair stores it), for images 0 and B-1; the others
// must be finite.
SelftestOutcome check_dwpw(Conv2dDwPwParams p, int batch, bool half, std::uint32_t seed, const std::string& label) {
  p.dw.batch = p.pw.batch = batch;
  if (batch == 1) {  // the pointwise output into a slice of a wider tensor, as for a concat
    p.pw.out_channel_offset = 3;
    p.pw.out_channels_total = p.pw.out_channels + 5;
  }
  finalize_conv2d_params(p.dw);
  finalize_conv2d_params(p.pw);
  std::vector<float> in = uniform(static_cast<std::size_t>(batch) * p.dw.in_channels * p.dw.in_h * p.dw.in_w, seed,
                                  -1.f, 1.f);
  if (half)
    for (float& x : in) x = round_half(x);
  const float lim_dw = std::sqrt(3.f / (p.dw.kernel_h * p.dw.kernel_w)), lim_pw = std::sqrt(3.f / p.pw.in_channels);
  const auto dw_w = uniform(static_cast<std::size_t>(p.dw.out_channels) * p.dw.kernel_h * p.dw.kernel_w, seed + 1,
                            -lim_dw, lim_dw);
  const auto pw_w = uniform(static_cast<std::size_t>(p.pw.out_channels) * p.pw.in_channels, seed + 2, -lim_pw, lim_pw);
  const auto dw_b = uniform(p.dw.out_channels, seed + 3, -1.f, 1.f), pw_b = uniform(p.pw.out_channels, seed + 4, -1.f, 1.f);
  const std::size_t plane = static_cast<std::size_t>(p.pw.out_h) * p.pw.out_w;
  const std::size_t out_image = plane * static_cast<std::size_t>(p.pw.out_channels_total);
  const std::vector<float> got = half ? run_dwpw<half_t>(p, in, dw_w, dw_b, pw_w, pw_b, out_image * batch)
                                      : run_dwpw<float>(p, in, dw_w, dw_b, pw_w, pw_b, out_image * batch);
  // Every image's own channels written, and none around them.
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < p.pw.out_channels_total; ++c) {
      const bool inside = c >= p.pw.out_channel_offset && c < p.pw.out_channel_offset + p.pw.out_channels;
      for (std::size_t i = 0; i < plane; ++i) {
        const float v = got[n * out_image + static_cast<std::size_t>(c) * plane + i];
        if (inside ? !std::isfinite(v) : !std::isnan(v))
          return outcome("conv dwpw-fused", label, false, INFINITY,
                         cat("image ", n, " channel ", c, inside ? " is NaN or inf" : " written outside the slice"));
      }
    }
  Conv2dDwPwParams one = p;
  one.dw.batch = one.pw.batch = 1;
  one.pw.out_channel_offset = 0;
  one.pw.out_channels_total = 0;
  finalize_conv2d_params(one.dw);
  finalize_conv2d_params(one.pw);
  const std::size_t in_image = static_cast<std::size_t>(p.dw.in_channels) * p.dw.in_h * p.dw.in_w;
  SelftestOutcome result = outcome("conv dwpw-fused", label, true, 0, "");
  for (int n : std::set<int>{0, batch - 1}) {
    std::vector<float> mid(static_cast<std::size_t>(one.dw.out_channels) * one.dw.out_h * one.dw.out_w);
    conv2d_cpu(one.dw, in.data() + n * in_image, dw_w.data(), dw_b.data(), mid.data());
    if (half)
      for (float& x : mid) x = round_half(x);
    std::vector<float> expected(plane * static_cast<std::size_t>(one.pw.out_channels));
    conv2d_cpu(one.pw, mid.data(), pw_w.data(), pw_b.data(), expected.data());
    const std::vector<float> image(got.begin() + static_cast<long long>(n * out_image + plane * p.pw.out_channel_offset),
                                   got.begin() + static_cast<long long>(n * out_image + plane * p.pw.out_channel_offset +
                                                                        expected.size()));
    const SelftestOutcome o = compared("conv dwpw-fused", label, image, expected,
                                       half ? tolerance::kDwPwFp16Storage : tolerance::kConvFp32);
    result.worst = std::max(result.worst, o.worst);
    if (!o.passed && result.passed) {
      result.passed = false;
      result.detail = cat("image ", n, ": ", o.detail);
    }
  }
  return result;
}

// Preprocessing of random, blurred images (photo-like neighbourhoods) to the
// input size, as resized levels: within one level of cv::resize on under 5%
// of the values.
std::vector<SelftestOutcome> check_preprocess(int dst_h, int dst_w, std::uint32_t seed) {
  std::vector<SelftestOutcome> out;
  cv::RNG rng(seed);
  const int sizes[][2] = {{375, 500}, {1080, 1920}, {7, 9}, {dst_h + 1, dst_w - 1}};
  for (const auto& s : sizes) {
    cv::Mat img(s[0], s[1], CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(img, img, cv::Size(3, 3), 0);
    PreprocessParams p;
    p.src_h = s[0];
    p.src_w = s[1];
    p.dst_h = dst_h;
    p.dst_w = dst_w;
    p.mean[0] = p.mean[1] = p.mean[2] = 0.0;
    p.std[0] = p.std[1] = p.std[2] = 1.0;
    p.scale = 1.0;
    std::vector<float> expected(static_cast<std::size_t>(3) * dst_h * dst_w);
    preprocess_cpu(p, img.ptr<std::uint8_t>(0), expected.data());
    DeviceBuffer<float> d = poisoned<float>(expected.size());
    PreprocessCuda gpu;
    gpu.run(p, img.ptr<std::uint8_t>(0), d.data(), nullptr);
    const std::vector<float> got = download(d);
    double max_abs = 0;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double e = std::fabs(static_cast<double>(got[i]) - expected[i]);
      max_abs = std::isfinite(e) ? std::max(max_abs, e) : INFINITY;
      differ += e > 0;
    }
    const double fraction = static_cast<double>(differ) / static_cast<double>(got.size());
    const bool ok = max_abs <= tolerance::kPreprocessMaxLevels && fraction < tolerance::kPreprocessMaxFractionDiffering;
    out.push_back(outcome("preprocess", cat(s[0], "x", s[1], " -> ", dst_h, "x", dst_w), ok,
                          std::max(max_abs / tolerance::kPreprocessMaxLevels,
                                   fraction / tolerance::kPreprocessMaxFractionDiffering),
                          ok ? "" : cat("levels differ by up to ", max_abs, " on ", 100 * fraction, "% of values")));
  }
  return out;
}

// T: the activation storage (half_t: inputs rounded to FP16, and the output
// must be exactly the reference's on them, rounded).
template <typename T>
SelftestOutcome check_upsample(std::uint32_t seed) {
  UpsampleNearestParams p;
  p.batch = 2;
  p.channels = 37;
  p.in_h = 19;
  p.in_w = 13;
  p.out_channel_offset = 5;
  p.out_channels_total = 50;
  finalize_upsample_nearest_params(p);
  const bool half = std::is_same<T, half_t>::value;
  auto in = uniform(static_cast<std::size_t>(p.batch) * p.channels * p.in_h * p.in_w, seed, -4.f, 4.f);
  if (half)
    for (float& x : in) x = round_half(x);
  const std::size_t out_n = static_cast<std::size_t>(p.batch) * p.out_channels_total * p.in_h * 2 * p.in_w * 2;
  std::vector<float> expected(out_n, std::numeric_limits<float>::quiet_NaN());
  upsample_nearest_cpu(p, in.data(), expected.data());
  DeviceBuffer<T> d_in = upload<T>(in), d_out = poisoned<T>(out_n);
  upsample_nearest_cuda(p, d_in.data(), d_out.data(), nullptr);
  const std::vector<float> got = download(d_out);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < out_n; ++i)
    differ += !(got[i] == expected[i] || (std::isnan(got[i]) && std::isnan(expected[i])));
  return outcome(half ? "upsample fp16" : "upsample", "37 channels 19x13 x2 into a slice, batch 2", differ == 0, differ == 0 ? 0 : INFINITY,
                 differ == 0 ? "" : cat(differ, " of ", out_n, " values differ (expected identical)"));
}

template <typename T>
SelftestOutcome check_concat(std::uint32_t seed) {
  ConcatParams p;
  p.batch = 2;
  p.height = 11;
  p.width = 7;
  p.num_inputs = 3;
  p.channels[0] = 5;
  p.channels[1] = 16;
  p.channels[2] = 3;
  const int total = concat_output_channels(p);
  const bool half = std::is_same<T, half_t>::value;
  std::vector<std::vector<float>> host;
  std::vector<DeviceBuffer<T>> dev;
  std::vector<const float*> host_ptr;
  std::vector<const T*> dev_ptr;
  for (int i = 0; i < p.num_inputs; ++i) {
    host.push_back(uniform(static_cast<std::size_t>(p.batch) * p.channels[i] * p.height * p.width, seed + i, -2.f, 2.f));
    if (half)
      for (float& x : host.back()) x = round_half(x);
    dev.push_back(upload<T>(host.back()));
  }
  for (int i = 0; i < p.num_inputs; ++i) {
    host_ptr.push_back(host[i].data());
    dev_ptr.push_back(dev[i].data());
  }
  const std::size_t out_n = static_cast<std::size_t>(p.batch) * total * p.height * p.width;
  std::vector<float> expected(out_n);
  concat_cpu(p, host_ptr.data(), expected.data());
  DeviceBuffer<T> d_out = poisoned<T>(out_n);
  concat_cuda(p, dev_ptr.data(), d_out.data(), nullptr);
  const std::vector<float> got = download(d_out);
  const bool same = got == expected;
  return outcome(half ? "concat fp16" : "concat", "5 + 16 + 3 channels 11x7, batch 2", same, same ? 0 : INFINITY,
                 same ? "" : "differs (expected identical)");
}

// The three-level decode of one image against yolo_box_cpu; T: the head
// tensors' storage (half_t: the reference is fed the same rounded heads).
template <typename T>
std::vector<SelftestOutcome> check_yolo_box(std::uint32_t seed) {
  YoloBoxProblem pr = yolo_box_selftest_problem(seed);
  const bool half = std::is_same<T, half_t>::value;
  if (half)
    for (std::vector<float>& h : pr.heads)
      for (float& x : h) x = round_half(x);
  std::vector<DeviceBuffer<T>> dev_in;
  std::vector<const T*> inputs;
  for (const std::vector<float>& h : pr.heads) dev_in.push_back(upload<T>(h));
  for (const DeviceBuffer<T>& d : dev_in) inputs.push_back(d.data());
  std::vector<float> boxes(static_cast<std::size_t>(pr.total_boxes) * 4),
      scores(static_cast<std::size_t>(pr.total_boxes) * pr.classes);
  for (std::size_t i = 0; i < pr.levels.size(); ++i)
    yolo_box_cpu(pr.levels[i], pr.heads[i].data(),
                 boxes.data() + static_cast<std::size_t>(pr.levels[i].score_offset) * 4, scores.data());
  DeviceBuffer<float> d_boxes = poisoned<float>(boxes.size()), d_scores = poisoned<float>(scores.size());
  yolo_box_cuda(pr.levels.data(), inputs.data(), static_cast<int>(pr.levels.size()), d_boxes.data(), d_scores.data(),
                nullptr);
  const std::string group = half ? "yolo_box fp16 heads" : "yolo_box";
  return {compared(group, "3 levels, 20 classes: boxes", download(d_boxes), boxes, tolerance::kYoloBoxBoxes),
          compared(group, "3 levels, 20 classes: scores", download(d_scores), scores, tolerance::kYoloBoxScores)};
}

bool same_detections(const std::vector<Detection>& a, const std::vector<Detection>& b, std::string* why) {
  if (a.size() != b.size()) {
    *why = cat(a.size(), " detections against ", b.size());
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].class_id != b[i].class_id || a[i].box_index != b[i].box_index || a[i].score != b[i].score ||
        a[i].x1 != b[i].x1 || a[i].y1 != b[i].y1 || a[i].x2 != b[i].x2 || a[i].y2 != b[i].y2) {
      *why = cat("row ", i, " differs");
      return false;
    }
  return true;
}

// GPU NMS on crowded boxes with tied scores: the CPU's rows exactly.
SelftestOutcome check_nms(std::uint32_t seed) {
  const int M = 3000, C = 20;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pos(0.f, 300.f), size(2.f, 80.f), unit(0.f, 1.f);
  std::vector<float> boxes, scores;
  for (int m = 0; m < M; ++m) {
    const float x = pos(rng), y = pos(rng), w = size(rng), h = size(rng);
    boxes.insert(boxes.end(), {x, y, x + w, y + h});
  }
  for (int i = 0; i < M * C; ++i) scores.push_back(unit(rng) < 0.9f ? 0.f : std::floor(unit(rng) * 64.f) / 64.f);
  MulticlassNmsParams params;  // Paddle's: 0.01, top 1000, keep 100, IoU 0.45
  const std::vector<Detection> cpu = multiclass_nms_cpu(params, boxes.data(), scores.data(), M, C);
  DeviceBuffer<float> d_boxes = upload<float>(boxes), d_scores = upload<float>(scores);
  MulticlassNmsCuda nms(params, M, C);
  long long overflow = 0;
  const std::vector<Detection> gpu = nms.run(d_boxes.data(), d_scores.data(), nullptr, &overflow);
  std::string why;
  const bool same = overflow == 0 && same_detections(gpu, cpu, &why);
  return outcome("gpu nms", "3000 boxes, 20 classes, tied scores", same, same ? 0 : INFINITY,
                 overflow ? cat(overflow, " candidates overflowed") : why);
}

// FP16 preprocessing output: exactly the float output, rounded.
SelftestOutcome check_preprocess_half(int dst_h, int dst_w, std::uint32_t seed) {
  cv::Mat img(375, 500, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(img, cv::RNG::UNIFORM, 0, 256);
  PreprocessParams p;
  p.src_h = img.rows;
  p.src_w = img.cols;
  p.dst_h = dst_h;
  p.dst_w = dst_w;
  const std::size_t n = static_cast<std::size_t>(3) * dst_h * dst_w;
  DeviceBuffer<float> out32 = poisoned<float>(n);
  DeviceBuffer<half_t> out16 = poisoned<half_t>(n);
  PreprocessCuda gpu;
  gpu.run(p, img.ptr<std::uint8_t>(0), out32.data(), nullptr);
  gpu.run(p, img.ptr<std::uint8_t>(0), out16.data(), nullptr);
  const std::vector<float> f32 = download(out32), f16 = download(out16);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < n; ++i) differ += !(f16[i] == round_half(f32[i]));
  return outcome("preprocess fp16", cat("375x500 -> ", dst_h, "x", dst_w), differ == 0, differ == 0 ? 0 : INFINITY,
                 differ == 0 ? "" : cat(differ, " values are not the float output rounded to FP16"));
}

// A random photo-like image for the graph checks.
cv::Mat scene(int h, int w, std::uint32_t seed) {
  cv::Mat img(h, w, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(img, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(img, img, cv::Size(9, 9), 0);
  return img;
}

// The network replayed as a graph against the same launches made directly,
// and the whole frame as one graph against the stages one by one: the same
// kernels in the same order, so identical results.
std::vector<SelftestOutcome> check_graphs(const std::string& model, const SelftestOptions& o, int batch) {
  std::vector<SelftestOutcome> out;
  DetectorOptions base;
  base.input_h = o.input_h;
  base.input_w = o.input_w;
  base.backend = BackendKind::kCuda;
  base.device = o.device;
  base.precision = o.precision;
  base.tactics = TacticMode::kHeuristic;
  base.unverified = true;  // selftest checks the unverified features too
  base.batch = batch;
  // Random weights give far more NMS candidates than a trained model (on an
  // H200 the default capacity overflowed at 608, and the candidates kept
  // past it depend on the order of atomic appends, so two runs differed):
  // room for all, and an overflow is a failure below, not a difference.
  base.nms_capacity = 1 << 20;
  DetectorOptions direct = base;
  direct.cuda_graph = false;
  Detector with_graph(model, base), without(model, direct);
  const std::string label = cat("batch ", batch);
  // Network graph: detect_preprocessed runs the network alone (batch 1).
  if (batch == 1) {
    const std::vector<float> input =
        uniform(static_cast<std::size_t>(3) * with_graph.input_h() * with_graph.input_w(), o.seed, -2.f, 2.f);
    bool same = true;
    std::string why;
    for (int run = 0; run < 2 && same; ++run) {  // run 0 captures, run 1 replays
      const Detector::Trace a = with_graph.detect_preprocessed(input.data(), 480, 640);
      const Detector::Trace b = without.detect_preprocessed(input.data(), 480, 640);
      same = a.boxes == b.boxes && a.scores == b.scores && same_detections(a.detections, b.detections, &why);
      if (!same && why.empty()) why = cat("run ", run, ": decoded boxes or scores differ");
    }
    // A capture that failed would compare direct launches with themselves.
    const bool replayed = with_graph.backend_description().find("network replayed as a CUDA graph") != std::string::npos;
    if (same && !replayed) why = "the network graph was not replayed: " + with_graph.backend_description();
    out.push_back(outcome("network graph vs direct launches", label, same && replayed, same && replayed ? 0 : INFINITY,
                          why));
  }
  // Whole-frame graph: three frames (new sizes run directly, the second
  // frame captures, the third replays), new pixels each frame.
  bool same = true;
  std::string why;
  for (int frame = 0; frame < 3 && same; ++frame) {
    std::vector<cv::Mat> images;
    for (int i = 0; i < batch; ++i) images.push_back(scene(360 + 16 * i, 480, o.seed + 31u * frame + i));
    const auto a = with_graph.detect_batch(images);
    const long long overflow_a = with_graph.last_timings().nms_overflow;
    const auto b = without.detect_batch(images);
    const long long overflow = overflow_a + without.last_timings().nms_overflow;
    if (overflow > 0) {
      same = false;
      why = cat("frame ", frame, ": ", overflow, " NMS candidates past the capacity ", base.nms_capacity,
                " (the comparison needs all of them)");
    }
    for (std::size_t i = 0; i < images.size() && same; ++i) {
      same = same_detections(a[i], b[i], &why);
      if (!same) why = cat("frame ", frame, " image ", i, ": ", why);
    }
  }
  const bool replayed = with_graph.backend_description().find("whole frame replayed") != std::string::npos;
  if (same && !replayed) why = "the frame graph was not replayed: " + with_graph.backend_description();
  out.push_back(outcome("frame graph vs stage by stage", label, same && replayed, same && replayed ? 0 : INFINITY, why));
  return out;
}

}  // namespace

std::vector<SelftestCheck> cuda_selftest_checks(const SelftestOptions& o, std::vector<std::string>* notes) {
  TX2_REQUIRE(o.device >= 0 && o.device < cuda_device_count(), "selftest: no CUDA device ", o.device);
  CUDA_CHECK(cudaSetDevice(o.device));
  const bool half = o.precision == Precision::kFp16;
  // Every conv tactic this device offers on this storage (FP16-operand
  // kernels at FP16 precision only, as the engine uses them).
  std::vector<ConvKernelUnderTest> kernels;
  for (Conv2dCudaKernel k : kConv2dCudaTactics) {
    const std::string name = conv2d_cuda_kernel_name(k);
    if (half ? conv2d_cuda_kernel_needs_fp32_storage(k) : conv2d_cuda_kernel_needs_fp16_storage(k)) continue;
    if (!half && conv2d_cuda_kernel_is_fp16(k)) continue;
    const std::string available = feature_availability(name, o.device);
    if (available.rfind("no", 0) == 0) {
      notes->push_back(cat(name, " not checked: ", available));
      continue;
    }
    ConvKernelUnderTest t;
    t.name = name;
    t.fp16_storage = half;
    t.fp16_operands = conv2d_cuda_kernel_is_fp16(k);
    t.tolerance = conv2d_tolerance(k, half);
    t.supports = [k](const Conv2dParams& p) { return conv2d_cuda_supports(p, k); };
    t.may_refuse = conv2d_cuda_kernel_is_cudnn(k);
    t.run = [k, half](const Conv2dParams& p, const std::vector<float>& in, const std::vector<float>& w,
                      const std::vector<float>& b, std::vector<float>* out) {
      if (half) {
        run_conv<half_t>(p, k, in, w, b, out);
      } else {
        run_conv<float>(p, k, in, w, b, out);
      }
    };
    kernels.push_back(t);
  }
  std::vector<SelftestCheck> checks =
      conv_selftest_checks(selftest_conv_shapes(o.model, o.input_h, o.input_w), kernels, o.max_batch, o.seed);
  // The fused depthwise + pointwise kernel at each pair's shape.
  const auto pairs = selftest_dwpw_pairs(o.model, o.input_h, o.input_w);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    for (int batch : std::set<int>{1, o.max_batch}) {
      SelftestCheck c;
      c.label = cat(pairs[i].first, " fused b", batch);
      const double image_macs = static_cast<double>(conv2d_macs(pairs[i].second.dw) + conv2d_macs(pairs[i].second.pw));
      c.cpu_macs = image_macs * (batch == 1 ? 1 : 2);
      c.gpu_macs = image_macs * batch;
      const Conv2dDwPwParams p = pairs[i].second;
      const std::uint32_t seed = o.seed + 500000u + 100u * static_cast<std::uint32_t>(i);
      const std::string label = c.label;
      c.run = [p, batch, half, seed, label] { return std::vector<SelftestOutcome>{check_dwpw(p, batch, half, seed, label)}; };
      checks.push_back(c);
    }
  }
  // The other ops, at their own small shapes.
  const int input_h = o.input_h > 0 ? o.input_h : 608, input_w = o.input_w > 0 ? o.input_w : 608;
  SelftestCheck ops;
  ops.label = "preprocess, upsample, concat, yolo_box, GPU NMS";
  ops.cpu_macs = 4e7;
  ops.run = [o, input_h, input_w, half] {
    std::vector<SelftestOutcome> out = check_preprocess(input_h, input_w, o.seed);
    out.push_back(check_upsample<float>(o.seed + 1));
    out.push_back(check_concat<float>(o.seed + 2));
    for (const SelftestOutcome& y : check_yolo_box<float>(o.seed + 3)) out.push_back(y);
    if (half) {  // the FP16 storage overloads the engine uses at --precision fp16
      out.push_back(check_preprocess_half(input_h, input_w, o.seed + 5));
      out.push_back(check_upsample<half_t>(o.seed + 6));
      out.push_back(check_concat<half_t>(o.seed + 7));
      for (const SelftestOutcome& y : check_yolo_box<half_t>(o.seed + 8)) out.push_back(y);
    }
    out.push_back(check_nms(o.seed + 4));
    return out;
  };
  checks.push_back(ops);
  // The graphs, on the model (or a full-width separable model with random weights).
  SelftestCheck graphs;
  graphs.label = "network graph and whole-frame graph";
  graphs.gpu_macs = 4e10 * (2 + o.max_batch);
  graphs.run = [o] {
    std::string model = o.model;
    std::unique_ptr<TempDirectory> temp;  // removed with its files, whatever happens
    if (model.empty()) {
      temp = std::make_unique<TempDirectory>();
      model = temp->file("separable.safetensors");
      const ArchitectureGraph arch = build_yolov3_mobilenet_v1(full_width_spec("separable"));
      write_model_file(model, arch.graph, arch.config, {{"source", "tx2yolo selftest (random weights)"}},
                       make_random_weights(arch, o.seed));
    }
    std::vector<SelftestOutcome> out;
    for (int batch : std::set<int>{1, o.max_batch})
      for (const SelftestOutcome& g : check_graphs(model, o, batch)) out.push_back(g);
    return out;
  };
  checks.push_back(graphs);
  return checks;
}

}  // namespace tx2yolo
