// The decoder forward (GPT-2 and the Llama family) against the PyTorch references (tools/reference/),
// hook by hook, plus the KV cache against full forwards,
// batch invariance, the ask-step economy, patching and bad input.
#include "engine/forward.h"
#include "engine/kv_cache.h"
#include "core/threads.h"
#include "engine/kv_check.h"
#include "engine/reference_check.h"
#include "io/safetensors.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

using namespace attnscope;
using namespace attnscope::test;

namespace {

void compare_to_reference(const std::string& fixture_name) { compare_to_reference_dir(fixture(fixture_name), fixture_name); }

// Token ids from a linear congruential generator: one sequence per length, reproducible.
std::vector<std::vector<int32_t>> random_sequences(std::initializer_list<int> lengths, uint32_t seed, int vocab) {
    std::vector<std::vector<int32_t>> seqs;
    uint32_t x = seed;
    for (int T : lengths) {
        seqs.emplace_back();
        for (int t = 0; t < T; ++t) {
            x = x * 1664525u + 1013904223u;
            seqs.back().push_back(int32_t(x % uint32_t(vocab)));
        }
    }
    return seqs;
}

} // namespace

TEST(ForwardReference, Gpt2Tiny) {
    compare_to_reference("gpt2-tiny");
}
TEST(ForwardReference, Gpt2OddSizesNoPrefixInverseLayerScale) {
    compare_to_reference("gpt2-odd");
}
TEST(ForwardReference, Gpt2Bf16SeparateLmHead) {
    compare_to_reference("gpt2-bf16");
}
TEST(ForwardReference, Gpt2F16Relu) {
    compare_to_reference("gpt2-f16");
}
// The Llama family (tools/reference/llama_reference.py): the same decoder forward, as data.
TEST(ForwardReference, LlamaGroupedQueryTiedEmbeddings) {
    compare_to_reference("llama-gqa");
}
TEST(ForwardReference, Llama3RopeScaling) {
    compare_to_reference("llama3-scaled");
}
TEST(ForwardReference, Qwen2QkvBiases) {
    compare_to_reference("qwen2-bias");
}
TEST(ForwardReference, Qwen3QkNormsAndOwnHeadWidth) {
    compare_to_reference("qwen3-qknorm");
}
TEST(ForwardReference, MistralSlidingWindowShorterThanTheText) {
    compare_to_reference("mistral-window");
}
// GPT-NeoX (tools/reference/neox_reference.py) and OLMo / OLMo 2 (llama_reference.py), from
// tools/reference/make_family_fixtures.py: the cases a random differential run may not draw.
TEST(ForwardReference, GptNeoxParallelResidualQuarterRotary) {
    compare_to_reference("neox-parallel");
}
TEST(ForwardReference, GptNeoxSequentialWholeRotaryNoBiasBf16) {
    compare_to_reference("neox-sequential");
}
TEST(ForwardReference, OlmoParameterFreeNormsClippedQkv) {
    compare_to_reference("olmo-clip");
}
TEST(ForwardReference, Olmo2PostNormsWholeProjectionQkNorms) {
    compare_to_reference("olmo2");
}
TEST(ForwardReference, LlamaBf16LinearRopeScaling) {
    compare_to_reference("llama-bf16");
}

