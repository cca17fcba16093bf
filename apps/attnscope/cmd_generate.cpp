// attnscope generate: decodes with a KV cache from a prompt, and optionally captures the prompt and its continuation.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_generate(const Args& args) {
    // with --output, a Runner (model and tokenizer) captures the prompt and its continuation
    const std::string output = args.get("--output");
    std::optional<Runner> runner;
    std::shared_ptr<const Model> model;
    std::optional<Tokenizer> own_tok;
    const Tokenizer* tok = nullptr;
    std::string tok_error;
    if (!output.empty()) {
        runner.emplace(args.require("--model", "generate"), capture_options(args));
        tok = &runner->tokenizer();
    } else {
        const ResolvedModel rm = resolve_model(args.require("--model", "generate"));
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
    auto number = [&](const char* flag, double fallback, double lo, double hi) {
        const std::string v = args.get(flag);
        if (v.empty()) return fallback;
        char* end = nullptr;
        const double n = std::strtod(v.c_str(), &end);
        if (*end || !(n >= lo && n <= hi))
            throw Error(cat(flag, ": expected a number from ", lo, " to ", hi, ", found '", v, "'"));
        return n;
    };
    go.max_new_tokens = int(number("--max-new-tokens", 64, 0, 1 << 20));
    go.temperature = float(number("--temperature", 0, 0, 100));
    go.top_k = int(number("--top-k", 0, 0, 1 << 22));
    go.seed = uint64_t(number("--seed", 0, 0, 4294967295.0));
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

} // namespace attnscope::cli
