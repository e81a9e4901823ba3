// The CUDA backend end to end against the CPU backend: head tensors and
// detections (compared as matched sets) on seeded models, from a 1/8-width
// model to the full-width standard and separable models. Skips without a GPU.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "engine/verification.h"
#include "tests/gpu_test_util.h"
#include "tests/test_util.h"
#include "weights/architecture.h"

#ifdef TX2YOLO_WITH_CUDA
#include <cuda_runtime_api.h>  // CUDART_VERSION

#include "engine/cpu_backend.h"
#include "engine/cuda_backend.h"
#include "kernels/cuda/conv2d_cudnn.h"

namespace tx2yolo {
namespace {

using testing_util::write_random_model;
cv::Mat scene() { return testing_util::synthetic_scene(); }

double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

float iou(const Detection& a, const Detection& b) {
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2 ? 1.f : 0.f;
  const float inter = iw * ih;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

// Corners within 0.01 px: the same box, whatever its size (IoU alone fails
// for the near-degenerate boxes random weights decode to, where a 1e-4 px
// rounding difference is a large fraction of a 1e-3 px width).
bool same_corners(const Detection& a, const Detection& b) {
  return std::fabs(a.x1 - b.x1) <= 1e-2f && std::fabs(a.y1 - b.y1) <= 1e-2f && std::fabs(a.x2 - b.x2) <= 1e-2f &&
         std::fabs(a.y2 - b.y2) <= 1e-2f;
}

// Every CPU detection has a GPU twin (same class, IoU >= 0.99 or the same
// corners to 0.01 px, score within 1e-4) and vice versa. Borderline cases, which float rounding (the decode's
// expf differs from glibc's by an ulp) may legitimately flip, are excused
// explicitly and counted:
//  * a score within 1e-4 of the NMS score threshold;
//  * a score within 1e-4 of the keep_top_k cut-off (the lowest kept score
//    when keep_top_k truncated the list);
//  * an NMS tie: the other side kept a same-class box overlapping it
//    (IoU > 0.3) with a score within 1e-4, so which of the two survived
//    depends on ulps.
// Random-weight models produce many such near-equal scores, so the excused
// count is printed; anything else unmatched fails.
void expect_matched(const std::vector<Detection>& cpu, const std::vector<Detection>& gpu, float score_threshold,
                    int keep_top_k) {
  auto cutoff = [&](const std::vector<Detection>& v) {
    float lo = 2.f;
    for (const Detection& d : v) lo = std::min(lo, d.score);
    return keep_top_k >= 0 && static_cast<int>(v.size()) == keep_top_k ? lo : -1.f;
  };
  int excused = 0;
  auto unmatched = [&](const std::vector<Detection>& from, const std::vector<Detection>& to) {
    int missing = 0;
    const float cut_from = cutoff(from), cut_to = cutoff(to);
    for (const Detection& d : from) {
      bool found = false, tie = false;
      for (const Detection& e : to) {
        const bool same = e.class_id == d.class_id && std::fabs(d.score - e.score) <= 1e-4f;
        found = found || (same && (iou(d, e) >= 0.99f || same_corners(d, e)));
        tie = tie || (same && iou(d, e) > 0.3f);
      }
      if (found) continue;
      const bool borderline = std::fabs(d.score - score_threshold) < 1e-4f ||
                              (cut_from >= 0 && d.score - cut_from < 1e-4f) ||
                              (cut_to >= 0 && d.score - cut_to < 1e-4f) || tie;
      if (borderline) {
        ++excused;
      } else {
        ++missing;
      }
    }
    return missing;
  };
  EXPECT_EQ(unmatched(cpu, gpu), 0) << cpu.size() << " cpu vs " << gpu.size() << " gpu detections";
  EXPECT_EQ(unmatched(gpu, cpu), 0) << gpu.size() << " gpu vs " << cpu.size() << " cpu detections";
  std::printf("%zu cpu / %zu gpu detections matched; %d borderline cases excused\n", cpu.size(), gpu.size(),
              excused);
}

void compare_backends(const ArchitectureSpec& spec, int h, int w, double head_tolerance) {
  testing_util::TempDir dir;
  const std::string model = write_random_model(dir, spec, 4321);
  DetectorOptions opt;
  opt.input_h = h;
  opt.input_w = w;
  opt.backend = BackendKind::kCpu;
  Detector cpu(model, opt);
  opt.backend = BackendKind::kCuda;
  opt.gpu_preprocess = false;  // the same input tensor on both sides: this compares the network
  // Random weights give tens of thousands of near-equal candidates (62234
  // above 0.01 for the separable model at 416): room for all of them, so the
  // GPU NMS sees what the CPU NMS sees.
  opt.nms_capacity = 1 << 17;
  Detector gpu(model, opt);
  ASSERT_EQ(gpu.backend(), BackendKind::kCuda);
  const cv::Mat img = scene();
  const auto cpu_dets = cpu.detect(img);
  const auto gpu_dets = gpu.detect(img);
  for (const HeadConfig& head : cpu.config().heads) {
    const double err = relative_l2(gpu.tensor(head.tensor), cpu.tensor(head.tensor));
    EXPECT_LT(err, head_tolerance) << head.tensor;
    std::printf("%s at %dx%d: relative L2 %.2e\n", head.tensor.c_str(), h, w, err);
  }
  ASSERT_FALSE(cpu_dets.empty());
  EXPECT_EQ(gpu.last_timings().nms_overflow, 0);
  expect_matched(cpu_dets, gpu_dets, cpu.config().nms.score_threshold, cpu.config().nms.keep_top_k);
}

TEST(GpuBackend, NarrowModelMatchesCpu) {
  SKIP_WITHOUT_GPU();
  compare_backends(ArchitectureSpec::scaled(0.125, 3), 320, 416, 1e-5);
}

TEST(GpuBackend, FullWidthStandardModelMatchesCpuAt608) {
  SKIP_WITHOUT_GPU();
  compare_backends(ArchitectureSpec{}, 608, 608, 1e-4);
}

TEST(GpuBackend, FullWidthSeparableModelMatchesCpuAt416) {
  SKIP_WITHOUT_GPU();
  ArchitectureSpec spec;
  spec.separable_head = true;
  compare_backends(spec, 416, 416, 1e-4);
}

TEST(GpuBackend, ZeroCopyConcatAndArenaAgreeWithPlainBuffers) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, ArchitectureSpec::scaled(0.25, 2), 77);
  const ModelFile model = ModelFile::load(path);
  const auto shapes = infer_shapes(model.graph(), model.weight_shapes(), 320, 320);
  CudaBackendOptions aliased, plain;
  // The same kernels on both sides (timed tactics could pick different ones).
  aliased.tactics = plain.tactics = TacticMode::kHeuristic;
  plain.alias_concat = false;
  plain.keep_all_tensors = true;
  plain.debug_sync = true;
  CudaBackend a(model, shapes, aliased), b(model, shapes, plain);
  EXPECT_EQ(a.memory_plan().elided_concats.size(), 2u);
  EXPECT_TRUE(b.memory_plan().elided_concats.empty());
  EXPECT_LT(a.memory_plan().arena_bytes, a.memory_plan().unshared_bytes);
  std::printf("%s\n", a.description().c_str());
  const auto input = testing_util::random_floats(3 * 320 * 320, 5, -2.f, 2.f);
  a.run(input.data());
  b.run(input.data());
  for (const std::string& out : model.graph().outputs) {
    const std::size_t n = static_cast<std::size_t>(shapes.at(out).numel());
    const std::vector<float> va(a.output(out), a.output(out) + n), vb(b.output(out), b.output(out) + n);
    EXPECT_EQ(va, vb) << out;  // same kernels, same order: bit-identical
  }
  // Intermediate tensors are overwritten in the shared arena...
  EXPECT_THROW(a.output("backbone.conv1"), Error);
  // ...but all are kept without reuse: every one against the CPU backend.
  EXPECT_GT(b.memory_plan().arena_bytes, a.memory_plan().arena_bytes);
  CpuBackend cpu(model, shapes, 0);
  cpu.run(input.data());
  for (const Node& n : model.graph().nodes) {
    const std::size_t count = static_cast<std::size_t>(shapes.at(n.output).numel());
    const std::vector<float> g(b.output(n.output), b.output(n.output) + count);
    const std::vector<float> c(cpu.output(n.output), cpu.output(n.output) + count);
    EXPECT_LT(relative_l2(g, c), 1e-5) << n.name;
  }
}

TEST(GpuBackend, GpuNmsGivesExactlyTheCpuNmsResult) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string model = write_random_model(dir, ArchitectureSpec::scaled(0.25, 5), 31);
  DetectorOptions opt;
  opt.input_h = opt.input_w = 416;
  opt.keep_top_k = -1;  // everything NMS keeps
  Detector gpu_nms(model, opt);
  opt.gpu_nms = false;
  Detector cpu_nms(model, opt);
  EXPECT_NE(cpu_nms.backend_description().find("NMS on the CPU"), std::string::npos);
  const auto a = gpu_nms.detect(scene());
  const auto b = cpu_nms.detect(scene());  // the same GPU decode, NMS on the CPU
  ASSERT_FALSE(b.empty());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].class_id, b[i].class_id);
    EXPECT_EQ(a[i].box_index, b[i].box_index);
    EXPECT_EQ(a[i].score, b[i].score);
    EXPECT_EQ(a[i].x1, b[i].x1);
  }
  EXPECT_EQ(gpu_nms.last_timings().nms_overflow, 0);
}

