// The streaming safetensors writer. The header (JSON, padded with spaces to a multiple of 8 so
// the data area is aligned) lists every tensor with its byte range; data is written with pwrite
// at those offsets, converted to f16 on the way when asked. finish() refuses to give the file
// its final name unless every declared tensor was written.
#include "io/safetensors_writer.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

namespace attnscope {

SafetensorsWriter::SafetensorsWriter(std::string path, DType dtype, std::map<std::string, std::string> metadata)
    : path_(std::move(path)), dtype_(dtype), metadata_(std::move(metadata)) {
    if (dtype_ != DType::f32 && dtype_ != DType::f16)
        throw Error(cat(path_, ": captures are stored as F32 or F16, not ", dtype_name(dtype_)));
}

size_t SafetensorsWriter::declare(const std::string& name, const std::vector<int64_t>& shape) {
    if (file_) throw Error(cat(path_, ": tensor '", name, "' declared after the header was written"));
    if (shape.size() > size_t(kMaxDims))
        throw Error(cat(path_, ": tensor '", name, "' has more than ", kMaxDims, " dimensions"));
    if (names_.size() + name.size() > UINT32_MAX) throw Error(cat(path_, ": too many tensors for one file"));
    Entry e;
    e.name_off = uint32_t(names_.size());
    e.name_len = uint32_t(name.size());
    names_ += name;
    e.n_dim = uint8_t(shape.size());
    int64_t n = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0 || shape[i] > INT32_MAX)
            throw Error(cat(path_, ": tensor '", name, "' has a dimension out of range"));
        n *= (e.ne[i] = int32_t(shape[i]));
    }
    e.begin = data_size_;
    e.end = data_size_ + uint64_t(n) * dtype_size(dtype_);
    data_size_ = e.end;
    entries_.push_back(e);
    return entries_.size() - 1;
}

void SafetensorsWriter::begin() {
    // The header is text made entry by entry, never a JSON document or one big string: a capture
    // declares tens of thousands of tensors. A first pass measures it (the data area starts
    // after it), a second writes it out in chunks.
    auto entry_text = [&](const Entry& e) {
        std::string t = nlohmann::json(name_of(e)).dump() + ":{\"dtype\":\"" + dtype_name(dtype_) + "\",\"shape\":[";
        for (int i = 0; i < e.n_dim; ++i)
            t += (i ? "," : "") + std::to_string(e.ne[i]);
        return t + "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
    };
    const std::string head = "{" + (metadata_.empty() ? "" : "\"__metadata__\":" + nlohmann::json(metadata_).dump());
    uint64_t n = head.size() + 1; // + the closing brace
    bool first = metadata_.empty();
    for (const Entry& e : entries_)
        n += entry_text(e).size() + (first ? 0 : 1), first = false;
    const uint64_t padded = (n + 7) / 8 * 8;

    file_ = std::make_unique<AtomicFile>(path_, resumable_, reopen_);
    file_->set_durable(durable_);
    file_->set_streamed(); // the caller computes while the tensors go to the file
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = uint8_t(padded >> (8 * i));
    file_->write_at(0, len, 8);
    uint64_t off = 8;
    std::string chunk = head;
    first = metadata_.empty();
    for (const Entry& e : entries_) {
        if (!first) chunk += ',';
        first = false;
        chunk += entry_text(e);
        if (chunk.size() >= (1 << 16)) {
            file_->write_at(off, chunk.data(), chunk.size());
            off += chunk.size();
            chunk.clear();
        }
    }
    chunk += '}';
    chunk.append(size_t(padded - n), ' '); // pad so the data area is 8-byte aligned
    file_->write_at(off, chunk.data(), chunk.size());
    data_offset_ = 8 + padded;
}

void SafetensorsWriter::write(size_t index, const TensorView& value) {
    if (!file_) throw Error(cat(path_, ": write before begin()"));
    if (index >= entries_.size()) throw Error(cat(path_, ": tensor #", index, " was not declared"));
    Entry& e = entries_[index];
    if (value.shape() != e.shape())
        throw Error(cat(path_, ": tensor '", name_of(e), "' declared with shape ", shape_str(e.shape()), ", given ",
                        shape_str(value.shape())));
    const float* src = value.data;
    if (!value.is_contiguous()) {
        scratch_.resize(size_t(value.numel()));
        value.copy_to(scratch_.data());
        src = scratch_.data();
    }
    write_part(index, 0, src, value.numel()); // the whole tensor as its one piece
}

void SafetensorsWriter::write_part(size_t index, int64_t first, const float* data, int64_t n) {
    if (!file_) throw Error(cat(path_, ": write before begin()"));
    if (index >= entries_.size()) throw Error(cat(path_, ": tensor #", index, " was not declared"));
    Entry& e = entries_[index];
    const int64_t numel = int64_t((e.end - e.begin) / dtype_size(dtype_));
    if (first < 0 || n < 0 || first > numel - n)
        throw Error(cat(path_, ": tensor '", name_of(e), "' has ", numel, " elements; the part [", first, ", ",
                        first + n, ") is outside it"));
    const uint64_t at = data_offset_ + e.begin + uint64_t(first) * dtype_size(dtype_);
    if (dtype_ == DType::f32) {
        file_->write_at(at, data, size_t(n) * 4);
    } else {
        thread_local std::vector<uint16_t> half; // one per calling thread
        half.resize(size_t(n));
        for (size_t i = 0; i < size_t(n); ++i)
            half[i] = f32_to_f16(data[i]);
        file_->write_at(at, half.data(), size_t(n) * 2);
    }
    std::lock_guard<std::mutex> lk(parts_mutex_);
    int64_t& got = part_elems_[index];
    got += n;
    if (got >= numel) {
        e.written = true;
        part_elems_.erase(index);
    }
}

void SafetensorsWriter::set_resumable(bool reopen) {
    if (file_) throw Error(cat(path_, ": set_resumable after begin"));
    resumable_ = true;
    reopen_ = reopen;
}

void SafetensorsWriter::assume_written(size_t count) {
    if (count > entries_.size())
        throw Error(cat(path_, ": cannot resume after ", count, " tensors, the file holds ", entries_.size()));
    for (size_t i = 0; i < count; ++i)
        entries_[i].written = true;
}

void SafetensorsWriter::sync() {
    if (file_) file_->sync();
}

void SafetensorsWriter::keep_partial() {
    if (file_) file_->keep_temporary();
}

void SafetensorsWriter::finish() {
    if (!file_) begin();
    for (const Entry& e : entries_)
        if (!e.written) throw Error(cat(path_, ": tensor '", name_of(e), "' was never written; file not finished"));
    file_->commit();
}

} // namespace attnscope
