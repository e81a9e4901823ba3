#include "weights/json_guard.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "weights/model_file.h"  // kMaxJsonDepth

namespace tx2yolo {

namespace {

// Deepest nesting of [ and { outside strings. Stops counting once past
// `limit`. Unbalanced brackets are left for the parser to report.
int bracket_depth(const std::string& text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

namespace {

// A SAX pass over the text before the document is built: counts the values
// (stopping at kMaxJsonValues) and finds duplicate keys, in time linear in
// the text. (nlohmann's callback parser, used before, rescans the parent
// container at every end of an object: quadratic in its size.)
class CheckingSax {
 public:
  using json = nlohmann::json;
  std::string problem;  // the first one found ("" when none)

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool string(json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }
  bool start_object(std::size_t) {
    keys_.emplace_back();
    return value();
  }
  bool key(json::string_t& k) {
    if (!keys_.empty() && !keys_.back().insert(k).second) {
      problem = cat("duplicate key ", json(k).dump(), " in a JSON object");
      return false;
    }
    return true;
  }
  bool end_object() {
    if (!keys_.empty()) keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return value(); }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    problem = cat("malformed JSON: ", e.what());
    return false;
  }

 private:
  bool value() {
    if (++values_ <= kMaxJsonValues) return true;
    problem = cat("more than ", kMaxJsonValues, " JSON values (the limit for one document)");
    return false;
  }
  std::size_t values_ = 0;
  std::vector<std::unordered_set<std::string>> keys_;  // one set per open object
};

}  // namespace

nlohmann::json parse_json_checked(const std::string& text, const std::string& what) {
  if (bracket_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    throw Error(cat(what, ": JSON nesting deeper than ", kMaxJsonDepth));
  }
  CheckingSax sax;
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text, &sax);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(what, ": malformed JSON: ", e.what()));
  }
  if (!ok) throw Error(cat(what, ": ", sax.problem.empty() ? std::string("malformed JSON") : sax.problem));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range 406 for a number too large for a double.
    throw Error(cat(what, ": malformed JSON: ", e.what()));
  }
}

double json_float(float f) {
  if (!std::isfinite(f)) return static_cast<double>(f);
  for (int digits = 1; digits <= 9; ++digits) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.*g", digits, static_cast<double>(f));
    const double d = std::strtod(text, nullptr);
    if (static_cast<float>(d) == f) return d;
  }
  return static_cast<double>(f);
}

}  // namespace tx2yolo
