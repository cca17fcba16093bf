// The Runner: resolve and load a model and its tokenizer, tokenize texts, run them in batches
// through the forward pass with a HookSet that streams each captured value straight into its
// safetensors file, then write the manifest. Every file carries a temporary name until it is
// complete; an exception (disk full, cancel) leaves only removed temporaries behind.
#include "api/runner.h"

#include "engine/gemm.h"

#include "report/report.h"

#include "core/error.h"
#include "core/files.h"
#include "core/sha256.h"
#include "io/json.h"
#include "io/safetensors_writer.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>
#include <sys/stat.h>

namespace attnscope {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::string cached_sha256(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return sha256_file(path);
    const std::string abs = fs::absolute(path).string();
    const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    const fs::path dir =
        xdg && *xdg ? fs::path(xdg) / "attnscope" : fs::path(home ? home : "/tmp") / ".cache" / "attnscope";
    const std::string cache_path = (dir / "sha256.json").string();
    nlohmann::json cache = nlohmann::json::object();
    try {
        if (fs::exists(cache_path)) cache = read_json_file(cache_path);
        if (!cache.is_object()) cache = nlohmann::json::object();
        auto it = cache.find(abs);
        if (it != cache.end() && it->is_object() && it->value("size", int64_t(-1)) == int64_t(st.st_size) &&
            it->value("mtime_ns", int64_t(-1)) == mtime && it->value("sha256", std::string()).size() == 64)
            return (*it)["sha256"].get<std::string>();
    } catch (const Error&) {
        cache = nlohmann::json::object(); // a damaged cache is rebuilt, never trusted
    }
    const std::string digest = sha256_file(path);
    try {
        fs::create_directories(dir);
        cache[abs] = {{"size", int64_t(st.st_size)}, {"mtime_ns", mtime}, {"sha256", digest}};
        write_file_atomic(cache_path, cache.dump(1));
    } catch (const std::exception&) {
        // caching is an optimisation: an unwritable cache directory costs time, not the run
    }
    return digest;
}

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

PreparedData take_shard(PreparedData d, const std::string& spec) {
    const ShardInfo sh = shard_of(spec, d.batch.n_seq());
    const auto first = size_t(sh.first), last = size_t(sh.end());
    d.texts = std::vector<std::string>(d.texts.begin() + first, d.texts.begin() + last);
    d.truncated = std::vector<bool>(d.truncated.begin() + first, d.truncated.begin() + last);
    d.batch.tokens = std::vector<std::vector<int32_t>>(d.batch.tokens.begin() + first, d.batch.tokens.begin() + last);
    if (!d.prompt_lengths.empty())
        d.prompt_lengths = std::vector<int64_t>(d.prompt_lengths.begin() + first, d.prompt_lengths.begin() + last);
    d.n_truncated = std::count(d.truncated.begin(), d.truncated.end(), true);
    d.shard = sh;
    return d;
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

namespace {

// Walk the batch in slices of batch_size, calling fn(first sequence, sub-batch).
// Starts at batch `start_batch` (a resumed run), counting the batches before it as done.
template <typename Fn>
void for_each_batch(const Batch& all, int batch_size, const RunnerOptions& opt, Fn&& fn, int64_t start_batch = 0) {
    Progress p;
    p.texts_total = all.n_seq();
    p.tokens_total = all.n_tokens();
    for (int64_t s = 0; s < std::min(all.n_seq(), start_batch * batch_size); ++s)
        p.texts_done += 1, p.tokens_done += int64_t(all.tokens[size_t(s)].size());
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t first = start_batch * batch_size; first < all.n_seq(); first += batch_size) {
        if (opt.cancel && opt.cancel->load()) throw Error("interrupted: no complete capture was written");
        const int64_t n = std::min<int64_t>(batch_size, all.n_seq() - first);
        Batch b;
        b.tokens.assign(all.tokens.begin() + first, all.tokens.begin() + first + n);
        fn(first, b);
        p.texts_done += n;
        p.tokens_done += b.n_tokens();
        p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (opt.on_progress) opt.on_progress(p);
    }
}

// The batch an interrupted run in `dir` continues from (options.resume), once its progress file
// is checked to be this run's (`fingerprint`); without resume, 0, and a directory that holds an
// interrupted run is refused unless options.force.
int64_t resume_point(const std::string& dir, const std::string& fingerprint, int64_t n_batches,
                     const RunnerOptions& options) {
    const std::string resume_path = (fs::path(dir) / kResumeFile).string();
    if (!options.resume) {
        if (fs::exists(resume_path) && !options.force)
            throw Error(cat(dir, ": holds an interrupted run"),
                        "continue it with the same command and --resume, or start afresh with --force");
        return 0;
    }
    if (!fs::exists(resume_path))
        throw Error(cat(dir, ": nothing to resume (no ", kResumeFile, ")"),
                    "the run finished or never started; run without --resume");
    const nlohmann::json j = read_json_file(resume_path);
    if (json_string_or(j, "fingerprint", resume_path, "") != fingerprint)
        throw Error(cat(dir, ": the interrupted run used other texts, model or capture options"),
                    "resume with exactly the same command, or start afresh with --force");
    return json_int(j, "batches_completed", resume_path, 0, n_batches);
}

// Seconds between progress records: 2, or ATTNSCOPE_CHECKPOINT_SECONDS (tests: 0, every batch).
double checkpoint_seconds() {
    const char* e = std::getenv("ATTNSCOPE_CHECKPOINT_SECONDS");
    return e ? std::max(0.0, std::atof(e)) : 2.0;
}

// The progress file: this run (`fingerprint`) has `batches` of `n_batches` safely on disk.
void write_progress(const std::string& resume_path, const char* schema, const std::string& fingerprint,
                    int64_t batches, int64_t n_batches) {
    write_file_atomic(resume_path, nlohmann::json{{"schema", schema},
                                                  {"fingerprint", fingerprint},
                                                  {"batches_completed", batches},
                                                  {"batches_total", n_batches}}
                                       .dump(1));
}

} // namespace

CaptureSummary Runner::run_with_hooks(const PreparedData& data, const std::string& dir) const {
    const auto t0 = std::chrono::steady_clock::now();
    const CaptureSpec sp = spec();
    const ModelConfig& cfg = model_->config();

    if (fs::exists(dir) && !fs::is_directory(dir))
        throw Error(cat(dir, ": exists and is not a directory"), "choose another --output");
    const std::string resume_path = (fs::path(dir) / kResumeFile).string();
    const int64_t n_batches = (data.batch.n_seq() + options_.batch_size - 1) / options_.batch_size;
    const std::string fingerprint = run_fingerprint(data, sp, "");
    const int64_t start_batch = resume_point(dir, fingerprint, n_batches, options_);
    if (!options_.resume) {
        if (fs::is_directory(dir) && !fs::is_empty(dir) && !options_.force)
            throw Error(cat(dir, ": the output directory exists and is not empty"),
                        "choose a new directory, or pass --force to overwrite attnscope's files in it");
    }
    fs::create_directories(dir);
    // A killed run leaves temporaries (".<file>.tmp-<pid>"); ours, by name, are removed here,
    // except the partial files a resumed run continues.
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        const size_t mark = name.find(kTempMarker);
        if (name.empty() || name[0] != '.' || mark == std::string::npos) continue;
        const std::string base = name.substr(1, mark - 1), suffix = name.substr(mark + std::strlen(kTempMarker));
        const bool ours = base == "manifest.json" || base == kResumeFile ||
                          (base.rfind("attention_data_", 0) == 0 && base.size() > 12 &&
                           base.compare(base.size() - 12, 12, ".safetensors") == 0);
        if (ours && !(options_.resume && suffix == "resumable")) fs::remove(e.path());
    }

