// SHA-256 of files, hex-encoded, for model provenance (OpenSSL's libcrypto).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tx2yolo {

// SHA-256 over the bytes of the files in the order given (one file: its
// ordinary SHA-256). Throws Error naming a file that cannot be read.
std::string sha256_hex_of_files(const std::vector<std::string>& paths);
// SHA-256 of bytes in memory, hex-encoded.
std::string sha256_hex(const void* data, std::size_t size);

}  // namespace tx2yolo
