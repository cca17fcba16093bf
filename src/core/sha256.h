// SHA-256 (FIPS 180-4), streaming.
//
//   Sha256 h; h.update(data, n); ...; std::string hex = h.hex_digest();
//   std::string hex = sha256_file("model.safetensors");   // reads in 1 MiB blocks
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnscope {

class Sha256 {
  public:
    Sha256();
    void update(const void* data, size_t n);
    std::string hex_digest(); // finishes the hash; call once

  private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_file(const std::string& path);

} // namespace attnscope
