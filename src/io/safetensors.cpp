// The safetensors reader. Every field of the header is checked before the data it describes is
// touched: a file from the internet may be truncated, hostile or simply not safetensors, and
// must produce a clear Error, never a crash or an absurd allocation. Conversion of F16/BF16 to
// f32 happens here, once, at load; the engine sees only f32.
#include "io/safetensors.h"

#include "core/error.h"
#include "io/json.h"

#include <algorithm>
#include <cstring>

namespace attnscope {

using nlohmann::json;

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t e : shape)
        n *= e;
    return n;
}

namespace {

uint64_t read_u64_le(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

// Parse one entry of the header into `t`; `where` is "<label>: tensor 'name'".
TensorInfo parse_entry(const std::string& name, const json& v, const std::string& where) {
    TensorInfo t;
    t.name = name;
    if (!v.is_object())
        throw Error(cat(where, ": expected an object {dtype, shape, data_offsets}, found ", v.type_name()));
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) throw Error(cat(where, ": missing or non-string 'dtype'"));
    if (!dtype_from_name(dt->get<std::string>(), &t.dtype))
        throw Error(cat(where, ": unknown dtype '", dt->get<std::string>(), "'"),
                    "known dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64 F8_E4M3 F8_E5M2");
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) throw Error(cat(where, ": missing or non-array 'shape'"));
    if (sh->size() > 8) throw Error(cat(where, ": shape has ", sh->size(), " dimensions, at most 8 are accepted"));
    // element count with overflow checks: the product must fit in 2^62
    uint64_t numel = 1;
    for (const json& e : *sh) {
        if (!e.is_number_integer() || (e.is_number_integer() && !e.is_number_unsigned() && e.get<int64_t>() < 0))
            throw Error(cat(where, ": shape entries must be non-negative integers, found ", sh->dump()));
        const uint64_t d = e.get<uint64_t>();
        if (d > (uint64_t(1) << 62) || (d != 0 && numel > (uint64_t(1) << 62) / d))
            throw Error(cat(where, ": shape ", sh->dump(), " has more elements than any file can hold"));
        numel *= d;
        t.shape.push_back(int64_t(d));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
        throw Error(cat(where, ": 'data_offsets' must be [begin, end] with non-negative integers"));
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.end < t.begin) throw Error(cat(where, ": data_offsets [", t.begin, ", ", t.end, "] end before they begin"));
    const uint64_t want = numel * dtype_size(t.dtype);
    if (t.end - t.begin != want)
        throw Error(cat(where, ": shape ", shape_str(t.shape), " of ", dtype_name(t.dtype), " needs ", want,
                        " bytes but data_offsets [", t.begin, ", ", t.end, "] span ", t.end - t.begin),
                    "the file is corrupt or was written by a broken tool");
    return t;
}

} // namespace

SafetensorsIndex SafetensorsIndex::parse(const uint8_t* data, size_t size, const std::string& label) {
    SafetensorsIndex idx;
    if (size < 8)
        throw Error(cat(label, ": ", size, " bytes is too short for a safetensors file (8-byte header length first)"),
                    "the file is truncated or not safetensors");
    const uint64_t n = read_u64_le(data);
    if (n > kMaxSafetensorsHeader)
        throw Error(cat(label, ": header length ", n, " exceeds the limit of ", kMaxSafetensorsHeader, " bytes"),
                    "the file is corrupt or not safetensors");
    if (n > size - 8)
        throw Error(cat(label, ": header length ", n, " reaches beyond the end of the file (", size, " bytes)"),
                    "the file is truncated or not safetensors");
    if (n < 2) throw Error(cat(label, ": header of ", n, " bytes cannot hold a JSON object"));
    const char* h = reinterpret_cast<const char*>(data + 8);
    const json header = parse_json(h, h + n, label + ": header");
    if (!header.is_object()) throw Error(cat(label, ": header must be a JSON object, found ", header.type_name()));
    idx.data_offset = 8 + n;
    const uint64_t data_size = size - idx.data_offset;

    for (const auto& [key, v] : header.items()) {
        if (key == "__metadata__") {
            if (!v.is_object()) throw Error(cat(label, ": __metadata__ must be an object of strings"));
            for (const auto& [mk, mv] : v.items()) {
                if (!mv.is_string())
                    throw Error(cat(label, ": __metadata__ value '", mk, "' must be a string, found ", mv.type_name()));
                idx.metadata[mk] = mv.get<std::string>();
            }
            continue;
        }
        TensorInfo t = parse_entry(key, v, cat(label, ": tensor '", key, "'"));
        if (t.end > data_size)
            throw Error(cat(label, ": tensor '", key, "' byte range [", t.begin, ", ", t.end,
                            ") is beyond the data area of ", data_size, " bytes"),
                        "the file is truncated");
        idx.tensors.push_back(std::move(t));
    }
    std::sort(idx.tensors.begin(), idx.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
    });
    for (size_t i = 1; i < idx.tensors.size(); ++i) {
        const TensorInfo &a = idx.tensors[i - 1], &b = idx.tensors[i];
        if (b.begin < a.end)
            throw Error(cat(label, ": tensors '", a.name, "' [", a.begin, ", ", a.end, ") and '", b.name, "' [",
                            b.begin, ", ", b.end, ") overlap"),
                        "the file is corrupt");
    }
    return idx;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
    index_ = SafetensorsIndex::parse(file_.data(), file_.size(), path);
    for (size_t i = 0; i < index_.tensors.size(); ++i)
        by_name_[index_.tensors[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &index_.tensors[it->second];
}

const float* SafetensorsFile::as_f32(const TensorInfo& t, std::vector<float>& storage, int64_t first,
                                     int64_t count) const {
    const int64_t numel = t.numel();
    if (count < 0) count = numel - first;
    if (first < 0 || count < 0 || first > numel || count > numel - first)
        throw Error(cat(path(), ": tensor '", t.name, "' has ", numel, " elements; elements ", first, "..",
                        first + count, " were asked for"));
    const uint8_t* p = raw(t) + size_t(first) * dtype_size(t.dtype);
    const size_t n = size_t(count);
    switch (t.dtype) {
    case DType::f32:
        if (reinterpret_cast<uintptr_t>(p) % alignof(float) == 0) return reinterpret_cast<const float*>(p);
        storage.resize(n);
        if (n) std::memcpy(storage.data(), p, n * 4);
        return storage.data();
    case DType::f16:
    case DType::bf16: {
        storage.resize(n);
        const bool half = t.dtype == DType::f16;
        for (size_t i = 0; i < n; ++i) {
            const uint16_t b = uint16_t(p[2 * i] | (p[2 * i + 1] << 8));
            storage[i] = half ? f16_to_f32(b) : bf16_to_f32(b);
        }
        return storage.data();
    }
    case DType::f64: {
        storage.resize(n);
        for (size_t i = 0; i < n; ++i) {
            double d;
            std::memcpy(&d, p + 8 * i, 8);
            storage[i] = float(d);
        }
        return storage.data();
    }
    default:
        throw Error(cat(path(), ": tensor '", t.name, "' has dtype ", dtype_name(t.dtype),
                        ", expected a floating-point type (F32, F16, BF16 or F64)"));
    }
}

} // namespace attnscope
