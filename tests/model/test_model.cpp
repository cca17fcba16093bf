// Loading GPT-2 checkpoints: config fields, both naming schemes, tied and separate LM heads,
// and a clear Error for every way a checkpoint can disagree with its config.
#include "core/error.h"
#include "model/model.h"

#include "test_util.h"
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

using namespace attnscope;
using namespace attnscope::test;
using nlohmann::json;

namespace {

json small_config() {
    return {{"model_type", "gpt2"}, {"n_layer", 1},    {"n_head", 2},
            {"n_embd", 4},          {"vocab_size", 5}, {"n_positions", 3}};
}

// A zero-weight GPT-2 checkpoint for `cfg`, with tensor `drop` left out and tensor `reshape`
// given shape `bad_shape`.
void write_checkpoint(const TempDir& dir, const json& cfg, const std::string& prefix = "transformer.",
                      const std::string& drop = "", const std::string& reshape = "",
                      std::vector<int64_t> bad_shape = {}) {
    write_file(dir.file("config.json"), cfg.dump());
    const int64_t D = cfg["n_embd"], V = cfg["vocab_size"], P = cfg["n_positions"], F = 4 * D;
    std::vector<std::pair<std::string, std::vector<int64_t>>> tensors = {{"wte.weight", {V, D}},
                                                                         {"wpe.weight", {P, D}}};
    for (int il = 0; il < int(cfg["n_layer"]); ++il) {
        const std::string h = "h." + std::to_string(il) + ".";
        for (auto [n, s] : std::vector<std::pair<std::string, std::vector<int64_t>>>{{"ln_1.weight", {D}},
                                                                                     {"ln_1.bias", {D}},
                                                                                     {"attn.c_attn.weight", {D, 3 * D}},
                                                                                     {"attn.c_attn.bias", {3 * D}},
                                                                                     {"attn.c_proj.weight", {D, D}},
                                                                                     {"attn.c_proj.bias", {D}},
                                                                                     {"ln_2.weight", {D}},
                                                                                     {"ln_2.bias", {D}},
                                                                                     {"mlp.c_fc.weight", {D, F}},
                                                                                     {"mlp.c_fc.bias", {F}},
                                                                                     {"mlp.c_proj.weight", {F, D}},
                                                                                     {"mlp.c_proj.bias", {D}}})
            tensors.push_back({h + n, s});
    }
    tensors.push_back({"ln_f.weight", {D}});
    tensors.push_back({"ln_f.bias", {D}});
    json header = json::object();
    uint64_t off = 0;
    for (auto& [name, shape] : tensors) {
        if (name == drop) continue;
        if (name == reshape) shape = bad_shape;
        int64_t n = 1;
        for (auto e : shape)
            n *= e;
        header[prefix + name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {off, off + uint64_t(n) * 4}}};
        off += uint64_t(n) * 4;
    }
    write_file(dir.file("model.safetensors"), safetensors_bytes(header.dump(), std::string(off, '\0')));
}

} // namespace

TEST(Model, LoadsFixtureWithPrefixAndTiedHead) {
    auto m = Model::load(fixture("gpt2-tiny"));
    const ModelConfig& c = m->config();
    EXPECT_EQ(c.model_type, "gpt2");
    EXPECT_EQ(c.architecture, "GPT2LMHeadModel");
    EXPECT_EQ(c.n_layer, 2);
    EXPECT_EQ(c.n_head, 4);
    EXPECT_EQ(c.d_head, 16);
    EXPECT_EQ(c.n_inner, 256);
    EXPECT_EQ(c.layer(0).activation, Activation::gelu_tanh);
    EXPECT_TRUE(m->lm_head_tied());
    EXPECT_EQ(m->weights_dtype(), "F32");
    EXPECT_NE(m->summary().find("layers:       2"), std::string::npos);
}

TEST(Model, LoadsWithoutPrefixAndOptionalFields) {
    auto m = Model::load(fixture("gpt2-odd"));
    const ModelConfig& c = m->config();
    EXPECT_EQ(c.n_inner, 100);
    EXPECT_EQ(c.layer(0).activation, Activation::gelu_erf);
    EXPECT_FLOAT_EQ(c.ln_eps, 1e-6f);
    EXPECT_TRUE(c.scale_attn_by_inverse_layer_idx);
}

TEST(Model, SeparateLmHeadAndBf16) {
    auto m = Model::load(fixture("gpt2-bf16"));
    EXPECT_FALSE(m->lm_head_tied());
    EXPECT_EQ(m->weights_dtype(), "BF16");
    auto h = Model::load(fixture("gpt2-f16"));
    EXPECT_EQ(h->weights_dtype(), "F16");
    EXPECT_EQ(h->config().layer(0).activation, Activation::relu);
}

