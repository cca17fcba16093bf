// Streaming safetensors writer: every tensor is declared up front, the header is written first,
// and each tensor's bytes go to their place as soon as they exist, so memory does not grow with
// the number of tensors. The file carries a temporary name until finish() has seen every tensor.
//
//   SafetensorsWriter w("out/attention_data_weights.safetensors", DType::f16, {{"format", "pt"}});
//   w.declare("seq0.blocks.0.attn.hook_pattern", {12, 7, 7});
//   ...
//   w.begin();                                    // writes the header
//   w.write("seq0.blocks.0.attn.hook_pattern", view);   // any order; f32 converted to f16 here
//   w.finish();                                   // all written? then rename into place
#pragma once

#include "core/files.h"
#include "core/tensor.h"

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnscope {

class SafetensorsWriter {
  public:
    // dtype: F32 or F16 (the stored type; data is always given as f32).
    SafetensorsWriter(std::string path, DType dtype, std::map<std::string, std::string> metadata = {});
    void declare(const std::string& name, const std::vector<int64_t>& shape);
    void begin();
    void write(const std::string& name, const TensorView& value);
    void finish();
    const std::string& path() const { return path_; }
    size_t n_tensors() const { return order_.size(); }
    uint64_t bytes() const { return data_offset_ + data_size_; }

  private:
    struct Entry {
        std::vector<int64_t> shape;
        uint64_t begin = 0, end = 0;
        bool written = false;
    };
    std::string path_;
    DType dtype_;
    std::map<std::string, std::string> metadata_;
    std::vector<std::string> order_;
    std::unordered_map<std::string, Entry> entries_;
    std::unique_ptr<AtomicFile> file_;
    uint64_t data_offset_ = 0, data_size_ = 0;
    std::vector<float> scratch_;
    std::vector<uint16_t> half_;
};

} // namespace attnscope
