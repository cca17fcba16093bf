// Reading safetensors files: memory-mapped, validated before anything is trusted.
//
//   SafetensorsFile st("model.safetensors");
//   const TensorInfo* t = st.find("wte.weight");           // nullptr when absent
//   std::vector<float> storage;
//   const float* w = st.as_f32(*t, storage);                // zero-copy for aligned F32,
//                                                           // converted into `storage` for F16/BF16
//   std::string v = st.metadata().at("format");
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the data area; offsets are relative to the start of the data area.
#pragma once

#include "core/mmap.h"
#include "core/tensor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

struct TensorInfo {
    std::string name;
    DType dtype = DType::f32;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0; // byte range within the data area

    int64_t numel() const;
};

// Limits that keep a hostile file from exhausting memory before it is rejected.
constexpr uint64_t kMaxSafetensorsHeader = uint64_t(100) << 20; // 100 MB of JSON

// Validated index of a safetensors byte image (used by SafetensorsFile, and directly by fuzzers).
struct SafetensorsIndex {
    std::vector<TensorInfo> tensors;             // in file order (sorted by begin)
    std::map<std::string, std::string> metadata; // "__metadata__"
    uint64_t data_offset = 0;                    // 8 + header length

    // Validate and index `size` bytes; `label` names the source in errors. Checks: header length
    // within the file and the limit, header a JSON object, known dtypes, non-negative shapes,
    // shape x dtype size == byte range, ranges inside the data area and non-overlapping.
    static SafetensorsIndex parse(const uint8_t* data, size_t size, const std::string& label);
};

class SafetensorsFile {
  public:
    explicit SafetensorsFile(const std::string& path);

    const std::string& path() const { return file_.path(); }
    const std::vector<TensorInfo>& tensors() const { return index_.tensors; }
    const std::map<std::string, std::string>& metadata() const { return index_.metadata; }
    const TensorInfo* find(const std::string& name) const;
    // See MappedFile::prefault.
    void prefault() const { file_.prefault(); }

    // Raw bytes of a tensor (little-endian, as stored).
    const uint8_t* raw(const TensorInfo& t) const { return file_.data() + index_.data_offset + t.begin; }

    // The tensor as f32: a pointer into the mapping when it is F32 and 4-byte aligned, otherwise
    // converted (F16, BF16, F64) or copied into `storage`. Other dtypes throw an Error.
    // `first` and `count` (elements; count -1 = to the end) take a part, e.g. one head of [H, T, T].
    const float* as_f32(const TensorInfo& t, std::vector<float>& storage, int64_t first = 0,
                        int64_t count = -1) const;
    // See MappedFile::advise: the bytes of a tensor.
    void advise(const TensorInfo& t, MappedFile::Use use) const {
        file_.advise(size_t(index_.data_offset + t.begin), size_t(t.end - t.begin), use);
    }

  private:
    MappedFile file_;
    SafetensorsIndex index_;
    std::map<std::string, size_t> by_name_;
};

} // namespace attnscope
