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
class CheckingSax : public SaxProblem {
 public:
  using json = nlohmann::json;

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

void check_json_depth(const std::string& text, const std::string& what) {
  if (bracket_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    throw Error(cat(what, ": JSON nesting deeper than ", kMaxJsonDepth));
  }
}

nlohmann::json parse_json_checked(const std::string& text, const std::string& what) {
  CheckingSax sax;
  sax_parse_checked(text, what, &sax);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range 406 for a number too large for a double.
    throw Error(cat(what, ": malformed JSON: ", e.what()));
  }
}

namespace {

// Builds the kept members (parse_json_members). `stack_` holds the open
// containers being built; `skip_` counts the open containers being skipped
// (or 1 for a skipped scalar's key until its value passes).
class MemberSax : public SaxProblem {
 public:
  using json = nlohmann::json;
  MemberSax(const std::vector<std::string>& members, const std::vector<std::string>& skip_keys)
      : members_(members.begin(), members.end()), skip_keys_(skip_keys.begin(), skip_keys.end()) {}
  json result = json::object();

  bool null() { return scalar(json(nullptr)); }
  bool boolean(bool b) { return scalar(json(b)); }
  bool number_integer(json::number_integer_t v) { return scalar(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return scalar(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return scalar(json(v)); }
  bool string(json::string_t& v) { return scalar(json(v)); }
  bool binary(json::binary_t&) { return scalar(json()); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (skipping_ > 0) return true;
    if (level_ == 1) {  // a top-level member: kept or skipped whole
      if (!members_.count(k)) {
        pending_skip_ = true;
        return true;
      }
      if (result.contains(k)) return fail(cat("duplicate key ", json(k).dump(), " in a JSON object"));
      member_ = k;
      return true;
    }
    if (skip_keys_.count(k)) {
      pending_skip_ = true;
      return true;
    }
    if (!stack_.empty() && stack_.back().contains(k)) return fail(cat("duplicate key ", json(k).dump(), " in a JSON object"));
    key_ = k;
    return true;
  }

 private:
  bool count() {
    if (++values_ <= kMaxJsonValues) return true;
    return fail(cat("more than ", kMaxJsonValues, " JSON values in the parts read (the limit for one document)"));
  }
  // Where a finished value goes: the open container, or the result.
  void place(json v) {
    if (stack_.empty()) {
      result[member_] = std::move(v);
    } else if (stack_.back().is_array()) {
      stack_.back().push_back(std::move(v));
    } else {
      stack_.back()[keys_.back()] = std::move(v);
    }
  }
  bool scalar(json v) {
    if (level_ == 0) return true;  // a top-level scalar document: nothing to keep
    if (skipping_ > 0) return true;
    if (pending_skip_) {
      pending_skip_ = false;
      return true;
    }
    if (level_ == 1) {
      if (!count()) return false;
      result[member_] = std::move(v);
      return true;
    }
    if (!count()) return false;
    if (stack_.back().is_object()) keys_.back() = key_;
    place(std::move(v));
    return true;
  }
  bool open(json v) {
    ++level_;
    if (level_ == 1) return true;  // the document itself
    if (skipping_ > 0 || pending_skip_) {
      pending_skip_ = false;
      ++skipping_;
      return true;
    }
    if (!count()) return false;
    if (!stack_.empty() && stack_.back().is_object()) keys_.back() = key_;
    stack_.push_back(std::move(v));
    keys_.emplace_back();
    return true;
  }
  bool close() {
    --level_;
    if (level_ == 0) return true;
    if (skipping_ > 0) {
      --skipping_;
      return true;
    }
    json done = std::move(stack_.back());
    stack_.pop_back();
    keys_.pop_back();
    place(std::move(done));
    return true;
  }

  std::set<std::string> members_, skip_keys_;
  std::vector<json> stack_;
  std::vector<std::string> keys_;  // per open container: the key its next member goes under
  std::string key_;                // the last key read inside a kept member
  std::string member_;             // the top-level member being kept
  int level_ = 0;                  // open containers, the document included
  int skipping_ = 0;
  bool pending_skip_ = false;
  std::size_t values_ = 0;
};

}  // namespace

nlohmann::json parse_json_members(const std::string& text, const std::string& what,
                                  const std::vector<std::string>& members, const std::vector<std::string>& skip_keys) {
  MemberSax sax(members, skip_keys);
  sax_parse_checked(text, what, &sax);
  return sax.result;
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
