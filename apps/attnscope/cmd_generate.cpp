// attnscope generate: decodes with a KV cache from a prompt, and optionally captures the prompt and its continuation.
#include "cli.h"

namespace attnscope::cli {

int cmd_generate(const Args& args) {
    // with --output, a Runner (model and tokenizer) captures the prompt and its continuation
    const std::string output = args.get("--output");
    std::optional<Runner> runner;
    std::shared_ptr<const Model> model;
    std::optional<Tokenizer> own_tok;
    const Tokenizer* tok = nullptr;
    std::string tok_error;
    if (!output.empty()) {
        runner.emplace(model_arg(args), capture_options(args));
        tok = &runner->tokenizer();
    } else {
        const ResolvedModel rm = resolve_model(model_arg(args));
        LoadOptions lo;
        lo.weights_f32 = weights_f32(args);
        model = Model::load(rm.path, lo);
        try {
            own_tok.emplace(Tokenizer::load(rm.path));
            tok = &*own_tok;
        } catch (const Error& e) {
            tok_error = e.what();
        }
    }
    const Model& m = runner ? runner->model() : *model;
    const ModelConfig& c = m.config();
    std::vector<int32_t> prompt;
    const std::string ids = args.get("--ids"), text = args.get("--prompt");
    if (!ids.empty() && !text.empty()) throw Error("generate: give --ids or --prompt, not both");
    if (!ids.empty()) {
        for (const std::string& x : split_list(ids)) {
            char* end = nullptr;
            const long v = std::strtol(x.c_str(), &end, 10);
            if (x.empty() || *end || v < 0 || v >= c.vocab_size)
                throw Error(cat("--ids: '", x, "' is not a token id of this model (0..", c.vocab_size - 1, ")"));
            prompt.push_back(int32_t(v));
        }
    } else if (!text.empty()) {
        if (!tok) throw Error(cat("generate: --prompt needs the model's tokenizer: ", tok_error), "give --ids instead");
        prompt = tok->encode(text);
    } else {
        if (c.bos_token_id < 0) throw Error("generate: the model names no BOS token", "give --ids or --prompt");
        prompt = {c.bos_token_id};
    }
    GenerateOptions go;
    go.max_new_tokens = int(args.integer("--max-new-tokens", 0, 1 << 20));
    go.temperature = float(args.number("--temperature", 0, 100));
    go.top_k = int(args.integer("--top-k", 0, 1 << 22));
    go.seed = uint64_t(args.integer("--seed", 0, 4294967295L));
    go.stop_ids = c.eos_token_ids;
    const bool json_out = args.has("--json");
    // streamed as the decoder writes the whole text so far (a decoder may strip the text's first
    // space, never a later token's), printing what is new
    std::vector<int32_t> so_far;
    size_t printed = 0;
    const GenerateResult r = generate(m, prompt, go, [&](int32_t id) {
        if (json_out || !tok) return;
        so_far.push_back(id);
        const std::string text = tok->decode(so_far);
        if (text.size() > printed) std::fputs(text.c_str() + printed, stdout);
        printed = text.size();
        std::fflush(stdout);
    });
    const std::string out_text = tok ? tok->decode(r.ids) : "";
    if (json_out) {
        nlohmann::json j = {{"prompt_ids", prompt}, {"ids", r.ids}};
        j["text"] = tok ? nlohmann::json(out_text) : nlohmann::json(nullptr);
        std::printf("%s\n", j.dump().c_str());
    } else if (!tok) {
        std::string line;
        for (int32_t id : r.ids)
            line += (line.empty() ? "" : " ") + std::to_string(id);
        std::printf("%s\n", line.c_str());
        std::fprintf(stderr, "attnscope: note: ids only (%s)\n", tok_error.c_str());
    } else {
        std::printf("\n");
    }
    std::fprintf(stderr, "attnscope: %zu tokens in %.3f s (prompt %zu tokens: %.3f s)\n", r.ids.size(),
                 r.decode_seconds + r.prefill_seconds, prompt.size(), r.prefill_seconds);
    if (runner) { // one forward over the prompt and its continuation, captured
        std::vector<int32_t> all = prompt;
        all.insert(all.end(), r.ids.begin(), r.ids.end());
        const PreparedData data = runner->prepare_ids(std::move(all), int64_t(prompt.size()));
        std::signal(SIGINT, on_sigint);
        std::signal(SIGTERM, on_sigint);
        const CaptureSummary s = runner->run_with_hooks(data, output);
        std::fprintf(stderr, "attnscope: wrote %s: %lld tokens (prompt %zu), %lld tensors, %.1f MB in %.1f s\n",
                     s.dir.c_str(), (long long)s.n_tokens, prompt.size(), (long long)s.n_tensors, double(s.bytes) / 1e6,
                     s.seconds);
    }
    return 0;
}

extern const Verb verb_generate{
    "generate",
    "--model M [--ids LIST | --prompt T] [options] [--output DIR [capture options]]",
    "decode with a KV cache; optionally capture the prompt and its continuation",
    "Decodes with a KV cache (greedy unless --temperature > 0) from the given ids, the prompt's tokens, or the "
    "model's BOS, and stops at its EOS; prints the text as it comes (the ids when the tokenizer is not readable). "
    "--output DIR captures the prompt and its continuation in one forward pass: the manifest records "
    "prompt_length and the viewer marks where the prompt ends.",
    join({{model_option(), revision_option(),
           {"--ids", "LIST", "", "the prompt as token ids, comma-separated"},
           {"--prompt", "T", "", "the prompt as text"},
           {"--max-new-tokens", "N", "64", "the most tokens to generate"},
           {"--temperature", "X", "0", "sampling temperature; 0: greedy"},
           {"--top-k", "K", "0", "sample among the K likeliest tokens; 0: all"},
           {"--seed", "S", "0", "the sampling seed"},
           {"--json", "", "", "print {\"prompt_ids\", \"ids\", \"text\"} instead of the text"},
           {"--output", "DIR", "", "also capture the prompt and its continuation into DIR"}},
          capture_option_list()}),
    cmd_generate};

} // namespace attnscope::cli
