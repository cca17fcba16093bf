// Hand-made attention patterns for the analysis tests.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace attnscope::test {

// fn(h, i) -> row i of head h, i + 1 probabilities (causal).
using RowFn = std::function<std::vector<double>(int64_t h, int64_t i)>;

// [H, T, T] causal pattern built row by row; cells above the diagonal are 0.
inline std::vector<float> build_pattern(int64_t H, int64_t T, const RowFn& fn) {
    std::vector<float> p(size_t(H * T * T), 0.0f);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T; ++i) {
            const auto row = fn(h, i);
            for (int64_t j = 0; j <= i; ++j)
                p[size_t((h * T + i) * T + j)] = float(row[size_t(j)]);
        }
    return p;
}

// n probabilities, all on `at`.
inline std::vector<double> one_hot(int64_t n, int64_t at) {
    std::vector<double> r(size_t(n), 0.0);
    r[size_t(at)] = 1.0;
    return r;
}

} // namespace attnscope::test