TEST(Model, ZeroCheckpointsLoadBothWays) {
    for (const std::string prefix : {"transformer.", ""}) {
        TempDir dir;
        write_checkpoint(dir, small_config(), prefix);
        auto m = Model::load(dir.str());
        EXPECT_EQ(m->config().n_layer, 1);
    }
}

TEST(ModelBad, ConfigMissingField) {
    TempDir dir;
    json cfg = small_config();
    cfg.erase("n_head");
    write_checkpoint(dir, small_config());
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "missing required field 'n_head'"});
}

TEST(ModelBad, EmbdNotDivisibleByHeads) {
    TempDir dir;
    json cfg = small_config();
    cfg["n_head"] = 3;
    write_checkpoint(dir, small_config());
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "n_embd = 4", "not divisible by n_head = 3"});
}

TEST(ModelBad, ConfigValuesOutOfRangeOrWrongType) {
    TempDir dir;
    write_checkpoint(dir, small_config());
    json cfg = small_config();
    cfg["n_layer"] = 1000000000;
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "'n_layer' = 1000000000", "outside"});
    // fuzzing found it: an integral float beyond int64 was cast (undefined behaviour)
    cfg["n_layer"] = 6.5e44;
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "'n_layer' = 9223372036854775807", "outside"});
    cfg["n_layer"] = 2.5;
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "'n_layer' must be an integer"});
    cfg = small_config();
    cfg["n_embd"] = "four";
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "'n_embd' must be an integer"});
    cfg = small_config();
    cfg["activation_function"] = "quick_gelu";
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "'quick_gelu'", "not supported"});
    cfg = small_config();
    cfg["model_type"] = "t5";
    write_file(dir.file("config.json"), cfg.dump());
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "'t5'", "supported: gpt2"});
    write_file(dir.file("config.json"), "{\"model_type\": ");
    expect_error([&] { Model::load(dir.str()); }, {"config.json", "not valid JSON"});
}

TEST(ModelBad, MissingTensor) {
    TempDir dir;
    write_checkpoint(dir, small_config(), "transformer.", "h.0.attn.c_proj.bias");
    expect_error([&] { Model::load(dir.str()); },
                 {"'transformer.h.0.attn.c_proj.bias'", "expected shape [4]", "missing"});
}

TEST(ModelBad, UntiedHeadMissing) {
    TempDir dir;
    json cfg = small_config();
    cfg["tie_word_embeddings"] = false; // promises an lm_head.weight the checkpoint does not have
    write_checkpoint(dir, cfg);
    expect_error([&] { Model::load(dir.str()); }, {"tie_word_embeddings false", "'lm_head.weight'"});
    cfg["tie_word_embeddings"] = "no";
    write_checkpoint(dir, cfg);
    expect_error([&] { Model::load(dir.str()); }, {"tie_word_embeddings"});
}

TEST(ModelBad, WrongShape) {
    TempDir dir;
    write_checkpoint(dir, small_config(), "", "", "h.0.attn.c_attn.weight", {12, 4}); // transposed
    expect_error([&] { Model::load(dir.str()); },
                 {"model.safetensors", "'h.0.attn.c_attn.weight'", "has shape [12, 4]", "expected [4, 12]"});
}

TEST(ModelBad, NoWeightsOrNoDirectory) {
    TempDir dir;
    write_file(dir.file("config.json"), small_config().dump());
    expect_error([&] { Model::load(dir.str()); }, {dir.str(), "no model.safetensors"});
    write_file(dir.file("pytorch_model.bin"), "pickle");
    expect_error([&] { Model::load(dir.str()); }, {"pytorch_model.bin", "safetensors only"});
    expect_error([&] { Model::load(dir.file("nope")); }, {"nope", "not a directory"});
    TempDir empty;
    expect_error([&] { Model::load(empty.str()); }, {"no config.json"});
}

TEST(Model, ShardedCheckpoint) {
    TempDir dir;
    write_checkpoint(dir, small_config());
    // move everything into one shard named by an index
    std::filesystem::rename(dir.file("model.safetensors"), dir.file("model-00001-of-00001.safetensors"));
    json index = {{"weight_map", {{"transformer.wte.weight", "model-00001-of-00001.safetensors"}}}};
    write_file(dir.file("model.safetensors.index.json"), index.dump());
    auto m = Model::load(dir.str());
    EXPECT_EQ(m->weight_files().size(), 1u);
    index["weight_map"]["x"] = "../evil.safetensors";
    write_file(dir.file("model.safetensors.index.json"), index.dump());
    expect_error([&] { Model::load(dir.str()); }, {"model.safetensors.index.json", "plain file name"});
}

