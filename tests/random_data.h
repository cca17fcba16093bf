// Reproducible random inputs for kernel tests and benchmarks (bench/ includes it too).
//
//   auto x = test::random_vector(1024 * 768, /*seed*/ 1, /*std*/ 2.0f);   // N(0, 2^2) floats
#pragma once

#include <random>
#include <vector>

namespace test {

inline std::vector<float> random_vector(size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = dist(rng);
    return v;
}

} // namespace test