    // Declare every tensor of every file up front: shapes are known after tokenization. Each
    // sequence declares the same (layer, hook) pairs in the same order, so a tensor's index in
    // its file is s * per_seq[file] + slot[layer, hook]: no per-tensor lookup table is kept.
    std::map<std::string, std::unique_ptr<SafetensorsWriter>> writers;
    std::map<std::string, size_t> per_seq;
    std::vector<size_t> slot(size_t(cfg.n_layer + 1) * kHookCount, 0);
    std::vector<std::pair<std::string, std::vector<std::string>>> files; // file -> hook suffixes, in order
    const std::map<std::string, std::string> meta = {{"format", "pt"}, {"schema", kCaptureSchema}};
    // which (layer, hook) pairs are captured, decided once rather than per sequence
    std::vector<char> wanted(size_t(cfg.n_layer + 1) * kHookCount, 0);
    for (int il = -1; il < cfg.n_layer; ++il)
        for (int ih = 0; ih < kHookCount; ++ih)
            wanted[size_t((il + 1) * kHookCount + ih)] =
                hook_is_per_layer(Hook(ih)) == (il >= 0) && hook_exists(Hook(ih), cfg) && sp.wants(Hook(ih), il);
    auto captured = [&](Hook h, int il) { return wanted[size_t((il + 1) * kHookCount + int(h))] != 0; };
    for (int il = -1; il < cfg.n_layer; ++il)
        for (int ih = 0; ih < kHookCount; ++ih) {
            const Hook h = Hook(ih);
            if (!captured(h, il)) continue;
            const std::string file = capture_file_for(h);
            if (!writers.count(file)) {
                writers[file] = std::make_unique<SafetensorsWriter>((fs::path(dir) / file).string(), sp.dtype, meta);
                files.push_back({file, {}});
            }
            for (auto& [f, hooks] : files)
                if (f == file && std::find(hooks.begin(), hooks.end(), hook_suffix(h)) == hooks.end())
                    hooks.push_back(hook_suffix(h));
            slot[size_t((il + 1) * kHookCount + ih)] = per_seq[file]++;
        }
    for (int64_t s = 0; s < data.batch.n_seq(); ++s) {
        const int64_t T = int64_t(data.batch.tokens[size_t(s)].size());
        for (int il = -1; il < cfg.n_layer; ++il)
            for (int ih = 0; ih < kHookCount; ++ih)
                if (captured(Hook(ih), il))
                    writers.at(capture_file_for(Hook(ih)))
                        ->declare(ActivationCache::key(hook_name(Hook(ih), il), int(s)),
                                  captured_shape(Hook(ih), T, cfg, sp.heads));
    }
    const int64_t done_seqs = std::min(data.batch.n_seq(), start_batch * options_.batch_size);
    // A run killed while committing its files (all batches recorded done, see below) left some
    // files under their final names and the rest partial: the committed ones are whole.
    if (options_.resume && start_batch == n_batches) {
        for (auto it = writers.begin(); it != writers.end();) {
            if (!fs::exists(resumable_temp_path(it->second->path())) && fs::exists(it->second->path()))
                it = writers.erase(it);
            else
                ++it;
        }
    }
    for (auto& [f, w] : writers) {
        w->set_resumable(options_.resume);
        w->set_durable(options_.durable);
        w->begin();
        if (options_.resume) w->assume_written(size_t(done_seqs) * per_seq.at(f));
    }