TEST(GpuBackend, GpuPreprocessingKeepsDetectionsClose) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string model = write_random_model(dir, ArchitectureSpec::scaled(0.25, 3), 55);
  DetectorOptions opt;
  opt.input_h = 320;
  opt.input_w = 416;
  opt.backend = BackendKind::kCpu;
  Detector cpu(model, opt);
  opt.backend = BackendKind::kCuda;
  Detector gpu(model, opt);  // GPU preprocessing: resized levels may differ by 1 from cv::resize
  const auto c = cpu.detect(scene());
  const auto g = gpu.detect(scene());
  ASSERT_FALSE(c.empty());
  for (const HeadConfig& head : cpu.config().heads)
    EXPECT_LT(relative_l2(gpu.tensor(head.tensor), cpu.tensor(head.tensor)), 1e-2) << head.tensor;
  int matched = 0;
  for (const Detection& d : c) {
    bool found = false;
    for (const Detection& e : g)
      found = found || (e.class_id == d.class_id && iou(d, e) >= 0.9f && std::fabs(d.score - e.score) <= 0.02f);
    matched += found;
  }
  EXPECT_GE(matched, static_cast<int>(0.9 * c.size())) << matched << " of " << c.size();
  const FrameTimings& t = gpu.last_timings();
  EXPECT_GT(t.network_ms, 0.0);
  EXPECT_GT(t.postprocess_ms, 0.0);
  std::printf("device times: preprocess %.3f ms, network %.3f ms, decode+nms %.3f ms, total %.3f ms\n",
              t.preprocess_ms, t.network_ms, t.postprocess_ms, t.total_ms);
}

