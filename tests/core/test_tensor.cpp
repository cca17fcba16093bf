// Tensor views, element conversions and buffers.
#include "core/error.h"
#include "core/tensor.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>

using namespace attnscope;

TEST(DType, NamesRoundTrip) {
    for (const char* n : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"}) {
        DType t;
        ASSERT_TRUE(dtype_from_name(n, &t)) << n;
        EXPECT_STREQ(dtype_name(t), n);
    }
    DType t;
    EXPECT_FALSE(dtype_from_name("F31", &t));
    EXPECT_EQ(dtype_size(DType::bf16), 2u);
    EXPECT_EQ(dtype_size(DType::f64), 8u);
}

TEST(DType, F16KnownValues) {
    EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));    // smallest subnormal
    EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24)); // largest subnormal
    EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
    EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
    EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(DType, F16RoundTripsEveryValue) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_to_f32(uint16_t(h));
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
    }
}

TEST(DType, F16RoundsToNearestEven) {
    // 1 + 2^-11 lies halfway between 1 and the next half (1 + 2^-10): ties go to even (1.0)
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
    EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
    EXPECT_EQ(f32_to_f16(70000.0f), 0x7c00); // overflow to inf
    EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
}

TEST(DType, BF16IsTheTopHalf) {
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_EQ(bf16_to_f32(0xc0a0), -5.0f);
    EXPECT_TRUE(std::isinf(bf16_to_f32(0x7f80)));
}

TEST(TensorView, ContiguousAndStridedCopies) {
    std::vector<float> data(24);
    for (int i = 0; i < 24; ++i)
        data[size_t(i)] = float(i);
    TensorView m = TensorView::contiguous(data.data(), {2, 3, 4});
    EXPECT_TRUE(m.is_contiguous());
    EXPECT_EQ(m.numel(), 24);
    EXPECT_EQ(m.at(1, 2, 3), 23.0f);
    // every other column of a [6, 4] matrix seen as [6, 2] with stride 2
    TensorView cols = TensorView::strided(data.data() + 1, {6, 2}, {4, 2});
    EXPECT_FALSE(cols.is_contiguous());
    const std::vector<float> got = cols.to_vector();
    const std::vector<float> want = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23};
    EXPECT_EQ(got, want);
    // the [T, H, d] view of a fused qkv buffer: T=2 rows of width 12, H=2 heads of d=2 (the k part)
    TensorView k = TensorView::strided(data.data() + 4, {2, 2, 2}, {12, 2, 1});
    EXPECT_EQ(k.to_vector(), (std::vector<float>{4, 5, 6, 7, 16, 17, 18, 19}));
}

TEST(Buffer, GrowsAndIsAligned) {
    Buffer b;
    EXPECT_EQ(b.size(), 0u);
    b.resize(3);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    float* p = b.data();
    b.resize(2); // shrinking keeps the storage
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(b.size(), 2u);
    b.resize(1000);
    EXPECT_GE(b.capacity(), 1000u);
}

TEST(Error, CarriesHint) {
    try {
        throw Error("tensor 'x' is wrong", "fix it");
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "tensor 'x' is wrong (hint: fix it)");
        EXPECT_EQ(e.hint(), "fix it");
    }
    EXPECT_EQ(cat("a", 1, 'b', 2.5), "a1b2.5");
}