    RunState state;
    model_->prefault(); // every weight will be read: map them now, in one call per file
    std::vector<float> scratch;
    int64_t first_seq = 0;
    HookSet hooks;
    ForwardOptions fo;
    // Patterns reach their file one head at a time, from the thread that computed the head
    // (ForwardOptions::attention_heads): no [H, T, T] buffer and no copy of one. Every other
    // captured hook goes through a read-only hook callback.
    HookFilter others{{}, {}, sp.heads};
    for (int il = -1; il < cfg.n_layer; ++il)
        for (int ih = 0; ih < kHookCount; ++ih)
            if (Hook(ih) != Hook::pattern && captured(Hook(ih), il)) others.patterns.push_back(hook_name(Hook(ih), il));
    fo.attention_head_layers.assign(size_t(cfg.n_layer), 0);
    bool any_pattern = false;
    for (int il = 0; il < cfg.n_layer; ++il)
        if (captured(Hook::pattern, il)) fo.attention_head_layers[size_t(il)] = 1, any_pattern = true;
    // (a resumed run whose every batch was done may have committed the patterns' file already:
    // nothing is left to write to it, and no batch runs)
    if (any_pattern && writers.count(capture_file_for(Hook::pattern))) {
        std::vector<int64_t> head_pos(size_t(cfg.n_head), -1); // place of head h in the stored [H', T, T]
        if (sp.heads.empty()) std::iota(head_pos.begin(), head_pos.end(), int64_t(0));
        for (size_t i = 0; i < sp.heads.size(); ++i)
            head_pos[size_t(sp.heads[i])] = int64_t(i);
        const std::string file = capture_file_for(Hook::pattern);
        SafetensorsWriter& w = *writers.at(file);
        const size_t per = per_seq.at(file);
        fo.attention_heads = [&, per, head_pos](int il, int s, int h, const float* pattern, int64_t T) {
            if (head_pos[size_t(h)] < 0) return;
            const size_t index = size_t(first_seq + s) * per + slot[size_t((il + 1) * kHookCount + int(Hook::pattern))];
            w.write_part(index, head_pos[size_t(h)] * T * T, pattern, T * T);
        };
    }
    if (!others.patterns.empty())
        hooks.add(
            others,
            [&](const HookContext& ctx, TensorView v) {
                const std::string& file = capture_file_for(ctx.hook);
                const size_t index = size_t(first_seq + ctx.seq) * per_seq.at(file) +
                                     slot[size_t((ctx.layer + 1) * kHookCount + int(ctx.hook))];
                if (sp.heads.empty()) { // every head: the view goes to the file as it is (no packing copy)
                    writers.at(file)->write(index, v);
                    return;
                }
                const std::vector<int64_t> shape = pack_captured(ctx.hook, v, cfg, sp.heads, scratch);
                writers.at(file)->write(index, TensorView::contiguous(scratch.data(), shape));
            },
            HookAccess::read_only);
    // Progress is recorded (data synced to disk, then the progress file replaced) at most every
    // few seconds, so syncing never dominates a fast capture; a resumed run redoes at most the
    // batches since, writing the same bytes again. ATTNSCOPE_CHECKPOINT_SECONDS overrides (tests: 0).
    const double every = checkpoint_seconds();
    auto last_checkpoint = std::chrono::steady_clock::now();
    int64_t completed = start_batch, recorded = start_batch;
    // the batches are on disk before the progress file says so
    auto record = [&](int64_t batches) {
        for (auto& [f, w] : writers)
            w->sync();
        write_progress(resume_path, kCaptureSchema, fingerprint, batches, n_batches);
        recorded = batches;
    };
    try {
        for_each_batch(
            data.batch, options_.batch_size, options_,
            [&](int64_t first, const Batch& b) {
                first_seq = first;
                forward(*model_, b, hooks, state, fo);
                ++completed;
                const auto now = std::chrono::steady_clock::now();
                if (completed < n_batches && std::chrono::duration<double>(now - last_checkpoint).count() >= every) {
                    record(completed);
                    last_checkpoint = now;
                }
            },
            start_batch);
    } catch (const Error& e) {
        // what the progress file records is safe on disk; without a record nothing is kept
        if (recorded == 0 || !fs::exists(resume_path)) throw;
        for (auto& [f, w] : writers)
            w->keep_partial();
        throw Error(cat(e.what(), "; ", recorded, " of ", n_batches, " batches are kept in ", dir),
                    "run the same command with --resume to continue");
    }