TEST(GpuBackend, DecodeCompactionOverflowIsCounted) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string model = write_random_model(dir, ArchitectureSpec::scaled(0.125, 5), 8);
  DetectorOptions opt;
  opt.input_h = opt.input_w = 416;
  opt.conf_threshold = 0.f;   // no objectness gate
  opt.score_threshold = 0.f;  // every positive score is a candidate: 10647 boxes x 5 classes
  opt.nms_capacity = 2048;
  Detector det(model, opt);
  const auto dets = det.detect(scene());
  EXPECT_GT(det.last_timings().nms_overflow, 40000);
  EXPECT_LE(det.last_timings().nms_overflow, 10647 * 5 - 2048);
  EXPECT_FALSE(dets.empty());  // the candidates that fitted still went through NMS
}

TEST(GpuBackend, CudaGraphReplayIsBitIdenticalToDirectLaunches) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, ArchitectureSpec::scaled(0.25, 3), 31);
  const ModelFile model = ModelFile::load(path);
  const auto shapes = infer_shapes(model.graph(), model.weight_shapes(), 320, 320);
  CudaBackendOptions graph_on, graph_off;
  graph_on.tactics = graph_off.tactics = TacticMode::kHeuristic;  // the same kernels on both sides
  graph_off.cuda_graph = false;
  CudaBackend a(model, shapes, graph_on), b(model, shapes, graph_off);
  // Two different inputs: the second run replays the graph captured by the
  // first, so it must see the new input (uploaded before the launch).
  for (unsigned seed : {5u, 6u}) {
    SCOPED_TRACE(seed);
    const auto input = testing_util::random_floats(3 * 320 * 320, seed, -2.f, 2.f);
    a.run(input.data());
    b.run(input.data());
    EXPECT_TRUE(a.uses_cuda_graph()) << a.description();
    EXPECT_FALSE(b.uses_cuda_graph());
    for (const std::string& out : model.graph().outputs) {
      const std::size_t n = static_cast<std::size_t>(shapes.at(out).numel());
      const std::vector<float> va(a.output(out), a.output(out) + n), vb(b.output(out), b.output(out) + n);
      EXPECT_EQ(va, vb) << out;  // the same kernels in the same order
    }
  }
  EXPECT_NE(a.description().find("replayed as a CUDA graph"), std::string::npos) << a.description();
  // The whole Detector path (GPU preprocessing, graph, GPU decode + NMS)
  // gives the same detections with and without the graph, frame after frame.
  DetectorOptions on, off;
  on.input_h = on.input_w = off.input_h = off.input_w = 320;
  on.backend = off.backend = BackendKind::kCuda;
  on.tactics = off.tactics = TacticMode::kHeuristic;
  off.cuda_graph = false;
  Detector da(path, on), db(path, off);
  for (int frame = 0; frame < 3; ++frame) {
    cv::Mat img = scene();
    img += cv::Scalar(frame * 20, 0, 0);
    const auto ga = da.detect(img), gb = db.detect(img);
    ASSERT_EQ(ga.size(), gb.size()) << "frame " << frame;
    for (std::size_t i = 0; i < ga.size(); ++i) {
      EXPECT_EQ(ga[i].class_id, gb[i].class_id);
      EXPECT_EQ(ga[i].score, gb[i].score);
      EXPECT_EQ(ga[i].x1, gb[i].x1);
      EXPECT_EQ(ga[i].y2, gb[i].y2);
    }
  }
}

