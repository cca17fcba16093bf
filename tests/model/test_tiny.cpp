// The built-in model (models/tiny, trained by tools/train/train_tiny.py): it resolves as "tiny",
// loads through the ordinary GPT-2 path, tokenizes its held-out slice exactly as the trainer's
// Python encoder did, reproduces the recorded held-out loss, and its greedy continuation of a
// fixed prompt is the recorded one. CI never retrains; these guard the committed files.
#include "engine/forward.h"
#include "io/json.h"
#include "io/resolve.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

#include <cmath>

using namespace attnscope;
using namespace attnscope::test;

namespace {

nlohmann::json eval_record() { return read_json_file(fixture("tiny-eval.json")); }

// Mean next-token cross-entropy (nats) of a sequence under the model.
double sequence_loss(const Model& model, const std::vector<int32_t>& ids) {
    HookSet none;
    RunState state;
    const Batch b = Batch::from_sequences({ids});
    forward(model, b, none, state, {.logits = true});
    const int64_t V = model.config().vocab_size;
    const TensorView lg = state.logits_of(b, 0, V);
    double total = 0;
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
        double mx = -1e30, z = 0;
        for (int64_t v = 0; v < V; ++v) mx = std::max(mx, double(lg.at(int64_t(t), v)));
        for (int64_t v = 0; v < V; ++v) z += std::exp(double(lg.at(int64_t(t), v)) - mx);
        total += mx + std::log(z) - lg.at(int64_t(t), ids[t + 1]);
    }
    return total / double(ids.size() - 1);
}

} // namespace

TEST(TinyModel, ResolvesAndLoadsLikeAnyCheckpoint) {
    const ResolvedModel r = resolve_model("tiny");
    EXPECT_EQ(r.source, "built-in");
    auto model = Model::load(r.path);
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.model_type, "gpt2");
    EXPECT_EQ(c.n_layer, 4);
    EXPECT_FALSE(model->lm_head_tied()); // its own LM head: the card says why
    const Tokenizer tok = Tokenizer::load(r.path);
    EXPECT_EQ(tok.vocab_size(), c.vocab_size);
    // the two tokenizer formats it ships give the same ids
    const Tokenizer vm = Tokenizer::from_vocab_merges(r.path + "/vocab.json", r.path + "/merges.txt");
    const std::string text = eval_record()["heldout_text"];
    EXPECT_EQ(tok.encode(text), vm.encode(text));
}

TEST(TinyModel, HeldOutLossIsAsRecorded) {
    const ResolvedModel r = resolve_model("tiny");
    auto model = Model::load(r.path);
    const Tokenizer tok = Tokenizer::load(r.path);
    const nlohmann::json rec = eval_record();
    const std::vector<int32_t> want = rec["heldout_ids"];
    const std::vector<int32_t> ids = tok.encode(rec["heldout_text"].get<std::string>());
    EXPECT_EQ(ids, want) << "the C++ tokenizer must give the trainer's ids";
    const double loss = sequence_loss(*model, want);
    const double recorded = rec["heldout_loss"];
    EXPECT_NEAR(loss, recorded, 1e-4 * recorded);
    std::printf("[ tiny ] held-out slice: %zu tokens, loss %.5f nats/token (recorded %.5f)\n", want.size(), loss, recorded);
}

TEST(TinyModel, GreedyContinuationIsStable) {
    const ResolvedModel r = resolve_model("tiny");
    auto model = Model::load(r.path);
    const nlohmann::json rec = eval_record();
    std::vector<int32_t> ids = rec["prompt_ids"];
    const std::vector<int32_t> want = rec["greedy_ids"];
    HookSet none;
    RunState state;
    const int64_t V = model->config().vocab_size;
    while (ids.size() < want.size()) {
        const Batch b = Batch::from_sequences({ids});
        forward(*model, b, none, state, {.logits = true});
        const TensorView lg = state.logits_of(b, 0, V);
        const int64_t last = int64_t(ids.size()) - 1;
        int32_t best = 0;
        for (int64_t v = 1; v < V; ++v)
            if (lg.at(last, v) > lg.at(last, best)) best = int32_t(v);
        ids.push_back(best);
    }
    EXPECT_EQ(ids, want);
    const Tokenizer tok = Tokenizer::load(r.path);
    std::printf("[ tiny ] greedy: %s\n", tok.decode(ids).c_str());
}
