// Shared by the fuzz targets (fuzz/*.cpp, libFuzzer): each runs one reader
// of untrusted bytes. A tx2yolo::Error is the reader refusing the input,
// which is fine; any other exception escapes and fails the target, as do a
// crash, a sanitizer report (ASan, UBSan) and an input over the time limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace tx2yolo {
namespace fuzz {

// Runs `f`, swallowing only tx2yolo::Error.
template <typename F>
int run(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
  return 0;
}

inline std::string text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

inline std::vector<std::uint8_t> bytes(const std::uint8_t* data, std::size_t size) {
  return std::vector<std::uint8_t>(data, data + size);
}

}  // namespace fuzz
}  // namespace tx2yolo
