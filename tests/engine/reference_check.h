// The forward against a reference directory (config.json, model.safetensors, expected.safetensors
// with seq{S}.input_ids and seq{S}.{hook name}, as tools/reference/*.py write them): every hook of
// all its sequences in one ragged batch, within docs/design.md §4's bounds. Used by the fixture tests
// (test_forward.cpp) and the differential test (test_differential.cpp).
//
//   compare_to_reference_dir(fixture("llama-gqa"), "llama-gqa");   // gtest assertions inside
#pragma once

#include "engine/forward.h"
#include "io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attnscope::test {

struct Captured {
    std::vector<int64_t> shape;
    std::vector<float> data;
};
using Cache = std::map<std::string, Captured>; // "seq{S}.{hook name}" -> value

inline void capture_into(HookSet& hooks, Cache& cache, const std::string& patterns = "*") {
    hooks.add(HookFilter::parse(patterns, "", ""), [&cache](const HookContext& ctx, TensorView v) {
        cache["seq" + std::to_string(ctx.seq) + "." + ctx.name] = {v.shape(), v.to_vector()};
    });
}

struct Expected {
    std::unique_ptr<SafetensorsFile> file;
    Batch batch;
};

inline Expected load_expected(const std::string& dir) {
    Expected e;
    e.file = std::make_unique<SafetensorsFile>(dir + "/expected.safetensors");
    for (int s = 0;; ++s) {
        const TensorInfo* ids = e.file->find("seq" + std::to_string(s) + ".input_ids");
        if (!ids) break;
        std::vector<int32_t> toks(size_t(ids->numel()));
        std::memcpy(toks.data(), e.file->raw(*ids), toks.size() * 4);
        e.batch.tokens.push_back(toks);
    }
    return e;
}

// Compare every expected hook value of the checkpoint in `dir`, all its sequences in one ragged
// batch; prints the worst error per hook kind (one line, the worst pattern and other kind, when
// not `detail`).
inline void compare_to_reference_dir(const std::string& dir, const std::string& fixture_name, bool detail = true) {
    auto model = Model::load(dir);
    Expected exp = load_expected(dir);
    ASSERT_GE(exp.batch.n_seq(), 2);
    HookSet hooks;
    Cache cache;
    capture_into(hooks, cache);
    RunState state;
    forward(*model, exp.batch, hooks, state);

    std::map<std::string, double> worst; // hook suffix -> max error (abs for patterns, relative otherwise)
    int compared = 0;
    for (const TensorInfo& t : exp.file->tensors()) {
        if (t.name.find(".input_ids") != std::string::npos) continue;
        auto it = cache.find(t.name);
        ASSERT_NE(it, cache.end()) << "hook value not produced: " << t.name;
        ASSERT_EQ(it->second.shape, t.shape) << t.name;
        std::vector<float> storage;
        const float* ref = exp.file->as_f32(t, storage);
        const std::vector<float>& got = it->second.data;
        const bool is_pattern = t.name.find("hook_pattern") != std::string::npos;
        double scale = 0.0, max_abs = 0.0;
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (std::isinf(ref[i])) { // the causal mask in hook_attn_scores
                ASSERT_TRUE(std::isinf(got[size_t(i)]) && got[size_t(i)] < 0) << t.name << " element " << i;
                continue;
            }
            scale = std::max(scale, std::fabs(double(ref[i])));
            max_abs = std::max(max_abs, std::fabs(double(got[size_t(i)]) - double(ref[i])));
        }
        const double err = is_pattern ? max_abs : max_abs / std::max(scale, 1e-30);
        const double bound = is_pattern ? 1e-5 : 1e-4; // docs/design.md §4
        EXPECT_LE(err, bound) << fixture_name << " " << t.name << (is_pattern ? " max abs" : " max abs / max |ref|");
        const std::string kind = t.name.substr(t.name.find('.') + 1);
        const std::string suffix = kind.rfind("blocks.", 0) == 0 ? kind.substr(kind.find('.', 7) + 1) : kind;
        worst[suffix] = std::max(worst[suffix], err);
        ++compared;
    }
    EXPECT_GT(compared, 20);
    if (!detail) {
        std::pair<std::string, double> other{"", 0.0};
        for (const auto& [k, v] : worst)
            if (k.find("hook_pattern") == std::string::npos && v >= other.second) other = {k, v};
        std::printf("[ %s ] %d tensors compared; worst: hook_pattern %.3g abs, %s %.3g relative\n",
                    fixture_name.c_str(), compared, worst["attn.hook_pattern"], other.first.c_str(), other.second);
        return;
    }
    std::printf("[ %s ] %d tensors compared; worst error per hook (abs for hook_pattern, relative otherwise):\n",
                fixture_name.c_str(), compared);
    for (const auto& [k, v] : worst)
        std::printf("    %-28s %.3g\n", k.c_str(), v);
}

} // namespace attnscope::test