// Bit-identical detections: the same kernels in the same order.
void expect_identical(const std::vector<Detection>& a, const std::vector<Detection>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].class_id, b[i].class_id) << i;
    EXPECT_EQ(a[i].score, b[i].score) << i;
    EXPECT_EQ(a[i].box_index, b[i].box_index) << i;
    EXPECT_EQ(a[i].x1, b[i].x1) << i;
    EXPECT_EQ(a[i].y1, b[i].y1) << i;
    EXPECT_EQ(a[i].x2, b[i].x2) << i;
    EXPECT_EQ(a[i].y2, b[i].y2) << i;
  }
}

// The whole frame as one graph (upload, preprocess, network, decode + NMS of
// each image, copy back) against the same stages launched one by one:
// identical detections frame after frame, with new pixels each frame (the
// replay must see them), a change of image size (a new capture) and a
// change back, partial and full batches, and both precisions.
TEST(GpuBackend, WholeFrameGraphMatchesStageByStage) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, ArchitectureSpec::scaled(0.25, 3), 37);
  for (Precision precision : {Precision::kFp32, Precision::kFp16}) {
    SCOPED_TRACE(precision_name(precision));
    DetectorOptions on, off;
    on.input_h = on.input_w = off.input_h = off.input_w = 320;
    on.backend = off.backend = BackendKind::kCuda;
    on.tactics = off.tactics = TacticMode::kHeuristic;
    on.batch = off.batch = 3;
    on.precision = off.precision = precision;
    on.unverified = off.unverified = true;  // as gpu-check runs it: every kernel allowed
    off.cuda_graph = false;
    Detector da(path, on), db(path, off);
    const cv::Mat a = scene();
    cv::Mat small, flipped;
    cv::resize(a, small, cv::Size(301, 233));
    cv::flip(a, flipped, 1);
    // A frame with new sizes runs its launches directly; the next one with
    // the same sizes captures the graph and replays it (frames 1, 3, 5, 7).
    const std::vector<std::vector<cv::Mat>> frames = {{a},
                                                      {a + cv::Scalar(30, 0, 0)},
                                                      {small},
                                                      {small + cv::Scalar(0, 0, 50)},
                                                      {a, small, flipped},
                                                      {a, small, flipped + cv::Scalar(0, 40, 0)},
                                                      {a},
                                                      {a + cv::Scalar(60, 0, 0)}};
    for (std::size_t f = 0; f < frames.size(); ++f) {
      SCOPED_TRACE(cat("frame ", f));
      const std::vector<cv::Mat>& images = frames[f];
      const auto ga = da.detect_batch(images), gb = db.detect_batch(images);
      ASSERT_EQ(ga.size(), images.size());
      ASSERT_EQ(gb.size(), images.size());
      for (std::size_t i = 0; i < images.size(); ++i) {
        SCOPED_TRACE(cat("image ", i));
        EXPECT_FALSE(ga[i].empty());
        expect_identical(ga[i], gb[i]);
      }
      const FrameTimings& t = da.last_timings();
      EXPECT_GT(t.total_ms, 0.0);
#if CUDART_VERSION >= 11010
      // The stage events are nodes of the graph: each stage took some time.
      EXPECT_GT(t.preprocess_ms, 0.0);
      EXPECT_GT(t.network_ms, 0.0);
      EXPECT_GT(t.postprocess_ms, 0.0);
#endif
      EXPECT_EQ(t.nms_overflow, 0);
    }
    EXPECT_NE(da.backend_description().find(
                  "whole frame replayed as a CUDA graph (4 captures, 4 replays, 4 frames direct)"),
              std::string::npos)
        << da.backend_description();
    EXPECT_EQ(db.backend_description().find("whole frame"), std::string::npos) << db.backend_description();
  }
}

