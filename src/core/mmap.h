// Read-only memory-mapped files.
//
//   MappedFile f("model.safetensors");      // throws Error naming the file if it cannot be mapped
//   const uint8_t* p = f.data(); size_t n = f.size();
//
// The mapping lives as long as the object; an empty file maps to size 0 and data() == nullptr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnscope {

class MappedFile {
  public:
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Map every page now, in one call, rather than one page fault at a time when first read:
    // for files that will be read whole (a model's weights before a run). Best effort.
    void prefault() const;
    // How bytes [offset, offset + length) will be used, so the kernel can act on it: `soon` starts
    // reading them in from disk (asynchronously), `now` maps them in one call before a full read,
    // `done` drops them from this process's memory (the page cache keeps them: a later read costs a
    // page fault, not a disk read) so that streaming a file larger than memory keeps RSS flat.
    // Best effort; the range is widened to whole pages.
    enum class Use { soon, now, done };
    void advise(size_t offset, size_t length, Use use) const;

  private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

} // namespace attnscope
