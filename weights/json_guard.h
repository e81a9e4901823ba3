// Bounded JSON parsing for text that comes from files: the model file's header
// and the graph/config/provenance documents stored in its __metadata__.
//
// nlohmann's parser is recursive, so a hostile "[[[[..." would exhaust the
// stack; parse_json_checked first counts the bracket nesting (outside JSON
// strings) and refuses anything deeper than kMaxJsonDepth (64, declared in
// weights/model_file.h) before parsing.
// It also refuses duplicate object keys, which nlohmann would silently
// collapse to the last value (a header naming one tensor twice is ambiguous),
// and documents of more than kMaxJsonValues values. Both checks are one SAX
// pass, linear in the text, before the document is built.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tx2yolo {

// Parses `text` as one JSON document. `what` names the text in error messages:
//   "<what>: JSON nesting deeper than 64"
//   "<what>: malformed JSON: <parser message>"
//   "<what>: duplicate key \"<key>\" in a JSON object"
//   "<what>: more than 1000000 JSON values (the limit for one document)"
nlohmann::json parse_json_checked(const std::string& text, const std::string& what);

// For large documents of which only a part is needed (a COCO annotation
// file's categories or boxes): one SAX pass that builds only the top-level
// members named in `members`, leaving out, at any depth inside them, every
// object member whose key is in `skip_keys` (e.g. "segmentation"). Nesting is
// limited as above; the 1,000,000-value limit counts only the values kept.
// Duplicate keys are refused among the kept ones. A member that is absent is
// absent from the result, which is an object.
nlohmann::json parse_json_members(const std::string& text, const std::string& what,
                                  const std::vector<std::string>& members,
                                  const std::vector<std::string>& skip_keys = {});

// Refuses text whose bracket nesting is deeper than kMaxJsonDepth.
void check_json_depth(const std::string& text, const std::string& what);

// What every checked SAX handler shares: the first problem found, and the
// parser's own errors reported as one.
struct SaxProblem {
  std::string problem;  // "" while none
  bool fail(const std::string& why) {
    if (problem.empty()) problem = why;
    return false;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    return fail(cat("malformed JSON: ", e.what()));
  }
};

// One SAX pass over `text` after the nesting check; a SAX handler that
// returns false leaves its reason in `sax->problem`. Throws
// Error("<what>: <problem, or the parser's message>").
template <typename Sax>
void sax_parse_checked(const std::string& text, const std::string& what, Sax* sax) {
  check_json_depth(text, what);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text, sax);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(what, ": malformed JSON: ", e.what()));
  }
  if (!ok) throw Error(cat(what, ": ", sax->problem.empty() ? std::string("malformed JSON") : sax->problem));
}

// The double with the shortest decimal form (at most 9 significant digits)
// that converts back to exactly `f`, so that JSON shows 0.45 rather than
// 0.44999998807907104 and still reads back bit-exact as a float.
double json_float(float f);

}  // namespace tx2yolo
