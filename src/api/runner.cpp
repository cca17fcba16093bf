// The Runner: resolve and load a model and its tokenizer, tokenize texts, and run them through
// a capture session (capture/session.h) into a capture directory, into memory, or, for a
// stats-only run, into the analysis's sums: per-head statistics from each attention row as the
// forward pass makes it, checkpointed through the session so an interrupted run resumes to the
// same bytes. Interventions, decoding and the head probe are passed to their layers.
#include "api/runner.h"

#include "report/report.h"
#include "engine/kernels.h"

#include "core/error.h"

#include <chrono>
#include <filesystem>

namespace attnscope {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

Runner::Runner(const std::string& model, RunnerOptions options) : options_(std::move(options)) {
    resolved_ = resolve_model(model);
    LoadOptions lo;
    lo.weights_f32 = options_.weights_f32;
    model_ = Model::load(resolved_.path, lo);
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(resolved_.path));
    if (options_.batch_size < 1 || options_.batch_size > 4096)
        throw Error(cat("--batch-size: ", options_.batch_size, " is outside 1..4096"));
    spec(); // validate capture, layers and heads now, before any work
}

PreparedData Runner::prepare_ids(std::vector<int32_t> ids, int64_t prompt_length) const {
    const ModelConfig& cfg = model_->config();
    if (ids.empty()) throw Error("prepare_ids: no token ids", "give at least one token");
    if (int64_t(ids.size()) > cfg.n_positions)
        throw Error(cat("prepare_ids: ", ids.size(), " tokens, more than the model's n_positions = ", cfg.n_positions));
    if (prompt_length > int64_t(ids.size()))
        throw Error(cat("prepare_ids: prompt_length ", prompt_length, " is beyond the ", ids.size(), " tokens"));
    for (int32_t id : ids)
        if (id < 0 || id >= cfg.vocab_size)
            throw Error(cat("prepare_ids: token id ", id, " is outside the vocabulary [0, ", cfg.vocab_size, ")"));
    PreparedData d;
    d.max_length = cfg.n_positions;
    d.texts.push_back(tokenizer_->decode(ids));
    d.truncated.push_back(false);
    d.batch.tokens.push_back(std::move(ids));
    if (prompt_length >= 0) d.prompt_lengths.push_back(prompt_length);
    return d;
}

HeadImportance Runner::ablate(const PreparedData& data, const AblateOptions& options) const {
    model_->prefault(); // every weight will be read, once per target
    HeadImportance r = ablate_heads(*model_, data.batch, options);
    r.model = resolved_.name;
    return r;
}

namespace {
// Tokens as one readable list for messages: "' Mary', ' had'".
std::string cat_tokens(const std::vector<std::string>& toks) {
    std::string out;
    for (const auto& t : toks)
        out += (out.empty() ? "'" : ", '") + t + "'";
    return out;
}
} // namespace

PatchResult Runner::patch(const std::string& clean, const std::string& corrupt, const std::string& answer,
                          const std::string& wrong, PatchWhat what,
                          const std::function<void(int64_t, int64_t)>& on_progress) const {
    auto one_token = [&](const std::string& text, const char* flag) {
        const auto ids = tokenizer_->encode(text, {.add_special_tokens = false});
        if (ids.size() != 1)
            throw Error(cat(flag, ": '", text, "' is ", ids.size(), " tokens (", cat_tokens(tokenizer_->display(ids)), "), not one"),
                        "give a single token, with its leading space if it has one (e.g. \" Mary\")");
        return ids[0];
    };
    PatchOptions o;
    o.what = what;
    if (answer.empty() && wrong.empty()) {
        o.metric = PatchMetric::loss;
    } else {
        o.answer = one_token(answer, "--answer");
        o.wrong = one_token(wrong, "--wrong");
    }
    o.on_progress = on_progress;
    model_->prefault();
    return patch_activations(*model_, tokenizer_->encode(clean), tokenizer_->encode(corrupt), o);
}

GenerateResult Runner::generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                const std::function<void(int32_t)>& on_token) const {
    return attnscope::generate(*model_, prompt, options, on_token);
}

PreparedData Runner::prepare_sequences(std::vector<std::vector<int32_t>> seqs) const {
    PreparedData d;
    for (auto& ids : seqs) {
        PreparedData one = prepare_ids(std::move(ids));
        d.texts.push_back(std::move(one.texts[0]));
        d.truncated.push_back(false);
        d.batch.tokens.push_back(std::move(one.batch.tokens[0]));
        d.max_length = one.max_length;
    }
    return d;
}

CaptureSpec Runner::spec() const {
    return CaptureSpec::parse(options_.capture, options_.layers, options_.heads, options_.dtype, model_->config());
}

