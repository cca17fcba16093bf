// ln(x) in double precision, written so that the compiler maps it to SIMD lanes (no branches, no
// calls, 64-bit integer operations that AVX2 has), for the per-cell sums of the analysis
// (entropy, Jensen–Shannon) where libm's scalar log was the whole cost.
//
//   #pragma omp simd reduction(+ : s)
//   for (int j = 0; j < n; ++j) s += a[j] > 0 ? a[j] * log_lane(a[j]) : 0.0;
//
// Valid for positive normal doubles (every positive float widened to double is one); a zero or
// negative argument gives a meaningless finite value, so callers select it away as above.
// Accuracy: within 2 ulp of the correctly rounded result (tests compare it with std::log).
#pragma once

#include <bit>
#include <cstdint>

namespace attnscope {

// x = 2^k m with m in [sqrt(1/2), sqrt(2)), so that ln x = k ln 2 + ln m and |ln m| <= ln 2 / 2.
// With f = m - 1 (exact, Sterbenz) and s = f / (2 + f) (|s| <= 0.1716), ln m = 2 atanh(s)
// = 2 s (1 + s^2/3 + s^4/5 + ...); eleven terms leave a truncation below 2^-55 relative.
// ln 2 is split into a high part with 32 trailing zero bits (k ln2_hi is exact for |k| < 2^20)
// (ln2_lo), added last, so the reduction loses nothing.
inline double log_lane(double x) {
    const uint64_t bits = std::bit_cast<uint64_t>(x);
    // k = floor(log2(x / sqrt(1/2))): the exponent field after subtracting sqrt(1/2)'s bits; the
    // 1024 << 52 offset keeps the difference positive so a logical shift does (AVX2 has no
    // 64-bit arithmetic shift).
    const uint64_t shifted = bits - 0x3FE6A09E667F3BCDull + (uint64_t(1024) << 52);
    const uint64_t kb = shifted >> 52;                                    // k + 1024, in [0, 2048)
    const double m = std::bit_cast<double>(bits - ((kb - 1024) << 52));  // in [sqrt(1/2), sqrt(2))
    // k as a double without a 64-bit int -> double conversion: 2^52 + kb has kb in its low bits
    const double k = (std::bit_cast<double>(0x4330000000000000ull | kb) - 4503599627370496.0) - 1024.0;
    const double f = m - 1.0;
    const double s = f / (2.0 + f);
    const double z = s * s;
    double p = 1.0 / 21;
    p = p * z + 1.0 / 19;
    p = p * z + 1.0 / 17;
    p = p * z + 1.0 / 15;
    p = p * z + 1.0 / 13;
    p = p * z + 1.0 / 11;
    p = p * z + 1.0 / 9;
    p = p * z + 1.0 / 7;
    p = p * z + 1.0 / 5;
    p = p * z + 1.0 / 3;
    const double two_s = 2.0 * s;
    const double ln_m = two_s + two_s * z * p;
    constexpr double ln2_hi = 0.6931467056274414;     // 0x3FE62E4200000000: ln 2, low 32 bits cleared
    constexpr double ln2_lo = 4.7493250390316726e-07; // ln 2 - ln2_hi
    return k * ln2_hi + (ln_m + k * ln2_lo);
}

// ln(x) in single precision, 16 lanes to a 512-bit register and no division, for the JS matrix
// between every head of two models (compare), where a cell's logarithm is the whole cost and
// the double-precision log_lane's division halves the speed. The same reduction as log_lane
// (x = 2^k m, m in [sqrt(1/2), sqrt(2))), then ln(1 + f) = f - f^2/2 + f^3 P(f) with P of degree 8
// fitted by least squares on Chebyshev nodes: 1.3e-9 absolute from ln(1 + f) before float
// rounding, so within a few float ulp. Positive normal floats; callers select zero away.
inline float log_lane_f(float x) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint32_t shifted = bits - 0x3F3504F3u + (uint32_t(128) << 23); // sqrt(1/2)'s bits; +128 keeps it positive
    const uint32_t kb = shifted >> 23;                                   // k + 128
    const float m = std::bit_cast<float>(bits - ((kb - 128) << 23));    // in [sqrt(1/2), sqrt(2))
    const float k = float(int32_t(kb) - 128);
    const float f = m - 1.0f;
    const float z = f * f;
    float p = 0.07148931283022301f;
    p = p * f - 0.1157151499070807f;
    p = p * f + 0.11662003893977907f;
    p = p * f - 0.12411021305641241f;
    p = p * f + 0.14249871401900416f;
    p = p * f - 0.166684804833869f;
    p = p * f + 0.20000710340347347f;
    p = p * f - 0.2499998905998568f;
    p = p * f + 0.3333333115788189f;
    const float ln_m = f - 0.5f * z + f * z * p;
    constexpr float ln2_hi = 0.693359375f;           // exact in a few bits: k ln2_hi is exact
    constexpr float ln2_lo = -2.12194440054690583e-4f; // ln 2 - ln2_hi
    return k * ln2_hi + (ln_m + k * ln2_lo);
}

} // namespace attnscope