// The Llama family's config and checkpoint checks, on copies of a reference fixture.
TEST(ModelBad, LlamaFamilyConfigAndTensors) {
    const std::string src = fixture("llama-gqa");
    auto with = [&](const TempDir& dir, const std::function<void(json&)>& edit, bool drop_k = false) {
        json cfg = json::parse(read_file(src + "/config.json"));
        edit(cfg);
        write_file(dir.file("config.json"), cfg.dump());
        if (!drop_k) {
            std::filesystem::copy_file(src + "/model.safetensors", dir.file("model.safetensors"));
            return;
        }
        // the checkpoint without layer 1's k_proj
        SafetensorsFile st(src + "/model.safetensors");
        std::string header = "{", data;
        for (const auto& t : st.tensors()) {
            if (t.name == "model.layers.1.self_attn.k_proj.weight") continue;
            header += cat(header.size() > 1 ? "," : "", "\"", t.name, "\":{\"dtype\":\"F32\",\"shape\":[", t.shape[0],
                          t.shape.size() > 1 ? cat(",", t.shape[1]) : "", "],\"data_offsets\":[", data.size(), ",",
                          data.size() + (t.end - t.begin), "]}");
            data.append(reinterpret_cast<const char*>(st.raw(t)), t.end - t.begin);
        }
        write_file(dir.file("model.safetensors"), safetensors_bytes(header + "}", data));
    };
    {
        TempDir dir;
        with(dir, [](json& c) { c["num_key_value_heads"] = 3; });
        expect_error([&] { Model::load(dir.str()); },
                     {"config.json", "num_attention_heads = 8", "not a multiple of num_key_value_heads = 3"});
    }
    {
        TempDir dir;
        with(dir, [](json& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "rope_scaling type 'yarn'", "linear, llama3"});
    }
    {
        TempDir dir;
        with(dir, [](json& c) { c["hidden_act"] = "quick_gelu"; });
        expect_error([&] { Model::load(dir.str()); }, {"hidden_act 'quick_gelu'", "silu"});
    }
    {
        TempDir dir;
        with(dir, [](json& c) {
            c["model_type"] = "qwen2";
            c["use_sliding_window"] = true;
        });
        expect_error([&] { Model::load(dir.str()); }, {"use_sliding_window", "qwen2"});
    }
    {
        TempDir dir;
        with(dir, [](json& c) { c["tie_word_embeddings"] = false; });
        expect_error([&] { Model::load(dir.str()); }, {"tie_word_embeddings false", "'lm_head.weight'"});
    }
    {
        TempDir dir;
        with(
            dir, [](json&) {}, /*drop_k=*/true);
        expect_error([&] { Model::load(dir.str()); }, {"model.layers.1.self_attn.k_proj.weight"});
    }
    {
        TempDir dir;
        with(dir, [](json& c) { c["num_key_value_heads"] = 4; }); // k_proj stored [16, 64], expected [32, 64]
        expect_error([&] { Model::load(dir.str()); }, {"model.layers.0.self_attn.k_proj.weight", "[32, 64]"});
    }
    TempDir ok;
    with(ok, [](json&) {});
    auto model = Model::load(ok.str());
    EXPECT_EQ(model->config().n_kv_head, 2);
    EXPECT_TRUE(model->lm_head_tied());
    EXPECT_EQ(model->pos_embd(), nullptr);
    EXPECT_FALSE(model->layer(0).attn_qkv);
    EXPECT_EQ(model->layer(0).attn_q_b, nullptr); // absent biases are null, never zeros
}

