#include "engine/selftest.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/half.h"
#include "kernels/device.h"
#include "layers/conv_layer.h"
#include "weights/architecture.h"
#include "weights/model_file.h"

namespace tx2yolo {

namespace {

// The roofline constants of the TX2 estimate (see the header).
constexpr double kTx2GpuMacsPerSecond = 0.3 * 665.9e9 / 2;
constexpr double kTx2CpuMacsPerSecond = 2e9;

float round_half(float x) { return to_float(to_half(x)); }
std::vector<float> rounded(std::vector<float> v) {
  for (float& x : v) x = round_half(x);
  return v;
}

std::vector<float> uniform(std::size_t n, std::uint32_t seed, float lo, float hi) {
  return selftest_uniform(n, seed, lo, hi);
}

// Weights scaled by 1/sqrt(fan-in), so outputs stay O(1) at any depth.
std::vector<float> conv_weights(const Conv2dParams& p, std::uint32_t seed) {
  const int fan_in = p.in_channels / p.groups * p.kernel_h * p.kernel_w;
  const float limit = std::sqrt(3.f / static_cast<float>(fan_in));
  return uniform(static_cast<std::size_t>(p.out_channels) * fan_in, seed, -limit, limit);
}

// The model's graph and weight shapes, or each full-width architecture's.
struct Source {
  std::string name;
  Graph graph;
  WeightShapes weights;
  int input_h = 0, input_w = 0;
};
std::vector<Source> sources(const std::string& model_path, int input_h, int input_w) {
  std::vector<Source> out;
  if (!model_path.empty()) {
    const ModelFile model = ModelFile::load(model_path);
    out.push_back({path_basename(model_path), model.graph(), model.weight_shapes(),
                   input_h > 0 ? input_h : model.config().input_h, input_w > 0 ? input_w : model.config().input_w});
    return out;
  }
  for (const char* arch : kFullWidthArchitectures) {
    const ArchitectureGraph g = build_yolov3_mobilenet_v1(full_width_spec(arch));
    WeightShapes w;
    for (const auto& t : g.weights) w[t.first] = t.second;
    out.push_back({arch, g.graph, w, input_h > 0 ? input_h : g.config.input_h,
                   input_w > 0 ? input_w : g.config.input_w});
  }
  return out;
}

// Every conv node's params at batch 1, in graph order, with its node.
std::vector<std::pair<const Node*, Conv2dParams>> conv_params(const Source& s,
                                                              std::map<std::string, TensorShape>* shapes) {
  validate_input_size(s.input_h, s.input_w, "selftest input size");
  *shapes = infer_shapes(s.graph, s.weights, s.input_h, s.input_w);
  std::vector<std::pair<const Node*, Conv2dParams>> out;
  for (const Node& n : s.graph.nodes) {
    if (n.op != OpKind::kConv2d) continue;
    Conv2dParams p = conv2d_params_for(n, shapes->at(n.inputs[0]), conv_out_channels(n, s.weights), 1);
    finalize_conv2d_params(p);
    out.push_back({&n, p});
  }
  return out;
}

using ShapeKey = std::tuple<int, int, int, int, int, int, int, int, int, int, int, int>;
ShapeKey key_of(const Conv2dParams& p) {
  return std::make_tuple(p.in_channels, p.in_h, p.in_w, p.out_channels, p.kernel_h, p.kernel_w, p.stride_h,
                         p.stride_w, p.pad_h, p.pad_w, p.groups, static_cast<int>(p.activation));
}

// Compares images `images` of `got` with `expected` (one reference per
// image) on the conv's own channels; the other images must be finite and
// channels outside the slice untouched (NaN).
SelftestOutcome compare_conv_output(const Conv2dParams& p, const std::vector<float>& got,
                                    const std::vector<int>& images, const std::vector<std::vector<float>>& expected,
                                    const Tolerance& tol, const std::vector<std::vector<float>>* magnitudes) {
  SelftestOutcome o;
  o.passed = true;
  const std::size_t plane = static_cast<std::size_t>(p.out_h) * p.out_w;
  const std::size_t image_size = plane * static_cast<std::size_t>(p.out_channels_total);
  for (int n = 0; n < p.batch; ++n) {
    const float* g = got.data() + static_cast<std::size_t>(n) * image_size;
    for (int c = 0; c < p.out_channels_total; ++c) {
      const bool inside = c >= p.out_channel_offset && c < p.out_channel_offset + p.out_channels;
      for (std::size_t i = 0; i < plane; ++i) {
        const float v = g[static_cast<std::size_t>(c) * plane + i];
        if (inside ? !std::isfinite(v) : !std::isnan(v)) {
          o.passed = false;
          o.worst = std::numeric_limits<double>::infinity();
          o.detail = inside ? cat("image ", n, " channel ", c, " is NaN or inf (unwritten?)")
                            : cat("image ", n, " wrote channel ", c, " outside its slice");
          return o;
        }
      }
    }
  }
  for (std::size_t k = 0; k < images.size(); ++k) {
    const float* g = got.data() + static_cast<std::size_t>(images[k]) * image_size +
                     plane * static_cast<std::size_t>(p.out_channel_offset);
    const Comparison c =
        compare_elementwise(g, expected[k].data(), expected[k].size(), tol, magnitudes ? (*magnitudes)[k].data() : nullptr);
    o.worst = std::max(o.worst, c.worst_ratio);
    if (!c.ok() && o.passed) {
      o.passed = false;
      o.detail = cat("image ", images[k], ": ", c.describe());
    }
  }
  return o;
}

}  // namespace

std::vector<float> selftest_uniform(std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

YoloBoxProblem yolo_box_selftest_problem(std::uint32_t seed) {
  YoloBoxProblem pr;
  const int A = 3;
  pr.classes = 20;
  const int grids[3] = {10, 20, 40};
  const int downs[3] = {32, 16, 8};
  const float anchors[3][6] = {{116, 90, 156, 198, 373, 326}, {30, 61, 62, 45, 59, 119}, {10, 13, 16, 30, 33, 23}};
  for (int g : grids) pr.total_boxes += A * g * g;
  int offset = 0;
  for (int i = 0; i < 3; ++i) {
    YoloBoxParams p;
    p.grid_h = p.grid_w = grids[i];
    p.num_anchors = A;
    p.num_classes = pr.classes;
    for (int k = 0; k < 6; ++k) p.anchors[k] = anchors[i][k];
    p.downsample = downs[i];
    p.conf_thresh = 0.005f;
    p.img_h = paddle_image_extent(320, 375);
    p.img_w = paddle_image_extent(320, 500);
    p.score_stride = pr.total_boxes;
    p.score_offset = offset;
    offset += A * grids[i] * grids[i];
    pr.levels.push_back(p);
    pr.heads.push_back(selftest_uniform(static_cast<std::size_t>(A) * (5 + pr.classes) * grids[i] * grids[i],
                                        seed + static_cast<std::uint32_t>(i), -6.f, 3.f));
  }
  return pr;
}

std::string SelftestReport::table() const {
  std::string s;
  char line[512];
  std::snprintf(line, sizeof(line), "%-34s %8s %8s %14s  %s\n", "check", "passed", "failed", "worst/bound",
                "first failure");
  s += line;
  for (const SelftestRow& r : rows) {
    std::snprintf(line, sizeof(line), "%-34s %8d %8d %14.3g  %s\n", r.group.c_str(), r.passed, r.failed, r.worst,
                  r.first_failure.c_str());
    s += line;
  }
  return s;
}

std::string SelftestReport::json() const {
  nlohmann::json j;
  j["format"] = "tx2yolo-selftest";
  j["version"] = 1;
  j["device"] = device;
  j["settings"] = settings;
  j["passed"] = ok();
  j["seconds"] = seconds;
  j["tx2_estimate_seconds"] = tx2_estimate_seconds;
  j["notes"] = notes;
  j["rows"] = nlohmann::json::array();
  for (const SelftestRow& r : rows)
    j["rows"].push_back({{"check", r.group},
                         {"passed", r.passed},
                         {"failed", r.failed},
                         {"worst_over_bound", std::isfinite(r.worst) ? nlohmann::json(r.worst) : nlohmann::json("inf")},
                         {"first_failure", r.first_failure}});
  j["failures"] = nlohmann::json::array();
  for (const SelftestOutcome& f : failures)
    j["failures"].push_back({{"check", f.group}, {"case", f.label}, {"detail", f.detail}});
  return j.dump(2) + "\n";
}

double selftest_tx2_estimate_seconds(const std::vector<SelftestCheck>& checks) {
  double s = 0;
  for (const SelftestCheck& c : checks) s += c.cpu_macs / kTx2CpuMacsPerSecond + c.gpu_macs / kTx2GpuMacsPerSecond;
  return s;
}

SelftestReport run_selftest_checks(const std::vector<SelftestCheck>& checks, const SelftestProgress& progress) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  SelftestReport report;
  report.tx2_estimate_seconds = selftest_tx2_estimate_seconds(checks);
  if (progress.start) progress.start(static_cast<int>(checks.size()), report.tx2_estimate_seconds);
  std::map<std::string, std::size_t> row_of;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    if (progress.step) progress.step(static_cast<int>(i), static_cast<int>(checks.size()), checks[i].label, elapsed);
    std::vector<SelftestOutcome> outcomes;
    try {
      outcomes = checks[i].run();
    } catch (const std::exception& e) {  // tx2yolo::Error, and bad_alloc or cv::Exception too
      SelftestOutcome o;
      o.group = "error";
      o.label = checks[i].label;
      o.detail = e.what();
      o.worst = std::numeric_limits<double>::infinity();
      outcomes.push_back(o);
    }
    for (SelftestOutcome& o : outcomes) {
      if (o.label.empty()) o.label = checks[i].label;
      auto it = row_of.find(o.group);
      if (it == row_of.end()) {
        it = row_of.emplace(o.group, report.rows.size()).first;
        SelftestRow row;
        row.group = o.group;
        report.rows.push_back(row);
      }
      SelftestRow& r = report.rows[it->second];
      r.worst = std::max(r.worst, o.worst);
      if (o.passed) {
        ++r.passed;
      } else {
        ++r.failed;
        if (r.first_failure.empty()) r.first_failure = cat(o.label, ": ", o.detail);
        report.failures.push_back(o);
      }
    }
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return report;
}

std::vector<SelftestConvShape> selftest_conv_shapes(const std::string& model_path, int input_h, int input_w) {
  std::vector<SelftestConvShape> out;
  std::set<ShapeKey> seen;
  for (const Source& s : sources(model_path, input_h, input_w)) {
    std::map<std::string, TensorShape> shapes;
    for (const auto& c : conv_params(s, &shapes))
      if (seen.insert(key_of(c.second)).second)
        out.push_back({cat(c.first->name, "@", s.input_h, "x", s.input_w), c.second});
  }
  return out;
}

std::vector<std::pair<std::string, Conv2dDwPwParams>> selftest_dwpw_pairs(const std::string& model_path, int input_h,
                                                                          int input_w) {
  std::vector<std::pair<std::string, Conv2dDwPwParams>> out;
  std::set<std::pair<ShapeKey, ShapeKey>> seen;
  for (const Source& s : sources(model_path, input_h, input_w)) {
    std::map<std::string, TensorShape> shapes;
    const auto convs = conv_params(s, &shapes);
    for (std::size_t i = 0; i + 1 < convs.size(); ++i) {
      const Conv2dParams& dw = convs[i].second;
      const Conv2dParams& pw = convs[i + 1].second;
      if (convs[i + 1].first->inputs[0] != convs[i].first->output || !conv2d_dwpw_fusable(dw, pw)) continue;
      if (seen.insert({key_of(dw), key_of(pw)}).second)
        out.push_back({cat(convs[i + 1].first->name, "@", s.input_h, "x", s.input_w), Conv2dDwPwParams{dw, pw}});
    }
  }
  return out;
}

std::vector<SelftestCheck> conv_selftest_checks(const std::vector<SelftestConvShape>& shapes,
                                                const std::vector<ConvKernelUnderTest>& kernels, int max_batch,
                                                std::uint32_t seed) {
  TX2_REQUIRE(max_batch >= 1, "selftest: the largest batch ", max_batch, " is not positive");
  std::vector<SelftestCheck> checks;
  for (std::size_t si = 0; si < shapes.size(); ++si) {
    std::set<int> batches = {1, max_batch};
    for (int batch : batches) {
      const SelftestConvShape shape = shapes[si];
      Conv2dParams p = shape.p;
      p.batch = batch;
      if (batch == 1 && p.out_channel_offset == 0 && p.out_channels_total == p.out_channels) {
        // Written into a slice of a wider tensor, as a concat's producer is:
        // the channels around it must stay untouched.
        p.out_channel_offset = 3;
        p.out_channels_total = p.out_channels + 5;
      }
      finalize_conv2d_params(p);
      bool any_operands = false, any_storage = false, any_fp32 = false;
      int supported = 0;
      for (const ConvKernelUnderTest& k : kernels) {
        if (!k.supports(p)) continue;
        ++supported;
        any_operands |= k.fp16_operands;
        any_storage |= k.fp16_storage && !k.fp16_operands;
        any_fp32 |= !k.fp16_storage && !k.fp16_operands;
      }
      if (supported == 0) continue;
      const std::vector<int> images = batch == 1 ? std::vector<int>{0} : std::vector<int>{0, batch - 1};
      const double image_macs = static_cast<double>(conv2d_macs(shape.p));
      SelftestCheck c;
      c.label = cat(shape.name, " b", batch);
      c.cpu_macs = image_macs * static_cast<double>(images.size()) * (any_operands + any_storage + any_fp32);
      c.gpu_macs = image_macs * batch * supported;
      const std::uint32_t shape_seed = seed + 1000u * static_cast<std::uint32_t>(si);
      c.run = [p, shape, images, kernels, shape_seed] {
        // Image n's input is the same at every batch (seeded per image).
        const std::size_t in_image = static_cast<std::size_t>(p.in_channels) * p.in_h * p.in_w;
        std::vector<float> in;
        for (int n = 0; n < p.batch; ++n) {
          const std::vector<float> image = uniform(in_image, shape_seed + 17u * static_cast<std::uint32_t>(n), -1.f, 1.f);
          in.insert(in.end(), image.begin(), image.end());
        }
        const std::vector<float> w = conv_weights(p, shape_seed + 1), b = uniform(p.out_channels, shape_seed + 2, -1.f, 1.f);
        // The CPU reference per variant (0: FP32, 1: FP16 input, 2: FP16 input and weights), per checked image.
        // variant + 10: sum |w x| of that variant's operands, for the
        // tolerances that scale with it (Tolerance::sum_abs).
        std::map<int, std::vector<std::vector<float>>> refs;
        auto reference = [&](int variant) -> const std::vector<std::vector<float>>& {
          auto it = refs.find(variant);
          if (it != refs.end()) return it->second;
          const bool magnitude = variant >= 10;
          if (magnitude) variant -= 10;
          Conv2dParams one = p;
          one.batch = 1;
          one.out_channel_offset = 0;
          one.out_channels_total = 0;
          finalize_conv2d_params(one);
          const std::vector<float> wv = variant == 2 ? rounded(w) : w;
          std::vector<std::vector<float>> out;
          for (int n : images) {
            std::vector<float> image(in.begin() + static_cast<long long>(n) * in_image,
                                     in.begin() + static_cast<long long>(n + 1) * in_image);
            if (variant >= 1) image = rounded(image);
            if (magnitude) {
              out.push_back(conv2d_abs_products(one, image.data(), wv.data()));
              continue;
            }
            std::vector<float> o(static_cast<std::size_t>(one.out_channels) * one.out_h * one.out_w);
            conv2d_cpu(one, image.data(), wv.data(), b.data(), o.data());
            out.push_back(o);
          }
          return refs.emplace(magnitude ? variant + 10 : variant, out).first->second;
        };
        std::vector<SelftestOutcome> outcomes;
        const std::vector<float> in16 = rounded(in);
        for (const ConvKernelUnderTest& k : kernels) {
          if (!k.supports(p)) continue;
          std::vector<float> out(static_cast<std::size_t>(p.batch) * p.out_channels_total * p.out_h * p.out_w,
                                 std::numeric_limits<float>::quiet_NaN());
          SelftestOutcome o;
          try {
            k.run(p, k.fp16_storage ? in16 : in, w, b, &out);
            const int variant = k.fp16_operands ? 2 : k.fp16_storage ? 1 : 0;
            o = compare_conv_output(p, out, images, reference(variant), k.tolerance,
                                    k.tolerance.sum_abs > 0.f ? &reference(variant + 10) : nullptr);
          } catch (const Error& e) {
            if (k.may_refuse) continue;  // a library's run-time refusal: the engine drops it too
            o.passed = false;
            o.worst = std::numeric_limits<double>::infinity();
            o.detail = e.what();
          }
          o.group = "conv " + k.name;
          outcomes.push_back(o);
        }
        return outcomes;
      };
      checks.push_back(c);
    }
  }
  return checks;
}

namespace {

// The CPU backend's checks: its conv kernel (the reference, multithreaded)
// at every distinct layer shape, at batch 2, against the direct formula in
// double precision at sampled outputs of both images.
std::vector<SelftestCheck> cpu_selftest_checks(const SelftestOptions& o) {
  std::vector<SelftestCheck> checks;
  const std::vector<SelftestConvShape> shapes = selftest_conv_shapes(o.model, o.input_h, o.input_w);
  for (std::size_t si = 0; si < shapes.size(); ++si) {
    Conv2dParams p = shapes[si].p;
    p.batch = 2;
    finalize_conv2d_params(p);
    SelftestCheck c;
    c.label = cat(shapes[si].name, " b2");
    c.cpu_macs = static_cast<double>(conv2d_macs(p));
    const std::uint32_t seed = o.seed + 1000u * static_cast<std::uint32_t>(si);
    c.run = [p, seed] {
      const std::vector<float> in = uniform(static_cast<std::size_t>(p.batch) * p.in_channels * p.in_h * p.in_w,
                                            seed, -1.f, 1.f);
      const std::vector<float> w = conv_weights(p, seed + 1), b = uniform(p.out_channels, seed + 2, -1.f, 1.f);
      std::vector<float> out(static_cast<std::size_t>(p.batch) * p.out_channels_total * p.out_h * p.out_w,
                             std::numeric_limits<float>::quiet_NaN());
      conv2d_cpu(p, in.data(), w.data(), b.data(), out.data());
      std::mt19937 rng(seed + 3);
      const int cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
      std::vector<float> got, expected;
      for (int sample = 0; sample < 512; ++sample) {
        // Corners first (padding), then random outputs.
        const int n = sample % p.batch;
        const int co = sample < 8 ? (sample % 2) * (p.out_channels - 1) : static_cast<int>(rng() % p.out_channels);
        const int oy = sample < 8 ? ((sample / 2) % 2) * (p.out_h - 1) : static_cast<int>(rng() % p.out_h);
        const int ox = sample < 8 ? ((sample / 4) % 2) * (p.out_w - 1) : static_cast<int>(rng() % p.out_w);
        const int g = co / cout_g;
        double acc = b[static_cast<std::size_t>(co)];
        for (int ci = 0; ci < cin_g; ++ci)
          for (int ky = 0; ky < p.kernel_h; ++ky)
            for (int kx = 0; kx < p.kernel_w; ++kx) {
              const int iy = oy * p.stride_h - p.pad_h + ky, ix = ox * p.stride_w - p.pad_w + kx;
              if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;
              const std::size_t wi = ((static_cast<std::size_t>(co) * cin_g + ci) * p.kernel_h + ky) * p.kernel_w + kx;
              const std::size_t ii =
                  ((static_cast<std::size_t>(n) * p.in_channels + g * cin_g + ci) * p.in_h + iy) * p.in_w + ix;
              acc += static_cast<double>(w[wi]) * in[ii];
            }
        expected.push_back(apply_activation(p.activation, p.alpha, static_cast<float>(acc)));
        got.push_back(out[((static_cast<std::size_t>(n) * p.out_channels_total + p.out_channel_offset + co) * p.out_h +
                           oy) * p.out_w + ox]);
      }
      const Comparison cmp = compare_elementwise(got.data(), expected.data(), got.size(), tolerance::kConvFp32);
      SelftestOutcome outcome;
      outcome.group = "cpu conv2d vs direct formula";
      outcome.passed = cmp.ok();
      outcome.worst = cmp.worst_ratio;
      if (!cmp.ok()) outcome.detail = cmp.describe();
      return std::vector<SelftestOutcome>{outcome};
    };
    checks.push_back(c);
  }
  return checks;
}

}  // namespace

SelftestReport run_selftest(const SelftestOptions& o, const SelftestProgress& progress) {
  TX2_REQUIRE(o.max_batch >= 1 && o.max_batch <= kMaxBatch, "selftest: --max-batch ", o.max_batch,
              " is outside [1, ", kMaxBatch, "]");
  if (!o.model.empty()) TX2_REQUIRE(is_regular_file(o.model), o.model, ": no such model file");
  std::string reason;
  const BackendKind backend = resolve_backend(o.backend, &reason);
  std::vector<SelftestCheck> checks;
  std::vector<std::string> notes;
  std::string device;
  if (backend == BackendKind::kCuda) {
#ifdef TX2YOLO_WITH_CUDA
    device = describe_cuda_device(cuda_device_info(o.device));
    checks = cuda_selftest_checks(o, &notes);
#endif
  } else {
    TX2_REQUIRE(o.precision == Precision::kFp32, "selftest: precision fp16 needs the CUDA backend",
                reason.empty() ? "" : "; ", reason);
    device = cat("cpu", reason.empty() ? "" : " (" + reason + ")");
    checks = cpu_selftest_checks(o);
    notes.push_back(
        "the CPU backend runs the reference kernels: no optimised CPU kernels exist yet, so its conv kernel is "
        "checked against the direct formula (sampled outputs); the other ops are the references themselves");
  }
  SelftestReport report = run_selftest_checks(checks, progress);
  report.device = device;
  report.settings = cat(o.model.empty() ? std::string("the three full-width architectures") : o.model, ", input ",
                        o.input_h > 0 ? cat(o.input_h, "x", o.input_w) : std::string("the model's"), ", ",
                        precision_name(o.precision), ", ",
                        backend == BackendKind::kCuda ? cat("batch 1 and ", o.max_batch) : std::string("batch 2"));
  report.notes.insert(report.notes.end(), notes.begin(), notes.end());
  return report;
}

}  // namespace tx2yolo
