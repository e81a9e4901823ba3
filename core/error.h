// tx2yolo::Error: the one exception type library code throws.
//
// Every message says what was wrong and where (file, tensor, node, shape) and
// what was expected. `assert` is never used to check input; callers use
// TX2_REQUIRE or throw Error directly.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace tx2yolo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates any streamable values into one string: cat("tensor ", name, " has ", n).
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (void)std::initializer_list<int>{((os << std::forward<Args>(args)), 0)...};
  return os.str();
}

// Throws Error(cat(args...)) unless cond holds.
#define TX2_REQUIRE(cond, ...)                           \
  do {                                                   \
    if (!(cond)) throw ::tx2yolo::Error(::tx2yolo::cat(__VA_ARGS__)); \
  } while (0)

}  // namespace tx2yolo
