// A real trained model: tests/data/stories260K (llama2.c format) converted to a Hugging Face
// directory, then greedy decoding with the KV cache must reproduce the model author's tokens
// (64 ids of greedy_reference.txt; 200 of greedy_reference_200.txt, llama2.c's own test). Plus:
// each cached decoding step equals a full forward over the same tokens, and broken llama2.c
// files are refused by name.
#include "convert/llama2c.h"
#include "engine/forward.h"
#include "engine/kv_check.h"
#include "generate/generate.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::test;

namespace {

const std::string kStories = std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/stories260K";

// The ids listed in a reference file: after "greedy token ids: [" (comma-separated) or "ids: "
// (space-separated).
std::vector<int32_t> reference_ids(const std::string& file) {
    const std::string text = read_file(kStories + "/" + file);
    size_t at = text.find("greedy token ids: [");
    std::string list;
    if (at != std::string::npos) {
        at += 19;
        list = text.substr(at, text.find(']', at) - at);
    } else {
        at = text.rfind("ids: ");
        list = text.substr(at + 5, text.find('\n', at) - at - 5);
    }
    for (char& c : list)
        if (c == ',') c = ' ';
    std::istringstream in(list);
    std::vector<int32_t> ids;
    for (int32_t v; in >> v;)
        ids.push_back(v);
    return ids;
}

class Stories : public ::testing::Test {
  protected:
    void SetUp() override {
        convert_llama2c(kStories + "/stories260K.bin", kStories + "/tok512.model", dir_.file("model"));
        model_ = Model::load(dir_.file("model"));
    }
    TempDir dir_;
    std::shared_ptr<const Model> model_;
};

} // namespace

TEST_F(Stories, ConvertedModelLoadsAsLlama) {
    const ModelConfig& c = model_->config();
    EXPECT_EQ(c.model_type, "llama");
    EXPECT_EQ(c.n_layer, 5);
    EXPECT_EQ(c.n_head, 8);
    EXPECT_EQ(c.n_kv_head, 4);
    EXPECT_EQ(c.n_embd, 64);
    EXPECT_EQ(c.n_inner, 172);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.n_positions, 512);
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_TRUE(model_->lm_head_tied());
    EXPECT_EQ(model_->n_params(), 260032);
    EXPECT_TRUE(std::filesystem::exists(dir_.file("model/tokenizer.model")));
}

TEST_F(Stories, GreedyFromBosReproducesTheAuthorsTokens) {
    for (const char* file : {"greedy_reference.txt", "greedy_reference_200.txt"}) {
        const std::vector<int32_t> want = reference_ids(file);
        ASSERT_GE(want.size(), 64u) << file;
        GenerateOptions greedy;
        greedy.max_new_tokens = int(want.size());
        const GenerateResult r = generate(*model_, {1}, greedy);
        EXPECT_EQ(r.ids, want) << file;
    }
}

// Each token decoded against the cache gets the logits a full forward over the whole text gives.
TEST_F(Stories, CachedStepsEqualFullForwards) {
    const std::vector<int32_t> want = reference_ids("greedy_reference.txt");
    std::vector<int32_t> text = {1};
    text.insert(text.end(), want.begin(), want.begin() + 20);
    KVCache cache(model_->config(), 64);
    const double worst = kv_cache_vs_full(*model_, text, 5, cache); // a prefill of 5, then one at a time
    EXPECT_EQ(cache.n_past, int64_t(text.size()));
    EXPECT_LE(worst, 1e-5);
    std::printf("[ KV cache ] worst logit difference, cached vs full forward: %.3g (relative)\n", worst);
    // more tokens than the cache holds: refused, saying so
    KVCache small(model_->config(), 2);
    RunState state;
    HookSet none;
    ForwardOptions fo;
    fo.kv_cache = &small;
    expect_error([&] { forward(*model_, Batch::from_sequences({{1, 2, 3}}), none, state, fo); },
                 {"exceed the cache's 2"});
}

TEST(Llama2cBad, HeaderAndSizeMustAgree) {
    TempDir dir;
    auto header = [](std::vector<int32_t> h) {
        return std::string(reinterpret_cast<const char*>(h.data()), h.size() * 4);
    };
    // dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 10 (shared), seq_len 4
    const int64_t floats = 10 * 8 + (2 * 8 + 8 * 8 + 2 * 8 * 4 + 8 * 8 + 3 * 8 * 16) + 8 + 4 * 4;
    const std::string good = header({8, 16, 1, 2, 1, 10, 4}) + std::string(size_t(floats) * 4, '\0');
    write_file(dir.file("ok.bin"), good);
    const Llama2cInfo in = convert_llama2c(dir.file("ok.bin"), "", dir.file("ok"));
    EXPECT_EQ(in.n_params, floats - 16);
    EXPECT_TRUE(Model::load(dir.file("ok"))->lm_head_tied());
    expect_error([&] { convert_llama2c(dir.file("ok.bin"), "", dir.file("ok")); }, {"already holds a config.json"});

    write_file(dir.file("short.bin"), good.substr(0, good.size() - 4));
    expect_error([&] { convert_llama2c(dir.file("short.bin"), "", dir.file("x")); },
                 {"short.bin", "the header describes", "truncated"});
    write_file(dir.file("heads.bin"), header({8, 16, 1, 3, 1, 10, 4}) + std::string(100, '\0'));
    expect_error([&] { convert_llama2c(dir.file("heads.bin"), "", dir.file("x")); }, {"heads.bin", "n_heads = 3"});
    write_file(dir.file("neg.bin"), header({-8, 16, 1, 2, 1, 10, 4}));
    expect_error([&] { convert_llama2c(dir.file("neg.bin"), "", dir.file("x")); }, {"neg.bin", "dim = -8"});
    write_file(dir.file("v1.bin"), header({0x616b3432, 1, 0, 0, 0, 0, 0}));
    expect_error([&] { convert_llama2c(dir.file("v1.bin"), "", dir.file("x")); }, {"v1.bin", "ak42", "--version 0"});
    write_file(dir.file("tiny.bin"), "abc");
    expect_error([&] { convert_llama2c(dir.file("tiny.bin"), "", dir.file("x")); }, {"tiny.bin", "too short"});
    EXPECT_FALSE(std::filesystem::exists(dir.file("x/config.json")));
}

// The tokenizer the converter writes (tokenizer.json from tok512.model) decodes the reference ids
// to the reference texts: llama2.c's own test's 200-token text, and the author's 64-token sample.
TEST_F(Stories, ConvertedTokenizerDecodesTheReferenceText) {
    const Tokenizer tok = Tokenizer::load(dir_.file("model"));
    EXPECT_NE(tok.source().find("tokenizer.json"), std::string::npos);
    const std::string t200 = read_file(kStories + "/greedy_reference_200.txt");
    std::string want = t200.substr(t200.find("text:\n") + 6);
    while (!want.empty() && want.back() == '\n')
        want.pop_back();
    EXPECT_EQ(tok.decode(reference_ids("greedy_reference_200.txt")), want);
    const std::string t64 = read_file(kStories + "/greedy_reference.txt");
    const size_t b = t64.find("greedy from BOS: ") + 17, e = t64.find("\ngreedy token ids");
    EXPECT_EQ(tok.decode(reference_ids("greedy_reference.txt")), t64.substr(b, e - b));
    // and encodes the text back to the same ids, after its BOS
    std::vector<int32_t> ids = {1};
    const auto ref = reference_ids("greedy_reference.txt");
    ids.insert(ids.end(), ref.begin(), ref.end());
    EXPECT_EQ(tok.encode(t64.substr(b, e - b)), ids);
}
