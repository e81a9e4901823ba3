#include "core/sha256.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/evp.h>

#include "core/error.h"

namespace tx2yolo {

namespace {

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

DigestContext begin_digest() {
  DigestContext ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  TX2_REQUIRE(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "sha256: cannot initialise OpenSSL");
  return ctx;
}

std::string finish_digest_hex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  TX2_REQUIRE(EVP_DigestFinal_ex(ctx, digest, &len) == 1, "sha256: OpenSSL digest failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace

std::string sha256_hex(const void* data, std::size_t size) {
  DigestContext ctx = begin_digest();
  TX2_REQUIRE(EVP_DigestUpdate(ctx.get(), data, size) == 1, "sha256: OpenSSL digest failed");
  return finish_digest_hex(ctx.get());
}

std::string sha256_hex_of_files(const std::vector<std::string>& paths) {
  DigestContext ctx = begin_digest();
  std::vector<unsigned char> buffer(1 << 20);
  for (const std::string& path : paths) {
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    TX2_REQUIRE(f != nullptr, path, ": cannot open (", std::strerror(errno), ")");
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), f.get())) > 0)
      TX2_REQUIRE(EVP_DigestUpdate(ctx.get(), buffer.data(), n) == 1, "sha256: OpenSSL digest failed");
    TX2_REQUIRE(!std::ferror(f.get()), path, ": read error");
  }
  return finish_digest_hex(ctx.get());
}

}  // namespace tx2yolo
