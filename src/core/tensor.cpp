// Tensor views, element types and their conversions, and aligned buffers. Nothing here knows
// what a tensor means; io/ reads them from files and engine/ computes with them.
#include "core/tensor.h"

#include "core/error.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace attnscope {

namespace {
struct DTypeInfo {
    DType type;
    const char* name;
    size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::f64, "F64", 8}, {DType::f32, "F32", 4},         {DType::f16, "F16", 2},         {DType::bf16, "BF16", 2},
    {DType::i64, "I64", 8}, {DType::i32, "I32", 4},         {DType::i16, "I16", 2},         {DType::i8, "I8", 1},
    {DType::u8, "U8", 1},   {DType::boolean, "BOOL", 1},    {DType::u16, "U16", 2},         {DType::u32, "U32", 4},
    {DType::u64, "U64", 8}, {DType::f8_e4m3, "F8_E4M3", 1}, {DType::f8_e5m2, "F8_E5M2", 1},
};
} // namespace

size_t dtype_size(DType t) {
    for (const auto& d : kDTypes)
        if (d.type == t) return d.size;
    return 0;
}

const char* dtype_name(DType t) {
    for (const auto& d : kDTypes)
        if (d.type == t) return d.name;
    return "?";
}

bool dtype_from_name(const std::string& name, DType* out) {
    for (const auto& d : kDTypes)
        if (name == d.name) {
            *out = d.type;
            return true;
        }
    return false;
}

float f16_to_f32(uint16_t h) {
    // sign | 5-bit exponent (bias 15) | 10-bit mantissa
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) { // inf or nan
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) { // normal: rebias 15 -> 127
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) { // signed zero
        bits = sign;
    } else { // subnormal: value = man * 2^-24; normalise it
        int e = -1;
        do {
            man <<= 1;
            ++e;
        } while ((man & 0x400) == 0);
        bits = sign | uint32_t(112 - e) << 23 | ((man & 0x3ff) << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_to_f32(uint16_t b) {
    // bfloat16 is the top half of a float
    const uint32_t bits = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000);
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) // inf / nan (keep nan quiet)
        return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0);
    if (absx >= 0x477ff000u) // rounds to >= 65520: overflow to inf
        return sign | 0x7c00;
    if (absx < 0x33000001u) // < 2^-25 (half the smallest subnormal): rounds to zero
        return sign;
    int exp = int(absx >> 23) - 127;
    uint32_t man = (absx & 0x7fffff) | 0x800000; // with the implicit bit
    int shift;                                   // bits to drop from the 24-bit mantissa
    uint32_t h_exp;
    if (exp < -14) { // subnormal half
        shift = 13 + (-14 - exp);
        h_exp = 0;
    } else {
        shift = 13;
        h_exp = uint32_t(exp + 15);
    }
    uint32_t h_man = man >> shift;
    const uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h_man & 1))) ++h_man; // round to nearest even
    // for normals, h_man carries the implicit bit at 0x400; adding exponent handles carry-over
    uint32_t h = (h_exp == 0) ? h_man : ((h_exp << 10) + (h_man - 0x400));
    return uint16_t(sign | h);
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

TensorView TensorView::contiguous(float* data, const std::vector<int64_t>& shape) {
    TensorView v;
    v.data = data;
    v.n_dim = int(shape.size());
    int i = 0;
    for (int64_t e : shape)
        v.ne[i++] = e;
    int64_t s = 1;
    for (int d = v.n_dim - 1; d >= 0; --d) {
        v.stride[d] = s;
        s *= v.ne[d];
    }
    return v;
}

TensorView TensorView::strided(float* data, std::initializer_list<int64_t> shape,
                               std::initializer_list<int64_t> strides) {
    TensorView v;
    v.data = data;
    v.n_dim = int(shape.size());
    int i = 0;
    for (int64_t e : shape)
        v.ne[i++] = e;
    i = 0;
    for (int64_t s : strides)
        v.stride[i++] = s;
    return v;
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int d = 0; d < n_dim; ++d)
        n *= ne[d];
    return n;
}

bool TensorView::is_contiguous() const {
    int64_t s = 1;
    for (int d = n_dim - 1; d >= 0; --d) {
        if (ne[d] != 1 && stride[d] != s) return false;
        s *= ne[d];
    }
    return true;
}

// Calls run(first, n, step) for each innermost run of the view in row-major order of the logical
// shape: n values, `step` floats apart, from `first`.
template <typename Run> static void for_each_run(const TensorView& v, Run run) {
    const int64_t inner = v.n_dim ? v.ne[v.n_dim - 1] : 1, inner_stride = v.n_dim ? v.stride[v.n_dim - 1] : 1;
    const int64_t outer = inner ? v.numel() / inner : 0;
    int64_t idx[kMaxDims] = {0, 0, 0, 0};
    for (int64_t o = 0; o < outer; ++o) {
        float* first = v.data;
        for (int d = 0; d + 1 < v.n_dim; ++d)
            first += idx[d] * v.stride[d];
        run(first, inner, inner_stride);
        for (int d = v.n_dim - 2; d >= 0; --d) { // odometer over the outer dimensions
            if (++idx[d] < v.ne[d]) break;
            idx[d] = 0;
        }
    }
}

void TensorView::copy_to(float* dst) const {
    if (is_contiguous()) {
        std::memcpy(dst, data, size_t(numel()) * sizeof(float));
        return;
    }
    for_each_run(*this, [&](const float* src, int64_t n, int64_t step) {
        for (int64_t k = 0; k < n; ++k)
            *dst++ = src[k * step];
    });
}

void TensorView::copy_from(const float* src) const {
    if (is_contiguous()) {
        std::memcpy(data, src, size_t(numel()) * sizeof(float));
        return;
    }
    for_each_run(*this, [&](float* dst, int64_t n, int64_t step) {
        for (int64_t k = 0; k < n; ++k)
            dst[k * step] = *src++;
    });
}

std::vector<float> TensorView::to_vector() const {
    std::vector<float> out(static_cast<size_t>(numel()));
    copy_to(out.data());
    return out;
}

void Buffer::Free::operator()(float* p) const {
    std::free(p);
}

void Buffer::resize(size_t n) {
    if (n > capacity_) {
        const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        void* p = std::aligned_alloc(64, bytes);
        if (!p) throw Error(cat("out of memory allocating ", bytes, " bytes"), "use fewer or shorter texts per batch");
        ptr_.reset(static_cast<float*>(p));
        capacity_ = n;
    }
    size_ = n;
}

} // namespace attnscope