// For compute-sanitizer (tools/gpu-check.sh runs these under memcheck,
// initcheck and racecheck): a full-width architecture at 320, the given
// precision, one kernel forced on every layer that takes it ("dwpw-fused":
// every fusable pair fused), and the whole-frame graph: frame 0 runs
// directly, frame 1 is captured, frame 2 (frame 0's pixels) is replayed and
// must give frame 0's heads bit for bit, and its detections where the NMS
// kept every candidate (random weights give tens of thousands; past the
// capacity, which ones are kept depends on the order of atomic appends).
// Cheap enough for the sanitizers: heuristic tactics (no timing), batch 1,
// the smallest NMS capacity (racecheck is slow on the sorts' shared memory),
// no CPU reference (the tests above compare every kernel with the CPU).
void run_forced_full_width(const char* arch, Precision precision, const char* force, int expect_forced) {
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, full_width_spec(arch, 80), 51);
  DetectorOptions o;
  o.input_h = o.input_w = 320;
  o.backend = BackendKind::kCuda;
  o.tactics = TacticMode::kHeuristic;
  o.precision = precision;
  o.unverified = true;  // the forced kernels, the frame graph and FP16 are what this run verifies
  o.force_tactic = force;
  o.nms_capacity = 2048;
  Detector d(path, o);
  const cv::Mat a = scene();
  auto heads = [&] {
    std::vector<std::vector<float>> h;
    for (const HeadConfig& head : d.config().heads) h.push_back(d.tensor(head.tensor));
    return h;
  };
  const std::vector<std::vector<Detection>> first = d.detect_batch({a});
  const long long overflow_first = d.last_timings().nms_overflow;
  const std::vector<std::vector<float>> first_heads = heads();
  d.detect_batch({a + cv::Scalar(0, 30, 0)});
  const std::vector<std::vector<Detection>> replayed = d.detect_batch({a});
  const long long overflow = overflow_first + d.last_timings().nms_overflow;
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_FALSE(first[0].empty());
  const std::vector<std::vector<float>> replayed_heads = heads();
  ASSERT_EQ(first_heads.size(), replayed_heads.size());
  for (std::size_t h = 0; h < first_heads.size(); ++h) EXPECT_EQ(first_heads[h], replayed_heads[h]) << "head " << h;
  if (overflow == 0) expect_identical(first[0], replayed[0]);
  std::printf("NMS candidates past the capacity: %lld (detections %s)\n", overflow,
              overflow == 0 ? "compared" : "not compared");
  const std::string desc = d.backend_description();
  // Frame 1's capture is launched as a replay, then frame 2's replay.
  EXPECT_NE(desc.find("whole frame replayed as a CUDA graph (1 captures, 2 replays, 1 frames direct)"),
            std::string::npos)
      << desc;
  int taken = 0;
  for (const LayerTactic& t : d.layer_tactics()) taken += t.tactic == force;
  std::printf("%s %s, %s forced on %d layers: %s\n", arch, precision_name(precision), force, taken, desc.c_str());
  if (expect_forced > 0) {
    EXPECT_EQ(taken, expect_forced) << desc;  // every depthwise -> pointwise pair fused
  } else {
    EXPECT_GE(taken, 30) << desc;  // every conv but the depthwise ones
  }
}

TEST(GpuSanitized, StandardFp32FusedFrameGraph) {
  SKIP_WITHOUT_GPU();
  run_forced_full_width("standard", Precision::kFp32, "dwpw-fused", 13);
}
TEST(GpuSanitized, StandardFp16FusedFrameGraph) {
  SKIP_WITHOUT_GPU();
  run_forced_full_width("standard", Precision::kFp16, "dwpw-fused", 13);
}
TEST(GpuSanitized, SeparableFp32FusedFrameGraph) {
  SKIP_WITHOUT_GPU();
  run_forced_full_width("separable", Precision::kFp32, "dwpw-fused", 22);
}
TEST(GpuSanitized, SeparableFp16FusedFrameGraph) {
  SKIP_WITHOUT_GPU();
  run_forced_full_width("separable", Precision::kFp16, "dwpw-fused", 22);
}
// The TX2's FP16 kernel (paired FP16 arithmetic) on every conv that takes it.
TEST(GpuSanitized, StandardFp16Half2FrameGraph) {
  SKIP_WITHOUT_GPU();
  run_forced_full_width("standard", Precision::kFp16, "gemm64-half2", 0);
}