// A sequence alone and among longer and shorter neighbours, for a fixture of each kind.
// Bit-for-bit batch invariance (issue #24): every hook value of each sequence is the same bytes
// alone, with longer and shorter neighbours around it, in both orders, and with 1 or 2 threads.
void check_batch_invariance(const std::string& name) {
    auto model = Model::load(fixture(name));
    Expected exp = load_expected(fixture(name));
    auto run = [&](const Batch& batch) {
        HookSet hooks;
        Cache cache;
        capture_into(hooks, cache);
        RunState state;
        ForwardOptions fo;
        fo.logits = true;
        forward(*model, batch, hooks, state, fo);
        return cache;
    };
    // a batch with longer and shorter neighbours around each sequence, and the same reversed
    Batch batch = exp.batch;
    batch.tokens.insert(batch.tokens.begin(), std::vector<int32_t>(50, 7));
    batch.tokens.push_back({1, 2});
    Batch reversed = batch;
    std::reverse(reversed.tokens.begin(), reversed.tokens.end());
    const Cache together = run(batch), backwards = run(reversed);
    const int threads = num_threads();
    set_num_threads(1);
    const Cache one_thread = run(batch);
    set_num_threads(threads);
    const int64_t S = batch.n_seq();
    for (int64_t s = 0; s < exp.batch.n_seq(); ++s) {
        const Cache alone = run(Batch::from_sequences({exp.batch.tokens[size_t(s)]}));
        int n = 0;
        for (const auto& [key, v] : alone) {
            const std::string hook = key.substr(key.find('.'));
            for (const auto& [other, at] : {std::pair{&together, s + 1}, std::pair{&backwards, S - 2 - s},
                                            std::pair{&one_thread, s + 1}}) {
                const Captured& w = other->at("seq" + std::to_string(at) + hook);
                ASSERT_EQ(v.shape, w.shape) << key;
                ASSERT_EQ(v.data.size(), w.data.size());
                EXPECT_EQ(0, std::memcmp(v.data.data(), w.data.data(), v.data.size() * sizeof(float)))
                    << name << " " << key << ": alone vs at " << at << " in a batch of " << S;
            }
            ++n;
        }
        EXPECT_GT(n, 30);
    }
}

TEST(Forward, BatchInvariance) {
    check_batch_invariance("gpt2-tiny");
    // rotary positions count from each sequence's start; grouped heads; a sliding window
    check_batch_invariance("llama-gqa");
    check_batch_invariance("mistral-window");
}

