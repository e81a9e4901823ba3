// The GPU multiclass NMS against the CPU reference: identical detections
// (same boxes, scores, classes and order) on crowded random boxes with tied
// scores, both IoU conventions, nms_top_k and keep_top_k limits, the
// background label, and the capacity overflow. Skips without a GPU.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/multiclass_nms.h"
#include "tests/gpu_test_util.h"

#ifdef TX2YOLO_WITH_CUDA

namespace tx2yolo {
namespace {

using testing_util::to_device;

struct Problem {
  int M = 0, C = 0;
  std::vector<float> boxes, scores;
};

// Crowded boxes (many overlaps) with scores quantized to 1/64 so that ties
// are common; some boxes inverted or of zero area.
Problem make_problem(int M, int C, std::uint32_t seed, float zero_fraction) {
  Problem p;
  p.M = M;
  p.C = C;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pos(0.f, 300.f), size(2.f, 80.f), unit(0.f, 1.f);
  for (int m = 0; m < M; ++m) {
    const float x = pos(rng), y = pos(rng);
    float w = size(rng), h = size(rng);
    const float kind = unit(rng);
    if (kind < 0.02f) w = -w;        // inverted
    else if (kind < 0.04f) h = 0.f;  // zero area
    p.boxes.insert(p.boxes.end(), {x, y, x + w, y + h});
  }
  for (int i = 0; i < M * C; ++i)
    p.scores.push_back(unit(rng) < zero_fraction ? 0.f : std::floor(unit(rng) * 64.f) / 64.f);
  return p;
}

void expect_identical(const std::vector<Detection>& gpu, const std::vector<Detection>& cpu) {
  ASSERT_EQ(gpu.size(), cpu.size());
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(gpu[i].class_id, cpu[i].class_id) << "row " << i;
    EXPECT_EQ(gpu[i].box_index, cpu[i].box_index) << "row " << i;
    EXPECT_EQ(gpu[i].score, cpu[i].score) << "row " << i;
    EXPECT_EQ(gpu[i].x1, cpu[i].x1) << "row " << i;
    EXPECT_EQ(gpu[i].y2, cpu[i].y2) << "row " << i;
  }
}

std::vector<Detection> run_gpu(const MulticlassNmsParams& params, const Problem& p, long long* overflow,
                               int capacity = kDefaultNmsCapacity) {
  auto boxes = to_device(p.boxes), scores = to_device(p.scores);
  MulticlassNmsCuda nms(params, p.M, p.C, capacity);
  std::vector<Detection> out = nms.run(boxes.data(), scores.data(), nullptr, overflow);
  // A second run on the same workspace gives the same answer.
  long long again_overflow = 0;
  const std::vector<Detection> again = nms.run(boxes.data(), scores.data(), nullptr, &again_overflow);
  EXPECT_EQ(again.size(), out.size());
  EXPECT_EQ(again_overflow, *overflow);
  return out;
}

std::vector<Detection> run_cpu(const MulticlassNmsParams& params, const Problem& p) {
  return multiclass_nms_cpu(params, p.boxes.data(), p.scores.data(), p.M, p.C);
}

TEST(GpuNms, IdenticalToCpuOnCrowdedTiedBoxes) {
  SKIP_WITHOUT_GPU();
  const Problem p = make_problem(3000, 20, 1, 0.9f);
  MulticlassNmsParams params;  // Paddle's: 0.01, top 1000, keep 100, IoU 0.45, normalized
  long long overflow = -1;
  const auto gpu = run_gpu(params, p, &overflow);
  EXPECT_EQ(overflow, 0);
  const auto cpu = run_cpu(params, p);
  EXPECT_EQ(cpu.size(), 100u);
  expect_identical(gpu, cpu);
}

TEST(GpuNms, IdenticalWithThePlusOneConventionAndNoKeepLimit) {
  SKIP_WITHOUT_GPU();
  const Problem p = make_problem(2000, 7, 2, 0.8f);
  MulticlassNmsParams params;
  params.normalized = false;
  params.keep_top_k = -1;
  params.nms_threshold = 0.3f;
  long long overflow = 0;
  const auto cpu = run_cpu(params, p);
  EXPECT_GT(cpu.size(), 100u);
  expect_identical(run_gpu(params, p, &overflow), cpu);
}

TEST(GpuNms, IdenticalWithSmallTopKAndKeepTopKTies) {
  SKIP_WITHOUT_GPU();
  const Problem p = make_problem(1500, 12, 3, 0.5f);
  for (int top_k : {0, 1, 37, 64, 65, 4096}) {
    for (int keep : {0, 5, 100, -1}) {
      MulticlassNmsParams params;
      params.nms_top_k = top_k;
      params.keep_top_k = keep;
      long long overflow = 0;
      SCOPED_TRACE(::testing::Message() << "nms_top_k " << top_k << ", keep_top_k " << keep);
      expect_identical(run_gpu(params, p, &overflow), run_cpu(params, p));
    }
  }
}

TEST(GpuNms, SkipsTheBackgroundLabelAndHandlesNoCandidates) {
  SKIP_WITHOUT_GPU();
  const Problem p = make_problem(500, 4, 4, 0.5f);
  MulticlassNmsParams params;
  params.background_label = 2;
  long long overflow = 0;
  const auto gpu = run_gpu(params, p, &overflow);
  for (const Detection& d : gpu) EXPECT_NE(d.class_id, 2);
  expect_identical(gpu, run_cpu(params, p));
  params.score_threshold = 0.999f;  // nothing passes
  EXPECT_TRUE(run_gpu(params, p, &overflow).empty());
}

TEST(GpuNms, OverflowIsCountedAndReported) {
  SKIP_WITHOUT_GPU();
  const Problem p = make_problem(4000, 3, 5, 0.f);  // ~11800 candidates above 0.01
  long long candidates = 0;
  for (float s : p.scores) candidates += s > 0.01f;
  ASSERT_GT(candidates, 2048);
  MulticlassNmsParams params;
  long long overflow = 0;
  run_gpu(params, p, &overflow, 2048);
  EXPECT_EQ(overflow, candidates - 2048);
  expect_identical(run_gpu(params, p, &overflow, 1 << 14), run_cpu(params, p));
  EXPECT_EQ(overflow, 0);
}

TEST(GpuNms, UnsupportedSettingsAreRefusedWithAReason) {
  SKIP_WITHOUT_GPU();
  MulticlassNmsParams params;
  std::string why;
  params.nms_eta = 0.9f;
  EXPECT_FALSE(multiclass_nms_cuda_supports(params, 100, 3, kDefaultNmsCapacity, &why));
  EXPECT_NE(why.find("nms_eta"), std::string::npos);
  params.nms_eta = 1.f;
  params.nms_top_k = -1;
  EXPECT_FALSE(multiclass_nms_cuda_supports(params, 100, 3, kDefaultNmsCapacity, &why));
  params.nms_top_k = 1000;
  EXPECT_FALSE(multiclass_nms_cuda_supports(params, 100, 3, 3000, &why));  // not a power of two
  EXPECT_THROW(MulticlassNmsCuda(params, 100, 3, 3000), Error);
  EXPECT_TRUE(multiclass_nms_cuda_supports(params, 100, 3, 4096, &why)) << why;
}

}  // namespace
}  // namespace tx2yolo

#endif  // TX2YOLO_WITH_CUDA