// The kernels that timing may choose but the heuristic never does, forced on
// every layer that takes them (CudaBackendOptions::force_tactic): the cudnn
// tactic (FP32) and the fused depthwise + pointwise kernel (FP32 and FP16).
// Each against the heuristic's kernels on the same backend type, heads
// compared; and each replayed from its captured network graph, bit for bit
// what its direct first run gave.
TEST(GpuBackend, ForcedCudnnAndFusedKernelsMatchAndReplay) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  ArchitectureSpec spec = ArchitectureSpec::scaled(0.25, 3);
  spec.separable_head = true;  // fusable pairs in the head too
  const std::string path = write_random_model(dir, spec, 43);
  const ModelFile model = ModelFile::load(path);
  const auto shapes = infer_shapes(model.graph(), model.weight_shapes(), 320, 320);
  const auto input = testing_util::random_floats(3 * 320 * 320, 9, -2.f, 2.f);
  struct Case {
    const char* force;
    Precision precision;
    double tolerance;  // relative L2 of the heads against the heuristic's kernels
  };
  const Case cases[] = {{"cudnn", Precision::kFp32, 1e-5},
                        {"dwpw-fused", Precision::kFp32, 1e-5},
                        // FP16: the unfused side's pointwise convs may take the FP16
                        // tensor-core or half2 kernels (FP16 operands); a wrong index
                        // would still be off by far more.
                        {"dwpw-fused", Precision::kFp16, 3e-2}};
  for (const Case& c : cases) {
    SCOPED_TRACE(cat(c.force, " ", precision_name(c.precision)));
    std::string why;
    if (std::string(c.force) == "cudnn" && !conv2d_cudnn_available(&why)) {
      std::printf("cudnn not forced: %s\n", why.c_str());
      continue;
    }
    CudaBackendOptions plain, forced;
    plain.tactics = forced.tactics = TacticMode::kHeuristic;
    plain.precision = forced.precision = c.precision;
    plain.unverified = forced.unverified = true;  // dwpw-fused awaits racecheck (engine/verification.cpp)
    forced.force_tactic = c.force;
    CudaBackend a(model, shapes, forced), b(model, shapes, plain);
    int taken = 0;
    for (const LayerTactic& t : a.tactics()) taken += t.tactic == c.force;
    // Every conv layer takes cudnn; all 22 depthwise -> pointwise pairs fuse
    // (13 in the backbone, 3 per head level in the separable head).
    if (std::string(c.force) == "cudnn") {
      EXPECT_GE(taken, 30) << a.description();
    } else {
      EXPECT_EQ(taken, 22) << a.description();
    }
    std::printf("%s: %d layers\n", c.force, taken);
    std::vector<std::vector<float>> first;
    for (int run = 0; run < 2; ++run) {  // run 0: direct, then captured; run 1: the replay
      a.run(input.data());
      b.run(input.data());
      EXPECT_TRUE(a.uses_cuda_graph()) << a.description();
      for (std::size_t h = 0; h < model.graph().outputs.size(); ++h) {
        const std::string& out = model.graph().outputs[h];
        const std::size_t n = static_cast<std::size_t>(shapes.at(out).numel());
        const std::vector<float> va(a.output(out), a.output(out) + n), vb(b.output(out), b.output(out) + n);
        const double err = relative_l2(va, vb);
        EXPECT_LT(err, c.tolerance) << out;
        if (run == 0) {
          first.push_back(va);
          std::printf("%s: relative L2 %.2e against the heuristic's kernels\n", out.c_str(), err);
        } else {
          EXPECT_EQ(va, first[h]) << out << ": the replay differs from the direct run";
        }
      }
    }
  }
  CudaBackendOptions bad;
  bad.tactics = TacticMode::kHeuristic;
  bad.force_tactic = "no-such-kernel";
  try {
    CudaBackend x(model, shapes, bad);
    ADD_FAILURE() << "an unknown forced tactic was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-kernel"), std::string::npos) << e.what();
  }
}

// The input read in place from pinned host memory (--zero-copy, for
// measuring on a Jetson) against the copied input: the same bytes reach the
// same kernels, so the same detections, bit for bit, frame after frame
// (frame graph included).
TEST(GpuBackend, ZeroCopyInputGivesTheCopiedInputsDetections) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, ArchitectureSpec::scaled(0.25, 3), 47);
  DetectorOptions copy, in_place;
  copy.input_h = copy.input_w = in_place.input_h = in_place.input_w = 320;
  copy.backend = in_place.backend = BackendKind::kCuda;
  copy.tactics = in_place.tactics = TacticMode::kHeuristic;
  copy.zero_copy_input = false;
  in_place.zero_copy_input = true;
  copy.unverified = in_place.unverified = true;  // as gpu-check runs it: every kernel allowed
  Detector a(path, in_place), b(path, copy);
  EXPECT_NE(a.backend_description().find("zero-copy"), std::string::npos) << a.backend_description();
  EXPECT_EQ(b.backend_description().find("zero-copy"), std::string::npos) << b.backend_description();
  cv::Mat small;
  cv::resize(scene(), small, cv::Size(401, 299));
  for (int frame = 0; frame < 4; ++frame) {
    SCOPED_TRACE(cat("frame ", frame));
    const cv::Mat img = (frame < 2 ? scene() : small) + cv::Scalar(0, frame * 15, 0);
    const auto da = a.detect(img), db = b.detect(img);
    EXPECT_FALSE(da.empty());
    expect_identical(da, db);
  }
}

TEST(GpuBackend, BatchOfImagesMatchesTheCpuImageByImage) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, ArchitectureSpec::scaled(0.25, 3), 41);
  DetectorOptions gpu, cpu;
  gpu.input_h = gpu.input_w = cpu.input_h = cpu.input_w = 320;
  gpu.backend = BackendKind::kCuda;
  gpu.batch = 4;
  cpu.backend = BackendKind::kCpu;
  Detector g(path, gpu), c(path, cpu);
  const cv::Mat a = scene();
  cv::Mat b, d;
  cv::resize(a, b, cv::Size(333, 250));
  cv::flip(a, d, 0);
  const std::vector<cv::Mat> images = {a, b, d};  // a partial batch: 3 of 4 slots
  for (int round = 0; round < 2; ++round) {
    const auto all = g.detect_batch(images);
    ASSERT_EQ(all.size(), images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
      SCOPED_TRACE(cat("round ", round, ", image ", i));
      EXPECT_FALSE(all[i].empty());
      expect_matched(c.detect(images[i]), all[i], c.config().nms.score_threshold, c.config().nms.keep_top_k);
    }
  }
  EXPECT_NE(g.backend_description().find("batch 4"), std::string::npos) << g.backend_description();
}

