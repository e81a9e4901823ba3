#include "weights/json_guard.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
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

nlohmann::json parse_json_checked(const std::string& text, const std::string& what) {
  if (bracket_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    throw Error(cat(what, ": JSON nesting deeper than ", kMaxJsonDepth));
  }
  // One set of keys per open object; keys always belong to the innermost one.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  bool has_duplicate = false;
  const nlohmann::json::parser_callback_t track_keys =
      [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
          open_objects.emplace_back();
        } else if (event == Event::object_end) {
          if (!open_objects.empty()) open_objects.pop_back();
        } else if (event == Event::key && !open_objects.empty() && !has_duplicate) {
          const std::string& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second) {
            duplicate = key;
            has_duplicate = true;
          }
        }
        return true;
      };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, track_keys);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range 406 for a number too large for a double.
    throw Error(cat(what, ": malformed JSON: ", e.what()));
  }
  if (has_duplicate) {
    throw Error(cat(what, ": duplicate key ", nlohmann::json(duplicate).dump(), " in a JSON object"));
  }
  return j;
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
