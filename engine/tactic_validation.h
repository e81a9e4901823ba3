// Validated tactics: when the tactic timer times a candidate kernel on a
// layer, it also compares that kernel's output on the timing input with the
// reference kernel's output (gemm64, the kernel verified on GPUs, on the
// same activation storage). A candidate that disagrees (kernels/tolerance.h,
// AgreementBound) is never chosen; the choice records it with the reason.
//
// This is plain C++ over callbacks, so that the same code serves the CUDA
// backend (which launches kernels on the arena's buffers) and the CPU tests
// (which plant a wrong kernel as a test double).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/tolerance.h"

namespace tx2yolo {

struct TacticCandidate {
  std::string name;
  // Runs the kernel on the layer's buffers (warm-up, then timed launches)
  // and returns the mean time of one launch in ms; the output is then that
  // of the last launch. May throw Error.
  std::function<double()> time;
  // Whether the candidate agrees to the FP16-operand bound (it rounds its
  // operands to FP16) rather than the storage's.
  bool fp16_operands = false;
  // A failure of this candidate to run drops it instead of failing the
  // layer (cuDNN may refuse at run time what it planned).
  bool may_fail = false;
};

struct ValidatedChoice {
  std::string chosen;                           // "" when every candidate was rejected
  std::map<std::string, double> ms;             // every candidate that ran
  std::map<std::string, std::string> rejected;  // candidate -> why it disagreed
  // Set when the reference kernel's own output was not finite (e.g. beyond
  // FP16's range on this random input): nothing could be validated, no
  // candidate ran, and chosen is "".
  std::string reference_problem;
};

struct TacticValidation {
  std::string reference;                       // the reference kernel's name (run once, not timed)
  std::function<void()> run_reference;         // writes the reference output
  std::function<void()> poison_output;         // NaN into the output before each kernel
  std::function<std::vector<float>()> read_output;  // the layer's output (its own channels)
  bool fp16_storage = false;
};

// Runs the reference once and reads it; then, for each candidate, poisons
// the output, times it and compares its output with the reference's. The
// fastest candidate that agrees is chosen. A reference whose output is not
// finite is reported in reference_problem (the caller then runs the
// reference kernel unvalidated and says so).
ValidatedChoice time_and_validate(const std::vector<TacticCandidate>& candidates, const TacticValidation& v);

// The bound a candidate must meet against the reference.
AgreementBound tactic_agreement_bound(bool fp16_storage, bool fp16_operands);

}  // namespace tx2yolo
