// Tensor views and buffers: the one way the layers pass numbers to each other.
//
//   Buffer x(n_tokens * n_embd);                        // owned, 64-byte aligned, float
//   TensorView v = TensorView::matrix(x.data(), n_tokens, n_embd);
//   float first = v.at(0, 0);
//   TensorView q = TensorView::strided(qkv + h * d, {T, H, d}, {3 * D, d, 1});  // no copy
//   std::vector<float> packed = v.to_vector();          // contiguous copy in row-major order
//
// A TensorView never owns memory; it is valid while its owner is. Engine tensors are f32;
// DType names the element types a checkpoint file may hold (converted to f32 on load).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

enum class DType { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean, u16, u32, u64, f8_e4m3, f8_e5m2 };

// Size in bytes of one element.
size_t dtype_size(DType t);
// safetensors spelling: "F32", "BF16", ...
const char* dtype_name(DType t);
// Parse the safetensors spelling; returns false for an unknown name.
bool dtype_from_name(const std::string& name, DType* out);

// IEEE half and bfloat16 to float (exact: every f16/bf16 value is a float).
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);
// Round to nearest even (used to store captures as f16 and by tests).
uint16_t f32_to_f16(float f);

// "[2, 3, 4]"
std::string shape_str(const std::vector<int64_t>& shape);

constexpr int kMaxDims = 4;

struct TensorView {
    float* data = nullptr;
    int n_dim = 0;
    int64_t ne[kMaxDims] = {0, 0, 0, 0};     // extent of each dimension, outermost first
    int64_t stride[kMaxDims] = {0, 0, 0, 0}; // in elements

    static TensorView contiguous(float* data, std::initializer_list<int64_t> shape) {
        return contiguous(data, std::vector<int64_t>(shape));
    }
    static TensorView contiguous(float* data, const std::vector<int64_t>& shape);
    static TensorView strided(float* data, std::initializer_list<int64_t> shape,
                              std::initializer_list<int64_t> strides);
    static TensorView matrix(float* data, int64_t rows, int64_t cols) { return contiguous(data, {rows, cols}); }

    int64_t numel() const;
    bool is_contiguous() const;
    std::vector<int64_t> shape() const { return {ne, ne + n_dim}; }

    float& at(int64_t i) const { return data[i * stride[0]]; }
    float& at(int64_t i, int64_t j) const { return data[i * stride[0] + j * stride[1]]; }
    float& at(int64_t i, int64_t j, int64_t k) const { return data[i * stride[0] + j * stride[1] + k * stride[2]]; }
    // Copy out in row-major order of the logical shape.
    void copy_to(float* dst) const;
    // Copy in from row-major order of the logical shape (the inverse of copy_to).
    void copy_from(const float* src) const;
    std::vector<float> to_vector() const;
};

// Owned, 64-byte aligned float storage. Grows only when asked for more than it holds, so a run
// reuses its buffers from one batch to the next instead of asking the system for fresh pages.
// Contents are not kept when it grows: it is scratch space, filled after each resize.
class Buffer {
  public:
    Buffer() = default;
    explicit Buffer(size_t n) { resize(n); }
    void resize(size_t n);
    float* data() { return ptr_.get(); }
    const float* data() const { return ptr_.get(); }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }

  private:
    struct Free {
        void operator()(float* p) const;
    };
    std::unique_ptr<float, Free> ptr_;
    size_t size_ = 0, capacity_ = 0;
};

} // namespace attnscope