PreparedData Runner::prepare_data(std::vector<std::string> texts, int64_t max_length) const {
    const ModelConfig& cfg = model_->config();
    if (max_length <= 0) max_length = cfg.n_positions;
    if (max_length > cfg.n_positions)
        throw Error(cat("--max-length: ", max_length, " is more than the model's n_positions = ", cfg.n_positions),
                    cat("use at most ", cfg.n_positions));
    if (texts.empty()) throw Error("no texts to run", "give --text or --input");
    PreparedData d;
    d.max_length = max_length;
    for (size_t i = 0; i < texts.size(); ++i) {
        std::vector<int32_t> ids;
        try {
            ids = tokenizer_->encode(texts[i]);
        } catch (const Error& e) { // say which text: the tokenizer only knows the byte offset
            throw Error(cat("text ", i, ": ", e.what()));
        }
        if (ids.empty()) throw Error(cat("text ", i, " is empty"), "every text needs at least one token");
        const bool cut = int64_t(ids.size()) > max_length;
        if (cut) {
            ids.resize(size_t(max_length));
            ++d.n_truncated;
        }
        d.truncated.push_back(cut);
        ids.shrink_to_fit();
        d.batch.tokens.push_back(std::move(ids));
    }
    if (d.n_truncated && options_.on_warning)
        options_.on_warning(cat(d.n_truncated, " of ", texts.size(), " texts were longer than ", max_length,
                                " tokens and were truncated"));
    d.texts = std::move(texts);
    return d;
}
CaptureSession Runner::session(const PreparedData& data) const {
    SessionOptions o;
    o.batch_size = options_.batch_size;
    o.force = options_.force, o.resume = options_.resume, o.durable = options_.durable;
    o.on_progress = options_.on_progress;
    o.cancel = options_.cancel;
    return CaptureSession({*model_, *tokenizer_, resolved_}, data, spec(), std::move(o));
}

CaptureSummary Runner::run_with_hooks(const PreparedData& data, const std::string& dir) const {
    return session(data).capture(dir);
}

ActivationCache Runner::run_with_hooks(const PreparedData& data) const {
    return session(data).capture();
}

