// The tactic validator (engine/tactic_validation.h) on the CPU, with test
// doubles in the candidate list: the reference conv, a correct but slower
// kernel, and planted wrong ones (fastest of all, so that only validation
// keeps them out): a dropped bias, two swapped output channels, an output
// left partly unwritten, and one that fails to run.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "engine/tactic_validation.h"
#include "kernels/conv2d.h"
#include "tests/test_util.h"

namespace tx2yolo {
namespace {

struct Layer {
  Conv2dParams p = testing_util::make_params(13, 9, 11, 21, 3, 1, 1, 1, Activation::kLeakyRelu, 0.1f);
  std::vector<float> in = testing_util::random_floats(13 * 9 * 11, 1);
  std::vector<float> w = testing_util::random_floats(21 * 13 * 9, 2, -0.2f, 0.2f);
  std::vector<float> b = testing_util::random_floats(21, 3);
  std::vector<float> out = std::vector<float>(21 * 9 * 11);
};

TacticCandidate candidate(const std::string& name, double ms, std::function<void()> run) {
  TacticCandidate c;
  c.name = name;
  c.time = [ms, run] {
    run();
    return ms;
  };
  return c;
}

TacticValidation validation(Layer& l) {
  TacticValidation v;
  v.reference = "reference";
  v.run_reference = [&l] { conv2d_cpu(l.p, l.in.data(), l.w.data(), l.b.data(), l.out.data()); };
  v.poison_output = [&l] { std::fill(l.out.begin(), l.out.end(), std::numeric_limits<float>::quiet_NaN()); };
  v.read_output = [&l] { return l.out; };
  return v;
}

TEST(TacticValidation, PlantedWrongKernelsAreNeverChosen) {
  Layer l;
  const Conv2dParams p = l.p;
  const std::size_t plane = static_cast<std::size_t>(p.out_h) * p.out_w;
  std::vector<float> zero_bias(l.b.size(), 0.f);
  std::vector<TacticCandidate> c;
  c.push_back(candidate("slow-correct", 2.0, [&] { conv2d_cpu(p, l.in.data(), l.w.data(), l.b.data(), l.out.data()); }));
  c.push_back(candidate("no-bias", 0.1, [&] { conv2d_cpu(p, l.in.data(), l.w.data(), zero_bias.data(), l.out.data()); }));
  c.push_back(candidate("swapped-channels", 0.2, [&] {
    conv2d_cpu(p, l.in.data(), l.w.data(), l.b.data(), l.out.data());
    std::swap_ranges(l.out.begin() + 3 * plane, l.out.begin() + 4 * plane, l.out.begin() + 7 * plane);
  }));
  c.push_back(candidate("last-tile-unwritten", 0.3, [&] {
    const std::vector<float> poisoned = l.out;
    conv2d_cpu(p, l.in.data(), l.w.data(), l.b.data(), l.out.data());
    std::copy(poisoned.end() - 5, poisoned.end(), l.out.end() - 5);  // the poison stays in 5 outputs
  }));
  TacticCandidate fails = candidate("fails-to-run", 0.05, [] { throw Error("cannot plan"); });
  fails.may_fail = true;
  c.push_back(fails);
  c.push_back(candidate("fast-correct", 1.0, [&] { conv2d_cpu(p, l.in.data(), l.w.data(), l.b.data(), l.out.data()); }));

  const ValidatedChoice choice = time_and_validate(c, validation(l));
  EXPECT_EQ(choice.chosen, "fast-correct");
  ASSERT_EQ(choice.rejected.size(), 3u);
  EXPECT_NE(choice.rejected.at("no-bias").find("relative L2"), std::string::npos) << choice.rejected.at("no-bias");
  EXPECT_NE(choice.rejected.at("swapped-channels").find("relative L2"), std::string::npos);
  EXPECT_NE(choice.rejected.at("last-tile-unwritten").find("5 outputs NaN"), std::string::npos)
      << choice.rejected.at("last-tile-unwritten");
  EXPECT_EQ(choice.ms.count("fails-to-run"), 0u);  // dropped, not chosen, not an error
  EXPECT_EQ(choice.ms.size(), 5u);
  EXPECT_EQ(choice.rejected.count("slow-correct"), 0u);
}

// A single output off by a few times the output's RMS is caught by the
// elementwise part of the bound even where the relative L2 is small.
TEST(TacticValidation, OneWrongElementInABigOutputIsCaught) {
  std::vector<float> ref = testing_util::random_floats(200000, 5);
  std::vector<float> bad = ref;
  bad[12345] += 3.f;
  const Agreement a = measure_agreement(bad.data(), ref.data(), ref.size());
  EXPECT_LT(a.relative_l2, tolerance::kAgreeFp16Operands.relative_l2);  // under the loosest L2 bound ...
  EXPECT_NE(a.failure(tolerance::kAgreeFp16Operands), "");                // ... and still rejected
  EXPECT_EQ(measure_agreement(ref.data(), ref.data(), ref.size()).failure(tolerance::kAgreeFp32), "");
}

TEST(TacticValidation, FailingCandidateAndBrokenReference) {
  Layer l;
  std::vector<TacticCandidate> c = {candidate("broken", 1.0, [] { throw Error("launch failed"); })};
  EXPECT_THROW(time_and_validate(c, validation(l)), Error);
  // A reference that writes NaN (unwritten, or past FP16's range): nothing
  // can be validated, no candidate runs, and the choice says why.
  TacticValidation v = validation(l);
  v.run_reference = [] {};
  bool ran = false;
  const ValidatedChoice none = time_and_validate({candidate("any", 1.0, [&] { ran = true; })}, v);
  EXPECT_FALSE(ran);
  EXPECT_EQ(none.chosen, "");
  EXPECT_NE(none.reference_problem.find("NaN or inf"), std::string::npos) << none.reference_problem;
}

}  // namespace
}  // namespace tx2yolo
