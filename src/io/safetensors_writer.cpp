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

void SafetensorsWriter::declare(const std::string& name, const std::vector<int64_t>& shape) {
    if (file_) throw Error(cat(path_, ": tensor '", name, "' declared after the header was written"));
    if (entries_.count(name)) throw Error(cat(path_, ": tensor '", name, "' declared twice"));
    int64_t n = 1;
    for (int64_t e : shape)
        n *= e;
    Entry e;
    e.shape = shape;
    e.begin = data_size_;
    e.end = data_size_ + uint64_t(n) * dtype_size(dtype_);
    data_size_ = e.end;
    entries_.emplace(name, std::move(e));
    order_.push_back(name);
}

void SafetensorsWriter::begin() {
    // The header is built as text, not as a JSON document: a capture declares tens of thousands
    // of tensors, and a DOM of them would cost more memory than the data being written.
    std::string header = "{";
    if (!metadata_.empty()) header += "\"__metadata__\":" + nlohmann::json(metadata_).dump() + ",";
    for (const auto& name : order_) {
        const Entry& e = entries_.at(name);
        header += nlohmann::json(name).dump() + ":{\"dtype\":\"" + dtype_name(dtype_) + "\",\"shape\":[";
        for (size_t i = 0; i < e.shape.size(); ++i)
            header += (i ? "," : "") + std::to_string(e.shape[i]);
        header += "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]},";
    }
    if (header.back() == ',') header.pop_back();
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');
    file_ = std::make_unique<AtomicFile>(path_);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
    file_->write_at(0, len, 8);
    file_->write_at(8, header.data(), header.size());
    data_offset_ = 8 + header.size();
}

void SafetensorsWriter::write(const std::string& name, const TensorView& value) {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(cat(path_, ": tensor '", name, "' was not declared"));
    Entry& e = it->second;
    if (value.shape() != e.shape)
        throw Error(cat(path_, ": tensor '", name, "' declared with shape ", shape_str(e.shape), ", given ",
                        shape_str(value.shape())));
    const float* src = value.data;
    const size_t n = size_t(value.numel());
    if (!value.is_contiguous()) {
        scratch_.resize(n);
        value.copy_to(scratch_.data());
        src = scratch_.data();
    }
    if (dtype_ == DType::f32) {
        file_->write_at(data_offset_ + e.begin, src, n * 4);
    } else {
        half_.resize(n);
        for (size_t i = 0; i < n; ++i)
            half_[i] = f32_to_f16(src[i]);
        file_->write_at(data_offset_ + e.begin, half_.data(), n * 2);
    }
    e.written = true;
}

void SafetensorsWriter::finish() {
    if (!file_) begin();
    for (const auto& name : order_)
        if (!entries_.at(name).written)
            throw Error(cat(path_, ": tensor '", name, "' was never written; file not finished"));
    file_->commit();
}

} // namespace attnscope