TEST(Forward, PaddedBatchMatchesRagged) {
    auto model = Model::load(fixture("gpt2-tiny"));
    // left padding for row 0, right padding for row 1, T = 5
    const int32_t ids[] = {0, 0, 11, 12, 13, 21, 22, 23, 24, 0};
    const int32_t mask[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 0};
    Batch padded = Batch::from_padded(ids, mask, 2, 5);
    ASSERT_EQ(padded.tokens[0], (std::vector<int32_t>{11, 12, 13}));
    ASSERT_EQ(padded.tokens[1], (std::vector<int32_t>{21, 22, 23, 24}));
    const int32_t gap[] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    expect_error([&] { Batch::from_padded(ids, gap, 2, 5); }, {"row 0", "gap at position 1"});
    const int32_t empty[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    expect_error([&] { Batch::from_padded(ids, empty, 2, 5); }, {"row 0", "all zeros"});
}

TEST(Forward, NoHooksAllocatesNoAttentionMatrixAndSkipsLmHead) {
    auto model = Model::load(fixture("gpt2-tiny"));
    Expected exp = load_expected(fixture("gpt2-tiny"));
    HookSet none;
    RunState state;
    ForwardStats st = forward(*model, exp.batch, none, state);
    EXPECT_EQ(st.attention_matrix_floats, 0u);
    EXPECT_EQ(state.att.capacity(), 0u) << "an [H, T, T] buffer was allocated that no hook wanted";
    EXPECT_FALSE(st.computed_logits);
    EXPECT_EQ(state.logits.capacity(), 0u) << "the LM head ran although nobody asked for logits";

    // a hook on one layer's residual still needs no [H, T, T] buffer and no LM head
    HookSet resid;
    Cache cache;
    capture_into(resid, cache, "blocks.1.hook_resid_post");
    RunState state2;
    st = forward(*model, exp.batch, resid, state2);
    EXPECT_EQ(st.attention_matrix_floats, 0u);
    EXPECT_FALSE(st.computed_logits);
    EXPECT_EQ(cache.size(), size_t(exp.batch.n_seq()));

    // asking for a pattern allocates exactly one sequence's [H, T, T]
    HookSet pat;
    Cache c2;
    capture_into(pat, c2, "blocks.0.attn.hook_pattern");
    RunState state3;
    st = forward(*model, exp.batch, pat, state3);
    const size_t T = size_t(exp.batch.max_length());
    EXPECT_EQ(st.attention_matrix_floats, 4 * T * T);
    EXPECT_EQ(c2.size(), size_t(exp.batch.n_seq()));
}

TEST(Forward, FusedStreamedAndMaterialisedAttentionAgreeExactly) {
    // The three attention paths (no pattern wanted; patterns wanted read-only; patterns wanted
    // by a hook that may patch them) must give the same bits. Sequences of 1, 64 (one whole
    // block), 150 (two whole blocks and a partial one) and 7 tokens, on the built-in model.
    auto model = Model::load(std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny");
    const auto seqs = random_sequences({1, 64, 150, 7}, 12345, model->config().vocab_size);
    const Batch batch = Batch::from_sequences(seqs);
    HookSet fused, streamed, materialised;
    Cache a, b, c;
    capture_into(fused, a, "blocks.*.hook_resid_post");
    streamed.add(
        HookFilter::parse("blocks.*.hook_resid_post,blocks.*.attn.hook_pattern", "", ""),
        [&b](const HookContext& ctx, TensorView v) {
            b["seq" + std::to_string(ctx.seq) + "." + ctx.name] = {v.shape(), v.to_vector()};
        },
        HookAccess::read_only);
    capture_into(materialised, c, "blocks.*.hook_resid_post,blocks.*.attn.hook_pattern");
    RunState s1, s2, s3;
    forward(*model, batch, fused, s1);
    forward(*model, batch, streamed, s2);
    forward(*model, batch, materialised, s3);
    ASSERT_EQ(a.size(), 4u * 4u);
    for (const auto& [name, v] : a) {
        EXPECT_EQ(v.data, b.at(name).data) << name << ": fused vs streamed";
        EXPECT_EQ(v.data, c.at(name).data) << name << ": fused vs materialised";
    }
    ASSERT_EQ(b.size(), 2u * 4u * 4u);
    for (const auto& [name, v] : b)
        EXPECT_EQ(v.data, c.at(name).data) << name << ": streamed vs materialised";
    // and every pattern row is a distribution over the keys it may see, zero beyond
    const auto& p = b.at("seq2.blocks.3.attn.hook_pattern").data; // [4, 150, 150]
    for (int64_t r = 0; r < 4 * 150; ++r) {
        const int64_t i = r % 150;
        double sum = 0;
        for (int64_t j = 0; j < 150; ++j) {
            if (j > i) {
                EXPECT_EQ(p[size_t(r * 150 + j)], 0.0f);
            }
            sum += p[size_t(r * 150 + j)];
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r;
    }
}

TEST(Forward, WholeHeadsGiveThePatternHookValuesExactly) {
    // ForwardOptions::attention_heads (how a capture writes patterns: one head at a time, no
    // [H, T, T] buffer) must hand over exactly the bits hook_pattern shows, in the fused path
    // (nothing else wants patterns) and in the materialised one (a hook wants the scores), only
    // for the layers asked, once per (sequence, head), and with the residual stream unchanged.
    auto model = Model::load(std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny");
    const ModelConfig& cfg = model->config();
    const auto seqs = random_sequences({150, 1, 64, 9}, 777, cfg.vocab_size);
    const Batch batch = Batch::from_sequences(seqs);
    HookSet reference;
    Cache want;
    capture_into(reference, want, "blocks.*.attn.hook_pattern,blocks.*.hook_resid_post");
    RunState s0;
    forward(*model, batch, reference, s0);

    for (const bool with_scores : {false, true}) {
        HookSet hooks;
        Cache resid;
        capture_into(hooks, resid,
                     with_scores ? "blocks.*.hook_resid_post,blocks.*.attn.hook_attn_scores"
                                 : "blocks.*.hook_resid_post");
        std::mutex m;
        std::map<std::string, std::vector<float>> heads; // "seq{s}.L{il}.H{h}" -> [T, T]
        ForwardOptions fo;
        fo.attention_head_layers.assign(size_t(cfg.n_layer), 0);
        fo.attention_head_layers[0] = fo.attention_head_layers[size_t(cfg.n_layer - 1)] = 1;
        fo.attention_heads = [&](int il, int s, int h, const float* p, int64_t T) {
            std::lock_guard<std::mutex> lk(m);
            const std::string key = "seq" + std::to_string(s) + ".L" + std::to_string(il) + ".H" + std::to_string(h);
            EXPECT_EQ(heads.count(key), 0u) << key << " handed over twice";
            heads[key].assign(p, p + T * T);
        };
        RunState st;
        const ForwardStats stats = forward(*model, batch, hooks, st, fo);
        if (!with_scores) {
            EXPECT_EQ(stats.attention_matrix_floats, 0u) << "whole heads must not need an [H, T, T] buffer";
        }
        ASSERT_EQ(heads.size(), size_t(2 * cfg.n_head) * seqs.size()) << "only the layers asked, every head";
        for (size_t s = 0; s < seqs.size(); ++s)
            for (int il : {0, cfg.n_layer - 1}) {
                const auto& ref =
                    want.at("seq" + std::to_string(s) + ".blocks." + std::to_string(il) + ".attn.hook_pattern")
                        .data; // [H, T, T]
                const size_t TT = seqs[s].size() * seqs[s].size();
                for (int h = 0; h < cfg.n_head; ++h) {
                    const auto& got =
                        heads.at("seq" + std::to_string(s) + ".L" + std::to_string(il) + ".H" + std::to_string(h));
                    ASSERT_EQ(got.size(), TT);
                    EXPECT_TRUE(std::equal(got.begin(), got.end(), ref.begin() + std::ptrdiff_t(size_t(h) * TT)))
                        << "seq " << s << " layer " << il << " head " << h << (with_scores ? " (materialised)" : "");
                }
            }
        for (const auto& [name, v] : resid)
            if (name.find("resid_post") != std::string::npos) {
                EXPECT_EQ(v.data, want.at(name).data) << name;
            }
    }
}

TEST(Forward, WholeHeadsErrorReachesTheCaller) {
    // An exception from attention_heads (a capture's disk is full) is thrown by forward() — it
    // must not escape the parallel loop, which would end the process.
    auto model = Model::load(std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny");
    const Batch batch = Batch::from_sequences({{1, 2, 3, 4, 5}, {6, 7, 8}});
    HookSet none;
    ForwardOptions fo;
    fo.attention_heads = [](int il, int, int h, const float*, int64_t) {
        if (il == 1 && h == 0) throw Error("disk full, say");
    };
    RunState st;
    try {
        forward(*model, batch, none, st, fo);
        FAIL() << "expected the callback's error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("disk full, say"), std::string::npos) << e.what();
    }
}

TEST(Forward, LogitsOnRequest) {
    auto model = Model::load(fixture("gpt2-bf16"));
    Expected exp = load_expected(fixture("gpt2-bf16"));
    HookSet none;
    RunState state;
    ForwardStats st = forward(*model, exp.batch, none, state, {.logits = true});
    EXPECT_TRUE(st.computed_logits);
    const TensorInfo* t = exp.file->find("seq1.logits");
    ASSERT_NE(t, nullptr);
    std::vector<float> storage;
    const float* ref = exp.file->as_f32(*t, storage);
    const std::vector<float> got = state.logits_of(exp.batch, 1, model->config().vocab_size).to_vector();
    ASSERT_EQ(int64_t(got.size()), t->numel());
    double scale = 0, err = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        scale = std::max(scale, std::fabs(double(ref[i])));
        err = std::max(err, std::fabs(double(got[i]) - ref[i]));
    }
    EXPECT_LE(err / scale, 1e-4);
}

TEST(Forward, HooksCanPatchValues) {
    auto model = Model::load(fixture("gpt2-tiny"));
    Batch batch = Batch::from_sequences({{5, 6, 7, 8, 9}});
    // zero-ablate layer 0's attention: the residual stream must pass through unchanged
    HookSet hooks;
    hooks.add(HookFilter::parse("blocks.0.hook_attn_out", "", ""), [](const HookContext&, TensorView v) {
        for (int64_t i = 0; i < v.ne[0]; ++i)
            for (int64_t j = 0; j < v.ne[1]; ++j)
                v.at(i, j) = 0.0f;
    });
    Cache cache;
    capture_into(hooks, cache, "blocks.0.hook_resid_pre,blocks.0.hook_resid_mid");
    RunState state;
    forward(*model, batch, hooks, state);
    EXPECT_EQ(cache.at("seq0.blocks.0.hook_resid_pre").data, cache.at("seq0.blocks.0.hook_resid_mid").data);

    // replacing a pattern changes z: a pattern all on token 0 makes every z row equal v_0
    HookSet patch;
    patch.add(HookFilter::parse("blocks.1.attn.hook_pattern", "", ""), [](const HookContext&, TensorView p) {
        for (int64_t h = 0; h < p.ne[0]; ++h)
            for (int64_t i = 0; i < p.ne[1]; ++i)
                for (int64_t j = 0; j < p.ne[2]; ++j)
                    p.at(h, i, j) = j == 0 ? 1.0f : 0.0f;
    });
    Cache c2;
    capture_into(patch, c2, "blocks.1.attn.hook_v,blocks.1.attn.hook_z");
    RunState s2;
    forward(*model, batch, patch, s2);
    const auto& v = c2.at("seq0.blocks.1.attn.hook_v");
    const auto& z = c2.at("seq0.blocks.1.attn.hook_z");
    const size_t row = size_t(model->config().n_embd);
    for (size_t i = 0; i < 5; ++i)
        for (size_t c = 0; c < row; ++c)
            EXPECT_FLOAT_EQ(z.data[i * row + c], v.data[c]);
}

// Prefix reuse (ForwardOptions::start_layer): starting at layer 1 from the residual stream a full
// run had there gives that run's later values and logits bit for bit, with a hook that changes a
// value of layer 1 in both; hooks of earlier layers are not called; bad starts are refused.
TEST(Forward, StartLayerFromTheResidualStreamEqualsTheFullForward) {
    for (const char* name : {"gpt2-tiny", "llama-gqa"}) {
        auto model = Model::load(fixture(name));
        const Batch batch = Batch::from_sequences({{5, 6, 7, 8, 9, 10}, {11, 3, 4}});
        const int64_t D = model->config().n_embd;
        std::vector<float> resid(size_t(batch.n_tokens() * D));
        auto zero_head = [](const HookContext&, TensorView z) { // z: [T, H, d]; head 1 zeroed
            for (int64_t t = 0; t < z.ne[0]; ++t)
                for (int64_t k = 0; k < z.ne[2]; ++k)
                    z.at(t, 1, k) = 0.0f;
        };
        HookSet full;
        full.add(HookFilter::parse("blocks.1.hook_resid_pre", "", ""),
                 [&](const HookContext& ctx, TensorView x) {
                     const int64_t off = batch.offset(ctx.seq);
                     for (int64_t t = 0; t < x.ne[0]; ++t)
                         for (int64_t k = 0; k < D; ++k)
                             resid[size_t((off + t) * D + k)] = x.at(t, k);
                 },
                 HookAccess::read_only);
        full.add(HookFilter::parse("blocks.1.attn.hook_z", "", ""), zero_head);
        Cache want;
        capture_into(full, want, "blocks.1.hook_resid_post");
        RunState s1;
        ForwardOptions fo;
        fo.logits = true;
        forward(*model, batch, full, s1, fo);
        const std::vector<float> logits(s1.logits.data(), s1.logits.data() + batch.n_tokens() * model->config().vocab_size);

        HookSet from;
        int earlier = 0;
        from.add(HookFilter::parse("blocks.0.hook_resid_pre,blocks.0.attn.hook_z", "", ""),
                 [&](const HookContext&, TensorView) { ++earlier; }, HookAccess::read_only);
        from.add(HookFilter::parse("blocks.1.attn.hook_z", "", ""), zero_head);
        Cache got;
        capture_into(from, got, "blocks.1.hook_resid_post");
        RunState s2;
        ForwardOptions fo2 = fo;
        fo2.start_layer = 1;
        fo2.resid_pre = resid.data();
        forward(*model, batch, from, s2, fo2);
        EXPECT_EQ(earlier, 0) << name;
        EXPECT_EQ(got.at("seq0.blocks.1.hook_resid_post").data, want.at("seq0.blocks.1.hook_resid_post").data) << name;
        EXPECT_EQ(got.at("seq1.blocks.1.hook_resid_post").data, want.at("seq1.blocks.1.hook_resid_post").data) << name;
        EXPECT_EQ(0, std::memcmp(s2.logits.data(), logits.data(), logits.size() * sizeof(float))) << name;

        ForwardOptions bad = fo;
        bad.start_layer = 1;
        expect_error([&] { forward(*model, batch, from, s2, bad); }, {"start_layer needs resid_pre"});
        bad.resid_pre = resid.data();
        bad.start_layer = int(model->config().n_layer);
        expect_error([&] { forward(*model, batch, from, s2, bad); }, {"start_layer 2 is outside"});
    }
}

TEST(Forward, LayerAndHeadFilters) {
    auto model = Model::load(fixture("gpt2-tiny"));
    HookSet hooks;
    std::vector<std::string> seen;
    std::vector<int> heads_seen;
    hooks.add(HookFilter::parse("blocks.*.attn.hook_pattern", "1", "0,2"), [&](const HookContext& ctx, TensorView v) {
        seen.push_back(ctx.name);
        heads_seen = ctx.heads;
        EXPECT_EQ(v.shape(), (std::vector<int64_t>{4, 3, 3}));
    });
    RunState state;
    forward(*model, Batch::from_sequences({{1, 2, 3}}), hooks, state);
    EXPECT_EQ(seen, (std::vector<std::string>{"blocks.1.attn.hook_pattern"}));
    EXPECT_EQ(heads_seen, (std::vector<int>{0, 2}));
}

TEST(ForwardBad, TokenIdsAndLengths) {
    auto model = Model::load(fixture("gpt2-tiny")); // vocab 300, n_positions 64
    HookSet none;
    RunState state;
    expect_error(
        [&] {
            forward(*model, Batch::from_sequences({{1, 2}, {3, 300}}), none, state);
        },
        {"sequence 1, position 1", "token id 300", "[0, 300)"});
    expect_error([&] { forward(*model, Batch::from_sequences({{-1}}), none, state); }, {"token id -1"});
    expect_error([&] { forward(*model, Batch::from_sequences({std::vector<int32_t>(65, 1)}), none, state); },
                 {"sequence 0", "65 tokens", "n_positions = 64"});
    expect_error([&] { forward(*model, Batch::from_sequences({{1}, {}}), none, state); }, {"sequence 1 is empty"});
    expect_error([&] { forward(*model, Batch{}, none, state); }, {"no sequences"});
    // the longest allowed sequence runs
    EXPECT_NO_THROW(forward(*model, Batch::from_sequences({std::vector<int32_t>(64, 299)}), none, state));
}

// Decoding with a KV cache gives, token after token, the logits of a full forward over the same
// text: learned positions (GPT-2), rotary with grouped heads, and a sliding window the text
// outgrows (Mistral, window 10).
TEST(Forward, KvCacheStepsEqualFullForwards) {
    for (const char* name : {"gpt2-tiny", "llama-gqa", "mistral-window"}) {
        auto model = Model::load(fixture(name));
        const int64_t V = model->config().vocab_size;
        std::vector<int32_t> text;
        for (int t = 0; t < 24; ++t)
            text.push_back(int32_t((t * 7 + 3) % V));
        KVCache cache(model->config(), 32);
        const double worst = kv_cache_vs_full(*model, text, 3, cache);
        RunState cached;
        ForwardOptions fo;
        fo.kv_cache = &cache;
        // a decode step is a product with one row: the batch-invariant kernels give it the full
        // forward's bits (issue #24)
        EXPECT_EQ(worst, 0.0) << name;
        std::printf("[ KV cache, %s ] worst logit difference, cached vs full: %.3g (relative)\n", name, worst);
        // patterns cannot be observed while decoding (their [H, T, T] shape does not hold)
        HookSet patterns;
        patterns.add(HookFilter::parse("blocks.0.attn.hook_pattern", "", ""), [](const HookContext&, TensorView) {});
        expect_error([&] { forward(*model, Batch::from_sequences({{1}}), patterns, cached, fo); },
                     {"cannot be observed during cached decoding"});
    }
}

// 16-bit checkpoints kept 16-bit in memory, widened per tile of output rows (here 16: every
// product in several tiles), give the values of upcasting at load bit for bit: widening is
// exact, and the batch-invariant products compute each output element the same way whatever
// columns share its product.
TEST(Forward, SixteenBitWeightsInMemoryEqualUpcastAtLoad) {
    for (const char* name : {"gpt2-bf16", "gpt2-f16", "llama-bf16"}) {
        LoadOptions as_stored, f32;
        f32.weights_f32 = true;
        auto m16 = Model::load(fixture(name), as_stored);
        auto m32 = Model::load(fixture(name), f32);
        EXPECT_FALSE(m16->layer(0).attn_out.f32()) << name << ": the matrix should stay 16-bit";
        EXPECT_TRUE(m32->layer(0).attn_out.f32());
        EXPECT_LT(m16->weight_bytes(), m32->weight_bytes());
        Expected exp = load_expected(fixture(name));
        Cache a, b;
        HookSet ha, hb;
        capture_into(ha, a);
        capture_into(hb, b);
        RunState sa, sb;
        ForwardOptions tiles;
        tiles.weight_tile = 16;
        forward(*m16, exp.batch, ha, sa, tiles);
        forward(*m32, exp.batch, hb, sb);
        ASSERT_EQ(a.size(), b.size());
        double worst = 0, worst_before_logits = 0;
        for (const auto& [key, v] : a) {
            const Captured& w = b.at(key);
            ASSERT_EQ(v.shape, w.shape) << key;
            double scale = 1e-30, diff = 0;
            for (size_t i = 0; i < v.data.size(); ++i)
                if (!(std::isinf(v.data[i]) && v.data[i] == w.data[i])) {
                    diff = std::max(diff, std::fabs(double(v.data[i]) - w.data[i]));
                    scale = std::max(scale, std::fabs(double(w.data[i])));
                }
            worst = std::max(worst, diff / std::max(scale, 1.0));
            if (key.find("logits") == std::string::npos) worst_before_logits = std::max(worst_before_logits, diff);
        }
        std::printf("[ 16-bit in memory, %s ] worst difference against upcast at load: %.3g (before the LM head: %.3g)\n",
                    name, worst, worst_before_logits);
        EXPECT_EQ(worst, 0.0) << name;
    }
}
