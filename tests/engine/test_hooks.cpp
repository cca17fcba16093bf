// Hook names, globs, index lists and the ask-step plan.
#include "engine/hooks.h"

#include "test_util.h"
#include <algorithm>

using namespace attnscope;
using namespace attnscope::test;

TEST(Hooks, NamesAreTransformerLens) {
    EXPECT_EQ(hook_name(Hook::pattern, 3), "blocks.3.attn.hook_pattern");
    EXPECT_EQ(hook_name(Hook::ln1_normalized, 0), "blocks.0.ln1.hook_normalized");
    EXPECT_EQ(hook_name(Hook::attn_out, 11), "blocks.11.hook_attn_out");
    EXPECT_EQ(hook_name(Hook::embed, -1), "hook_embed");
    EXPECT_EQ(hook_name(Hook::logits, -1), "logits");
    ModelConfig gpt2;
    gpt2.n_layer = 2;
    gpt2.layers.assign(2, LayerSpec{});
    const auto all = all_hook_names(gpt2);
    EXPECT_EQ(all.front(), "hook_embed");
    EXPECT_EQ(all.back(), "logits");
    EXPECT_EQ(all.size(), size_t(4 + 2 * 15));
    // a Llama-shaped model: rotary q and k, the gated MLP's up projection, no position table
    ModelConfig llama = gpt2;
    llama.positions = PositionKind::rotary, llama.norm = NormKind::rms_norm;
    for (LayerSpec& l : llama.layers)
        l.mlp = MlpKind::gated;
    const auto names = all_hook_names(llama);
    EXPECT_EQ(names.size(), size_t(3 + 2 * 18));
    EXPECT_EQ(std::count(names.begin(), names.end(), "hook_pos_embed"), 0);
    EXPECT_EQ(std::count(names.begin(), names.end(), "blocks.1.attn.hook_rot_k"), 1);
    EXPECT_EQ(std::count(names.begin(), names.end(), "blocks.0.mlp.hook_pre_linear"), 1);
    // per layer: a parallel block has no hook_resid_mid; a post-norm block has ln1_post and
    // ln2_post instead of ln1 and ln2
    ModelConfig mixed = llama;
    mixed.layers[0].parallel = true;
    mixed.layers[1].norm_placement = NormPlacement::post;
    const auto m = all_hook_names(mixed);
    EXPECT_EQ(m.size(), names.size() - 1);
    EXPECT_EQ(std::count(m.begin(), m.end(), "blocks.0.hook_resid_mid"), 0);
    EXPECT_EQ(std::count(m.begin(), m.end(), "blocks.1.hook_resid_mid"), 1);
    EXPECT_EQ(std::count(m.begin(), m.end(), "blocks.0.ln1.hook_normalized"), 1);
    EXPECT_EQ(std::count(m.begin(), m.end(), "blocks.1.ln1.hook_normalized"), 0);
    EXPECT_EQ(std::count(m.begin(), m.end(), "blocks.1.ln2_post.hook_normalized"), 1);
    EXPECT_TRUE(hook_exists(Hook::resid_mid, mixed));
    EXPECT_FALSE(hook_exists(Hook::resid_mid, mixed, 0));
}

TEST(Hooks, Glob) {
    EXPECT_TRUE(glob_match("blocks.*.attn.hook_pattern", "blocks.10.attn.hook_pattern"));
    EXPECT_FALSE(glob_match("blocks.*.attn.hook_pattern", "blocks.1.attn.hook_z"));
    EXPECT_TRUE(glob_match("*", "logits"));
    EXPECT_TRUE(glob_match("blocks.?.hook_*", "blocks.3.hook_resid_pre"));
    EXPECT_FALSE(glob_match("blocks.?.hook_*", "blocks.13.hook_resid_pre"));
    EXPECT_TRUE(glob_match("*resid*", "blocks.0.hook_resid_mid"));
    EXPECT_FALSE(glob_match("logits", "logits2"));
    EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
    EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
}

TEST(Hooks, IndexLists) {
    EXPECT_EQ(parse_index_list("0-3,11", "--layers"), (std::vector<int>{0, 1, 2, 3, 11}));
    EXPECT_EQ(parse_index_list("5,1,5", "--layers"), (std::vector<int>{1, 5}));
    EXPECT_TRUE(parse_index_list("", "--layers").empty());
    expect_error([] { parse_index_list("3-1", "--layers"); }, {"--layers", "'3-1'"});
    expect_error([] { parse_index_list("a", "--heads"); }, {"--heads", "'a'", "0-3,11"});
    expect_error([] { parse_index_list("1,,2", "--heads"); }, {"--heads"});
    expect_error([] { parse_index_list("-1", "--heads"); }, {"--heads"});
}

TEST(Hooks, PlanAnswersTheAskStep) {
    HookSet hooks;
    EXPECT_TRUE(hooks.empty());
    hooks.add(HookFilter::parse("blocks.*.attn.hook_pattern, logits", "1-2", ""),
              [](const HookContext&, TensorView) {});
    const auto plan = hooks.plan(4);
    EXPECT_FALSE(plan.wants(Hook::pattern, 0));
    EXPECT_TRUE(plan.wants(Hook::pattern, 1));
    EXPECT_TRUE(plan.wants(Hook::pattern, 2));
    EXPECT_FALSE(plan.wants(Hook::pattern, 3));
    EXPECT_FALSE(plan.wants(Hook::z, 1));
    EXPECT_TRUE(plan.wants(Hook::logits));
    EXPECT_FALSE(plan.wants(Hook::embed));
    EXPECT_TRUE(plan.any_attention_matrix(1));
    EXPECT_FALSE(plan.any_attention_matrix(0));
}
