#include "engine/tactic_validation.h"

#include <cmath>

#include "core/error.h"

namespace tx2yolo {

AgreementBound tactic_agreement_bound(bool fp16_storage, bool fp16_operands) {
  if (fp16_operands) return tolerance::kAgreeFp16Operands;
  return fp16_storage ? tolerance::kAgreeFp16Storage : tolerance::kAgreeFp32;
}

ValidatedChoice time_and_validate(const std::vector<TacticCandidate>& candidates, const TacticValidation& v) {
  v.poison_output();
  v.run_reference();
  const std::vector<float> reference = v.read_output();
  ValidatedChoice choice;
  std::size_t non_finite = 0;
  for (float x : reference) non_finite += !std::isfinite(x);
  if (non_finite > 0) {
    choice.reference_problem = cat("the reference kernel ", v.reference, " gave ", non_finite,
                                   " NaN or inf outputs on random input");
    return choice;
  }
  double best = -1;
  for (const TacticCandidate& c : candidates) {
    double ms = 0;
    v.poison_output();
    try {
      ms = c.time();
    } catch (const Error&) {
      if (c.may_fail) continue;
      throw;
    }
    choice.ms[c.name] = ms;
    const std::vector<float> out = v.read_output();
    std::string why;
    if (out.size() != reference.size()) {
      why = cat("wrote ", out.size(), " outputs, the reference ", reference.size());
    } else {
      why = measure_agreement(out.data(), reference.data(), out.size())
                .failure(tactic_agreement_bound(v.fp16_storage, c.fp16_operands));
    }
    if (!why.empty()) {
      choice.rejected[c.name] = why;
      continue;
    }
    if (best < 0 || ms < best) {
      best = ms;
      choice.chosen = c.name;
    }
  }
  return choice;
}

}  // namespace tx2yolo