TEST(GpuBackend, TimedTacticsAreCachedAndKeepTheResults) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string path = write_random_model(dir, ArchitectureSpec::scaled(0.5, 3), 51);
  const std::string cache = dir.file("tactics.json");
  DetectorOptions heuristic, tuned;
  heuristic.input_h = heuristic.input_w = tuned.input_h = tuned.input_w = 416;
  heuristic.backend = tuned.backend = BackendKind::kCuda;
  heuristic.tactics = TacticMode::kHeuristic;
  tuned.tactics = TacticMode::kCached;
  tuned.tactics_cache = cache;
  // Room for every NMS candidate (random weights give tens of thousands):
  // with an overflow, which candidates are dropped depends on the order
  // blocks reach the counter, so two runs could legitimately differ.
  heuristic.nms_capacity = tuned.nms_capacity = 1 << 17;
  Detector h(path, heuristic), t(path, tuned);
  const auto timed = t.layer_tactics();
  ASSERT_FALSE(timed.empty());
  for (const LayerTactic& l : timed) {
    EXPECT_FALSE(l.from_cache) << l.layer;
    EXPECT_GE(l.ms.size(), 2u) << l.layer;  // gemm64 and gemm32 at least
    EXPECT_EQ(l.ms.count(l.tactic), 1u) << l.layer;
    for (const auto& m : l.ms) EXPECT_GE(m.second, l.ms.at(l.tactic)) << l.layer << " " << m.first;
    // Every candidate was compared with the reference kernel, and on a
    // healthy GPU every one agreed (a rejection here is a finding).
    EXPECT_TRUE(l.validated) << l.layer;
    for (const auto& r : l.rejected) ADD_FAILURE() << l.layer << ": " << r.first << " rejected: " << r.second;
  }
  EXPECT_TRUE(t.warnings().empty());
  EXPECT_TRUE(file_exists(cache));
  std::printf("%s\n", t.backend_description().c_str());
  // Whatever kernels were chosen, the heads and the detections are the
  // heuristic's, to float rounding: split-K and cuDNN sum in other orders
  // (the bound is the full-width GPU-against-CPU one; a wrong kernel is off
  // by far more).
  const cv::Mat img = scene();
  const auto h_dets = h.detect(img), t_dets = t.detect(img);
  EXPECT_EQ(h.last_timings().nms_overflow, 0);
  EXPECT_EQ(t.last_timings().nms_overflow, 0);
  for (const HeadConfig& head : h.config().heads) {
    const double err = relative_l2(t.tensor(head.tensor), h.tensor(head.tensor));
    EXPECT_LT(err, 1e-4) << head.tensor;
    std::printf("%s, timed vs heuristic tactics: relative L2 %.2e\n", head.tensor.c_str(), err);
  }
  expect_matched(h_dets, t_dets, h.config().nms.score_threshold, h.config().nms.keep_top_k);
  // A second detector finds every layer in the cache and times nothing.
  Detector again(path, tuned);
  const auto cached = again.layer_tactics();
  ASSERT_EQ(cached.size(), timed.size());
  for (std::size_t i = 0; i < cached.size(); ++i) {
    EXPECT_TRUE(cached[i].from_cache) << cached[i].layer;
    EXPECT_EQ(cached[i].tactic, timed[i].tactic) << cached[i].layer;
  }
  EXPECT_NE(again.backend_description().find("0 layers timed"), std::string::npos) << again.backend_description();
}

// Verified defaults on a real device: with the default options (timed
// tactics), at FP32 and FP16, every conv layer runs and times only verified
// kernels (so nothing fuses, and no tensor-core or half2 kernel is timed),
// the whole frame replays as one graph, and zero-copy input is accepted
// without --unverified. (Written after the run of 2026-12-04 that verified
// these features; it runs at the next GPU run.) tools/gpu-check.sh runs this test with
// TX2YOLO_UNVERIFIED_KERNELS unset (the rest of the suite runs with it).
TEST(GpuVerifiedDefaults, DefaultOptionsRunOnlyVerifiedFeatures) {
  SKIP_WITHOUT_GPU();
  if (unverified_allowed_by_environment()) GTEST_SKIP() << "TX2YOLO_UNVERIFIED_KERNELS=1 allows every feature";
  testing_util::TempDir dir;
  ArchitectureSpec spec = ArchitectureSpec::scaled(0.25, 3);
  spec.separable_head = true;  // fusable pairs, had fusion been allowed
  const std::string path = write_random_model(dir, spec, 53);
  DetectorOptions opt;
  opt.input_h = opt.input_w = 320;
  opt.backend = BackendKind::kCuda;
  opt.tactics_cache = "none";
  // FP32 and FP16 (verified on 2026-12-04; its tensor-core and half2
  // kernels are not yet): every timed and chosen kernel is a verified one.
  for (Precision precision : {Precision::kFp32, Precision::kFp16}) {
    SCOPED_TRACE(precision_name(precision));
    opt.precision = precision;
    Detector d(path, opt);
    for (const LayerTactic& t : d.layer_tactics()) {
      EXPECT_TRUE(verified_feature(t.tactic).verified()) << t.layer << ": " << t.tactic;
      for (const auto& m : t.ms) EXPECT_TRUE(verified_feature(m.first).verified()) << t.layer << " timed " << m.first;
    }
    // The whole-frame graph (verified) at the second frame of the same size.
    for (int frame = 0; frame < 3; ++frame) d.detect_batch({scene()});
    EXPECT_NE(d.backend_description().find("whole frame replayed"), std::string::npos) << d.backend_description();
  }
  opt.precision = Precision::kFp32;
  DetectorOptions zero_copy = opt;
  zero_copy.zero_copy_input = true;  // verified; asked for by name
  EXPECT_NO_THROW(Detector(path, zero_copy));
}

