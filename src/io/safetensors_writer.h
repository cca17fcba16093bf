// Streaming safetensors writer: every tensor is declared up front, the header is written first,
// and each tensor's bytes go to their place as soon as they exist, so memory does not grow with
// the number of tensors. The file carries a temporary name until finish() has seen every tensor.
//
//   SafetensorsWriter w("out/attention_data_weights.safetensors", DType::f16, {{"format", "pt"}});
//   size_t i = w.declare("seq0.blocks.0.attn.hook_pattern", {12, 7, 7});   // i = 0, 1, 2, ...
//   ...
//   w.begin();                                    // writes the header
//   w.write(i, view);                             // any order; f32 converted to f16 here
//   w.finish();                                   // all written? then rename into place
#pragma once

#include "core/files.h"
#include "core/tensor.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnscope {

class SafetensorsWriter {
  public:
    // dtype: F32 or F16 (the stored type; data is always given as f32).
    SafetensorsWriter(std::string path, DType dtype, std::map<std::string, std::string> metadata = {});
    // Declare the next tensor; returns its index (declaration order), used by write().
    size_t declare(const std::string& name, const std::vector<int64_t>& shape);
    // Before begin(): write under the fixed temporary name ".<name>.tmp-resumable", and with
    // `reopen` continue the partial file an interrupted run left (the header is rewritten, with
    // the same bytes, and the data written so far is kept).
    void set_resumable(bool reopen);
    // Before begin(): see AtomicFile::set_durable (default true).
    void set_durable(bool durable) { durable_ = durable; }
    // Writes the header. The file is streamed (AtomicFile::set_streamed): write() copies the
    // tensor and returns while a background thread puts it in the file, so an I/O error (disk
    // full, ...) is thrown by a later write(), sync() or finish().
    void begin();
    void write(size_t index, const TensorView& value);
    // Write elements [first, first + n) of tensor `index` (row-major; data given as f32): a
    // tensor that arrives in pieces, such as one head of an [H, T, T] pattern at a time. Safe
    // to call from several threads at once for pieces that do not overlap, while no other call
    // runs. The tensor counts as written once its pieces add up to its size.
    void write_part(size_t index, int64_t first, const float* data, int64_t n);
    // Resuming: the first `count` tensors (declaration order) are already in the partial file.
    void assume_written(size_t count);
    // Flush what was written to disk (so progress recorded afterwards holds after a crash).
    void sync();
    // On failure, leave the partial file for a later resume instead of removing it.
    void keep_partial();
    void finish();
    const std::string& path() const { return path_; }
    size_t n_tensors() const { return entries_.size(); }
    uint64_t bytes() const { return data_offset_ + data_size_; }

  private:
    // Kept compact (48 bytes + the name in one arena): a capture declares one entry per
    // (sequence, layer, hook), and memory must not grow much with the corpus.
    struct Entry {
        uint64_t begin = 0, end = 0;
        uint32_t name_off = 0, name_len = 0;
        int32_t ne[kMaxDims] = {0, 0, 0, 0};
        uint8_t n_dim = 0;
        bool written = false;
        std::vector<int64_t> shape() const { return {ne, ne + n_dim}; }
    };
    std::string name_of(const Entry& e) const { return names_.substr(e.name_off, e.name_len); }
    std::string path_;
    DType dtype_;
    std::map<std::string, std::string> metadata_;
    std::vector<Entry> entries_; // in declaration order
    std::string names_;          // all names, back to back
    std::unique_ptr<AtomicFile> file_;
    bool resumable_ = false, reopen_ = false, durable_ = true;
    uint64_t data_offset_ = 0, data_size_ = 0;
    std::vector<float> scratch_;
    std::mutex parts_mutex_;                         // guards part_elems_ and `written` in write_part
    std::unordered_map<size_t, int64_t> part_elems_; // tensors begun by write_part: elements so far
};

} // namespace attnscope