// GPT-NeoX, OLMo and OLMo 2: what the description says, and bad configs and tensors, on copies of
// the reference fixtures (tools/reference/make_family_fixtures.py).
namespace {
// Copy fixture `src` into dir with config.json edited, and model.safetensors with the tensor
// `replace` (if given) holding the bytes and shape of `by` instead of its own.
void copy_fixture(const TempDir& dir, const std::string& src, const std::function<void(json&)>& edit,
                  const std::string& replace = "", const std::string& by = "") {
    json cfg = json::parse(read_file(src + "/config.json"));
    edit(cfg);
    write_file(dir.file("config.json"), cfg.dump());
    SafetensorsFile st(src + "/model.safetensors");
    std::string header = "{", data;
    for (const auto& t : st.tensors()) {
        const TensorInfo& from = t.name == replace ? *st.find(by) : t;
        std::string shape;
        for (int64_t n : from.shape)
            shape += cat(shape.empty() ? "" : ",", n);
        header += cat(header.size() > 1 ? "," : "", "\"", t.name, "\":{\"dtype\":\"", dtype_name(from.dtype),
                      "\",\"shape\":[", shape, "],\"data_offsets\":[", data.size(), ",",
                      data.size() + (from.end - from.begin), "]}");
        data.append(reinterpret_cast<const char*>(st.raw(from)), from.end - from.begin);
    }
    write_file(dir.file("model.safetensors"), safetensors_bytes(header + "}", data));
}
} // namespace

TEST(Model, GptNeoxAndOlmoDescriptions) {
    auto neox = Model::load(fixture("neox-parallel"));
    const ModelConfig& c = neox->config();
    EXPECT_EQ(c.model_type, "gpt_neox");
    EXPECT_TRUE(c.layer(0).parallel);
    EXPECT_EQ(c.layer(0).rotary_dim, 4); // 0.25 of 16
    EXPECT_EQ(c.layer(0).activation, Activation::gelu_erf);
    EXPECT_FALSE(neox->lm_head_tied());
    EXPECT_NE(neox->summary().find("parallel attention and MLP, pre-norm, rotary theta 10000 on 4 of 16 dims"),
              std::string::npos)
        << neox->summary();
    // parameters: every bound tensor once, here all of the checkpoint's
    SafetensorsFile st(fixture("neox-parallel") + "/model.safetensors");
    int64_t all = 0;
    for (const auto& t : st.tensors())
        all += t.numel();
    EXPECT_EQ(neox->n_params(), all);
    EXPECT_FALSE(Model::load(fixture("neox-sequential"))->config().layer(1).parallel);
    auto olmo = Model::load(fixture("olmo-clip"));
    EXPECT_FLOAT_EQ(olmo->config().layer(0).clip_qkv, 1.5f);
    EXPECT_EQ(olmo->layer(0).ln1_w, nullptr); // parameter-free LayerNorm
    EXPECT_EQ(olmo->config().norm, NormKind::layer_norm);
    auto olmo2 = Model::load(fixture("olmo2"));
    EXPECT_EQ(olmo2->config().layer(0).norm_placement, NormPlacement::post);
    EXPECT_EQ(olmo2->config().layer(0).qk_norm, QkNorm::whole);
    EXPECT_NE(olmo2->layer(1).ln2_post_w, nullptr);
}

TEST(ModelBad, GptNeoxAndOlmoConfigsAndTensors) {
    const std::string neox = fixture("neox-parallel");
    const std::string qkv = "gpt_neox.layers.0.attention.query_key_value.weight";
    {
        TempDir dir; // a fused QKV of the wrong size
        copy_fixture(
            dir, neox, [](json&) {}, qkv, "gpt_neox.layers.0.attention.dense.weight");
        expect_error([&] { Model::load(dir.str()); }, {qkv, "has shape [32, 32]", "expected [96, 32]"});
    }
    for (double pct : {0.0, 1.5, -0.25}) {
        TempDir dir;
        copy_fixture(dir, neox, [&](json& c) { c["rotary_pct"] = pct; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "rotary_pct = ", "must be in (0, 1]"});
    }
    {
        TempDir dir; // 0.1 of 16 dimensions: 1, not a pair
        copy_fixture(dir, neox, [](json& c) { c["partial_rotary_factor"] = 0.1; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "partial_rotary_factor", "rotates 1", "even"});
    }
    {
        TempDir dir;
        copy_fixture(dir, neox, [](json& c) { c["hidden_act"] = "quick_gelu"; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "hidden_act 'quick_gelu'", "supported:"});
    }
    {
        TempDir dir;
        copy_fixture(dir, neox, [](json& c) { c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "rope_scaling type 'dynamic'", "linear, llama3"});
    }
    {
        TempDir dir;
        copy_fixture(dir, fixture("olmo2"), [](json& c) { c["clip_qkv"] = 4.0; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "clip_qkv", "OLMo 2 does not clip"});
    }
    {
        TempDir dir;
        copy_fixture(dir, fixture("olmo-clip"), [](json& c) { c["clip_qkv"] = -1.0; });
        expect_error([&] { Model::load(dir.str()); }, {"config.json", "clip_qkv = -1", "above 0"});
    }
}