// FP16 (FP16 activation storage; on sm_70+ also tensor-core convs) against
// FP32 on the trained demo model: every confident detection survives with
// the same class, nearly the same box and score, and the heads stay close.
TEST(GpuBackend, Fp16ConvsKeepTheDemoModelsDetections) {
  SKIP_WITHOUT_GPU();
  const std::string model = std::string(TX2YOLO_SOURCE_DIR) + "/models/demo.safetensors";
  DetectorOptions o32;
  o32.backend = BackendKind::kCuda;
  o32.tactics = TacticMode::kHeuristic;  // the heuristic picks the tensor-core kernel for every GEMM layer at fp16
  DetectorOptions o16 = o32;
  o16.precision = Precision::kFp16;
  o16.unverified = true;  // the tensor-core and half2 kernels too (awaiting racecheck)
  Detector d32(model, o32), d16(model, o16);
  EXPECT_NE(d16.backend_description().find("fp16"), std::string::npos) << d16.backend_description();
  int wmma = 0;
  for (const LayerTactic& t : d16.layer_tactics()) wmma += t.tactic == "wmma-fp16";
  if (cuda_device_info(0).sm_major >= 7) {
    EXPECT_GT(wmma, 10) << "layers on the tensor-core kernel";
  } else {
    EXPECT_EQ(wmma, 0) << "no tensor cores before sm_70";
  }
  // The demo data's kind of scene: a red circle, a green square, a blue triangle.
  cv::Mat img(360, 480, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::circle(img, {110, 110}, 55, cv::Scalar(40, 40, 210), cv::FILLED, cv::LINE_AA);
  cv::rectangle(img, cv::Rect(270, 60, 110, 110), cv::Scalar(40, 190, 40), cv::FILLED);
  const cv::Point tri[3] = {{240, 210}, {170, 330}, {310, 330}};
  cv::fillConvexPoly(img, tri, 3, cv::Scalar(200, 60, 40), cv::LINE_AA);
  const auto a = d32.detect(img), b = d16.detect(img);
  for (const HeadConfig& head : d32.config().heads) {
    const double err = relative_l2(d16.tensor(head.tensor), d32.tensor(head.tensor));
    EXPECT_LT(err, 2e-2) << head.tensor;
    std::printf("%s: fp16 vs fp32 relative L2 %.2e\n", head.tensor.c_str(), err);
  }
  auto has_twin = [](const Detection& d, const std::vector<Detection>& others) {
    for (const Detection& e : others)
      if (e.class_id == d.class_id && iou(d, e) >= 0.9f && std::fabs(d.score - e.score) <= 0.02f) return true;
    return false;
  };
  int confident = 0;
  for (const Detection& d : a) {
    if (d.score < 0.3f) continue;
    ++confident;
    EXPECT_TRUE(has_twin(d, b)) << "fp32 class " << d.class_id << " score " << d.score << " lost at fp16";
  }
  for (const Detection& d : b) {
    if (d.score >= 0.3f) {
      EXPECT_TRUE(has_twin(d, a)) << "fp16 class " << d.class_id << " score " << d.score << " new";
    }
  }
  ASSERT_GT(confident, 0) << "the demo model found nothing in the scene: the comparison would be empty";
  std::printf("%d confident fp32 detections, each kept at fp16\n", confident);
}

TEST(GpuBackend, AutoPicksCudaAndDebugSyncRuns) {
  SKIP_WITHOUT_GPU();
  testing_util::TempDir dir;
  const std::string model = write_random_model(dir, ArchitectureSpec::scaled(0.125, 3), 9);
  DetectorOptions opt;
  opt.input_h = opt.input_w = 320;
  opt.debug_sync = true;
  Detector det(model, opt);
  EXPECT_EQ(det.backend(), BackendKind::kCuda);
  EXPECT_NE(det.backend_description().find("debug sync"), std::string::npos) << det.backend_description();
  EXPECT_NE(det.backend_description().find("no CUDA graph (off)"), std::string::npos) << det.backend_description();
  EXPECT_FALSE(det.detect(scene()).empty());
  opt.device = 99;
  EXPECT_THROW(Detector(model, opt), Error);
}

}  // namespace
}  // namespace tx2yolo

#endif  // TX2YOLO_WITH_CUDA