    // Every batch is on disk before the files get their final names one by one: a run killed in
    // between resumes with nothing left to compute and commits the files still partial.
    if (recorded != n_batches) record(n_batches);
    CaptureSummary sum;
    for (auto& [f, w] : writers) {
        w->finish();
        sum.n_tensors += int64_t(w->n_tensors());
        sum.bytes += int64_t(w->bytes());
    }
    sum.bytes += write_manifest((fs::path(dir) / "manifest.json").string(), manifest(data, sp, files), data);
    fs::remove(resume_path);
    sum.dir = dir;
    sum.n_sequences = data.batch.n_seq();
    sum.n_tokens = data.batch.n_tokens();
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return sum;
}

AnalysisResult Runner::run_stats_only(const PreparedData& data, const std::string& dir, bool covariance) const {
    const CaptureSpec sp = spec();
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
    ojson m = manifest(data, sp, {});
    m["capture"]["patterns"] = {"blocks.*.attn.hook_pattern", "blocks.*.hook_resid_pre", "blocks.*.ln1.hook_normalized",
                                "blocks.*.hook_attn_out"};
    m["capture"]["dtype"] = dtype_name(DType::f32);
    m["capture"]["statistics"] = {{"covariance", ao.covariance}, {"max_offset", ao.max_offset}};
    const nlohmann::json manifest_json = nlohmann::json::parse(m.dump());

    // Resume: the sums of the batches done so far are kept in a checkpoint (a whole statistics
    // file), and the progress file names how many batches it holds.
    const int64_t n_batches = (data.batch.n_seq() + options_.batch_size - 1) / options_.batch_size;
    const std::string resume_path = dir.empty() ? "" : (fs::path(dir) / kResumeFile).string();
    const std::string checkpoint = dir.empty() ? "" : (fs::path(dir) / kStatisticsCheckpoint).string();
    const std::string fingerprint = run_fingerprint(data, sp, cat("stats-only covariance=", ao.covariance));
    int64_t start_batch = 0;
    if (!dir.empty()) {
        start_batch = resume_point(dir, fingerprint, n_batches, options_);
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
    const double every = checkpoint_seconds();
    auto last_checkpoint = std::chrono::steady_clock::now();
    double write_seconds = 0;
    int64_t completed = start_batch, recorded = start_batch;
    auto record = [&](int64_t batches) {
        const auto t = std::chrono::steady_clock::now();
        // the checkpoint holds part of the slice, so it does not claim to be the shard
        nlohmann::json partial = manifest_json;
        partial.erase("shard");
        write_statistics(an, checkpoint, partial, options_.durable);
        write_progress(resume_path, kStatisticsSchema, fingerprint, batches, n_batches);
        recorded = batches;
        write_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    RunState state;
    model_->prefault(); // every weight will be read: map them now, in one call per file
    try {
        for_each_batch(
            data.batch, options_.batch_size, options_,
            [&](int64_t, const Batch& b) {
                batch = &b;
                acc.assign(size_t(b.n_seq()) * per_seq, HeadAccum(ao.max_offset));
                ln1.assign(size_t(b.n_seq()), {});
                resid.assign(size_t(b.n_seq()), {});
                forward(*model_, b, hooks, state, fo);
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
                ++completed;
                const auto now = std::chrono::steady_clock::now();
                const double since = std::chrono::duration<double>(now - last_checkpoint).count();
                if (!dir.empty() && completed < n_batches && since >= std::max(every, 10 * write_seconds)) {
                    record(completed);
                    last_checkpoint = std::chrono::steady_clock::now();
                }
            },
            start_batch);
    } catch (const Error& e) {
        if (dir.empty() || recorded == 0) throw;
        throw Error(cat(e.what(), "; the sums of ", recorded, " of ", n_batches, " batches are kept in ", dir),
                    "run the same command with --resume to continue");
    }
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

std::string Runner::run_fingerprint(const PreparedData& data, const CaptureSpec& sp, const std::string& extra) const {
    // What makes two runs the same run: the weights, every token, and how they are captured.
    Sha256 h;
    auto add = [&](const std::string& x) { h.update(x.data(), x.size()), h.update("|", 1); };
    add(cat(kCaptureSchema, sp.dtype == DType::f16 ? " f16 " : " f32 ", options_.batch_size, " ", data.max_length));
    for (int x : sp.heads)
        add(cat("head ", x));
    for (int x : sp.layers)
        add(cat("layer ", x));
    for (const auto& p : sp.patterns)
        add(p);
    for (const auto& f : model_->weight_files())
        add(cached_sha256(f));
    for (const auto& seq : data.batch.tokens) {
        add(cat(seq.size()));
        h.update(seq.data(), seq.size() * sizeof(int32_t));
    }
    if (!extra.empty()) add(extra);
    return h.hex_digest();
}

ActivationCache Runner::run_with_hooks(const PreparedData& data) const {
    const CaptureSpec sp = spec();
    ActivationCache cache;
    RunState state;
    model_->prefault(); // every weight will be read: map them now, in one call per file
    int64_t first_seq = 0;
    HookSet hooks;
    if (!sp.none)
        hooks.add(
            sp.filter(),
            [&](const HookContext& ctx, TensorView v) {
                Captured c;
                c.shape = pack_captured(ctx.hook, v, model_->config(), sp.heads, c.data);
                if (sp.dtype == DType::f16)
                    for (float& x : c.data)
                        x = f16_to_f32(f32_to_f16(x)); // what a stored f16 capture would read back
                cache.put(ActivationCache::key(ctx.name, int(first_seq + ctx.seq)), std::move(c));
            },
            HookAccess::read_only);
    for_each_batch(data.batch, options_.batch_size, options_, [&](int64_t first, const Batch& b) {
        first_seq = first;
        forward(*model_, b, hooks, state);
    });
    return cache;
}

ojson Runner::manifest(const PreparedData& data, const CaptureSpec& sp,
                       const std::vector<std::pair<std::string, std::vector<std::string>>>& files) const {
    const ModelConfig& c = model_->config();
    ojson m;
    m["schema"] = kCaptureSchema;
    // the products' micro-kernel: captures by builds with the same variant, on the same kind of
    // CPU, have the same bytes whatever the batch, threads or shard (engine/gemm.h)
    m["tool"] = {{"name", "attnscope"}, {"version", ATTNSCOPE_VERSION}, {"kernels", gemm_variant()}};
    ojson weights = ojson::array();
    for (const auto& f : model_->weight_files())
        weights.push_back({{"file", fs::path(f).filename().string()},
                           {"bytes", int64_t(fs::file_size(f))},
                           {"sha256", cached_sha256(f)}});
    ojson config = ojson::object();
    try {
        config = ojson::parse(read_json_file((fs::path(resolved_.path) / "config.json").string()).dump());
    } catch (const std::exception&) {
    }
    m["model"] = {{"name", resolved_.name},
                  {"path", fs::absolute(resolved_.path).string()},
                  {"source", resolved_.source},
                  {"model_type", c.model_type},
                  {"architecture", c.architecture},
                  {"dims", manifest_dims(c)},
                  {"weights_dtype", model_->weights_dtype()},
                  {"weights", weights},
                  {"config", config}};
    // the encoding is Hugging Face's default: special tokens written in a text are recognised, and
    // the post-processor's tokens (Llama's BOS) are added to every text
    m["tokenizer"] = {{"source", fs::path(tokenizer_->source()).filename().string()},
                      {"vocab_size", tokenizer_->vocab_size()},
                      {"added_special_tokens", tokenizer_->added_special_tokens()},
                      {"special_tokens_in_text", "recognised"}};
    ojson layers = ojson::array(), heads = nullptr;
    if (sp.layers.empty())
        for (int il = 0; il < c.n_layer; ++il)
            layers.push_back(il);
    else
        for (int il : sp.layers)
            layers.push_back(il);
    if (!sp.heads.empty()) heads = sp.heads;
    m["capture"] = {{"patterns", sp.patterns},
                    {"layers", layers},
                    {"heads", heads},
                    {"dtype", dtype_name(sp.dtype)},
                    {"max_length", data.max_length},
                    {"batch_size", options_.batch_size}};
    ojson fl = ojson::array();
    for (const auto& [f, hooks] : files)
        fl.push_back({{"file", f}, {"hooks", hooks}});
    m["files"] = fl;
    if (data.shard.present())
        m["shard"] = {{"index", data.shard.index}, {"count", data.shard.count}, {"first", data.shard.first},
                      {"total", data.shard.total}};
    m["batches_completed"] = (data.batch.n_seq() + options_.batch_size - 1) / options_.batch_size;
    return m;
}

int64_t Runner::write_manifest(const std::string& path, const ojson& head, const PreparedData& data) const {
    // The sequences list grows with the corpus; it is streamed one line per sequence instead of
    // being built as one JSON document, so memory stays flat however many texts were run.
    std::string text = head.dump(1);
    text.pop_back(); // the closing brace (dump(1) ends with "\n}")
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    text += ",\n \"sequences\": [\n";
    AtomicFile f(path);
    f.set_durable(options_.durable);
    uint64_t off = 0;
    auto flush = [&](std::string& chunk) {
        f.write_at(off, chunk.data(), chunk.size());
        off += chunk.size();
        chunk.clear();
    };
    flush(text);
    for (int64_t s = 0; s < data.batch.n_seq(); ++s) {
        const auto& ids = data.batch.tokens[size_t(s)];
        ojson seq = {{"index", data.shard.first + s}, // global: the text's place in the whole corpus
                     {"text", data.texts[size_t(s)]},
                     {"length", int64_t(ids.size())},
                     {"truncated", bool(data.truncated[size_t(s)])},
                     {"token_ids", ids},
                     {"tokens", tokenizer_->display(ids)}};
        if (!data.prompt_lengths.empty()) seq["prompt_length"] = data.prompt_lengths[size_t(s)];
        text = "  " + seq.dump() + (s + 1 < data.batch.n_seq() ? ",\n" : "\n");
        flush(text);
    }
    text = " ]\n}\n";
    flush(text);
    f.commit();
    return int64_t(off);
}

} // namespace attnscope