AnalysisResult Runner::run_stats_only(const PreparedData& data, const std::string& dir, bool covariance,
                                      bool loss) const {
    const CaptureSession session = this->session(data);
    const CaptureSpec& sp = session.spec();
    const ModelConfig& cfg = model_->config();
    const int L = cfg.n_layer, H = cfg.n_head;
    if (!dir.empty() && fs::exists(dir) && !fs::is_directory(dir))
        throw Error(cat(dir, ": exists and is not a directory"), "choose another --output");
    AnalysisOptions ao;
    // effective dimensionality needs 3 x D x D sums per layer: asked for (--covariance), and only
    // while they stay under 1 GB
    const double cov_bytes = 3.0 * L * double(cfg.n_embd) * cfg.n_embd * 8;
    if (covariance && cov_bytes > 1e9)
        throw Error(cat("--covariance: the covariances of ", L, " layers x ", cfg.n_embd, "^2 would take ",
                        int64_t(cov_bytes / 1e6), " MB"),
                    "leave --covariance out (effective dimensionality is then not computed), or capture hidden states "
                    "with --capture inputs,outputs and analyze");
    ao.covariance = covariance;
    Analyzer an(cfg, ao);
    an.set_rows_only();
    std::vector<int> layers = sp.layers, heads = sp.heads;
    if (layers.empty())
        for (int il = 0; il < L; ++il)
            layers.push_back(il);
    if (heads.empty())
        for (int h = 0; h < H; ++h)
            heads.push_back(h);
    std::vector<char> layer_on(size_t(L), 0), head_on(size_t(H), 0);
    for (int il : layers)
        layer_on[size_t(il)] = 1, an.mark_layer(il, sp.heads);
    for (int h : heads)
        head_on[size_t(h)] = 1;

    // The manifest of the statistics file: the capture's, with what a stats-only run reads.
    ojson m = session.manifest({});
    m["capture"]["patterns"] = {"blocks.*.attn.hook_pattern", "blocks.*.hook_resid_pre", "blocks.*.ln1.hook_normalized",
                                "blocks.*.hook_attn_out"};
    m["capture"]["dtype"] = dtype_name(DType::f32);
    m["capture"]["statistics"] = {{"covariance", ao.covariance}, {"max_offset", ao.max_offset},
                                  {"loss", loss}};
    const nlohmann::json manifest_json = nlohmann::json::parse(m.dump());

    // Resume: the sums of the batches done so far are kept in a checkpoint (a whole statistics
    // file), and the progress file names how many batches it holds.
    const std::string resume_path = dir.empty() ? "" : progress_file(dir);
    const std::string checkpoint = dir.empty() ? "" : (fs::path(dir) / kStatisticsCheckpoint).string();
    const std::string fingerprint =
        session.fingerprint(cat("stats-only covariance=", ao.covariance, loss ? " loss" : ""));
    int64_t start_batch = 0;
    if (!dir.empty()) {
        start_batch = session.resume_point(dir, fingerprint);
        if (options_.resume) {
            if (start_batch > 0) {
                const StatisticsFile saved(checkpoint);
                Analyzer back = saved.load();
                const int64_t want = std::min(data.batch.n_seq(), start_batch * options_.batch_size);
                if (saved.n_sequences() != want) // the fingerprint above fixed the options
                    throw Error(cat(checkpoint, ": holds ", saved.n_sequences(), " texts, the progress file says ", want),
                                "start afresh with --force");
                an = std::move(back);
            }
        }
        fs::create_directories(dir);
    }

    // One accumulator per (sequence of the batch, layer, head): the forward pass calls the row
    // function concurrently for different (sequence, head) pairs, never for the same one.
    const size_t per_seq = size_t(L) * size_t(H);
    std::vector<HeadAccum> acc;
    const Batch* batch = nullptr;
    ForwardOptions fo;
    fo.logits = loss; // the loss needs every row's logits [N, V]
    fo.attention_rows = [&](int il, int s, int h, int64_t i, const float* row, int64_t n) {
        if (!layer_on[size_t(il)] || !head_on[size_t(h)]) return;
        acc[size_t(s) * per_seq + size_t(il) * size_t(H) + size_t(h)].add_row(row, i, n,
                                                                              batch->tokens[size_t(s)].data());
    };
    // Hidden states: ln1 output and resid_pre are kept per sequence until attn_out arrives.
    std::vector<std::vector<float>> ln1, resid;
    HookSet hooks;
    hooks.add(
        HookFilter::parse("blocks.*.hook_resid_pre,blocks.*.ln1.hook_normalized,blocks.*.hook_attn_out", "", ""),
        [&](const HookContext& ctx, TensorView v) {
            if (!layer_on[size_t(ctx.layer)]) return;
            const size_t n = size_t(v.ne[0] * v.ne[1]);
            if (ctx.hook == Hook::resid_pre) resid[size_t(ctx.seq)].assign(v.data, v.data + n);
            if (ctx.hook == Hook::ln1_normalized) ln1[size_t(ctx.seq)].assign(v.data, v.data + n);
            if (ctx.hook == Hook::attn_out) {
                const int64_t T = v.ne[0], D = v.ne[1];
                an.add_hidden(ctx.layer, TensorView::contiguous(ln1[size_t(ctx.seq)].data(), {T, D}), v,
                              TensorView::contiguous(resid[size_t(ctx.seq)].data(), {T, D}));
            }
        },
        HookAccess::read_only);
    // A checkpoint at most every few seconds, and never more than a tenth of the time (a file
    // with covariances is large).
    double write_seconds = 0;
    RunState state;
    model_->prefault(); // every weight will be read: map them now, in one call per file
    SessionSink sink;
    sink.run_batch = [&](int64_t, const Batch& b) {
        batch = &b;
        acc.assign(size_t(b.n_seq()) * per_seq, HeadAccum(ao.max_offset));
        ln1.assign(size_t(b.n_seq()), {});
        resid.assign(size_t(b.n_seq()), {});
        forward(*model_, b, hooks, state, fo);
        if (loss) { // each prediction's cross-entropy, added in order (the sum is exact anyway)
            const int64_t V = cfg.vocab_size;
            std::vector<std::vector<double>> ce(size_t(b.n_seq()));
#pragma omp parallel for schedule(dynamic, 1)
            for (int64_t s = 0; s < b.n_seq(); ++s) {
                const auto& ids = b.tokens[size_t(s)];
                const TensorView lg = state.logits_of(b, s, V);
                for (int64_t t = 0; t + 1 < int64_t(ids.size()); ++t)
                    ce[size_t(s)].push_back(log_sum_exp(lg.data + t * V, V) - double(lg.data[t * V + ids[size_t(t) + 1]]));
            }
            for (const auto& row : ce)
                for (double nats : row)
                    an.add_prediction_loss(nats);
        }
        // merge in sequence order, so the sums do not depend on thread timing
        for (int64_t s = 0; s < b.n_seq(); ++s) {
            for (int il : layers)
                for (int h : heads) {
                    HeadAccum& a = acc[size_t(s) * per_seq + size_t(il) * size_t(H) + size_t(h)];
                    a.end_sequence();
                    an.head(il, h).merge(a);
                }
            an.count_sequence(int64_t(b.tokens[size_t(s)].size()));
        }
    };
    sink.save = [&](int64_t) {
        const auto t = std::chrono::steady_clock::now();
        // the checkpoint holds part of the slice, so it does not claim to be the shard
        nlohmann::json partial = manifest_json;
        partial.erase("shard");
        write_statistics(an, checkpoint, partial, options_.durable);
        write_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    sink.save_interval = [&](double every) { return std::max(every, 10 * write_seconds); };
    session.run(sink, {dir, kStatisticsSchema, fingerprint, "the sums of "}, start_batch);
    an.set_model(resolved_.name);
    AnalysisResult r = an.finish();
    if (!dir.empty()) {
        write_statistics(an, (fs::path(dir) / kStatisticsFile).string(), manifest_json, options_.durable);
        write_report(r, dir);
        fs::remove(resume_path);
        fs::remove(checkpoint);
    }
    return r;
}

} // namespace attnscope
