// The capture session (session.h): batching and progress, the fingerprint and the progress file
// that make an interrupted run resumable to the same bytes, the manifest, and the full capture's
// writers, which stream each captured value straight into its safetensors file (patterns one head
// at a time, from the thread that computed it). Every file carries a temporary name until it is
// complete; an error (disk full, cancel) before the first record leaves only removed temporaries.
#include "capture/session.h"

#include "core/error.h"
#include "core/files.h"
#include "core/sha256.h"
#include "engine/gemm.h"
#include "io/json.h"
#include "io/safetensors_writer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
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

std::string progress_file(const std::string& dir) {
    return (fs::path(dir) / kResumeFile).string();
}

CaptureSession::CaptureSession(SessionModel model, const PreparedData& data, const CaptureSpec& spec,
                               SessionOptions options)
    : model_(model), data_(data), spec_(spec), options_(std::move(options)) {
    if (options_.batch_size < 1) throw Error(cat("batch size ", options_.batch_size, ": expected at least 1"));
}

int64_t CaptureSession::n_batches() const {
    return (data_.batch.n_seq() + options_.batch_size - 1) / options_.batch_size;
}

void CaptureSession::for_each_batch(const std::function<void(int64_t, const Batch&)>& fn, int64_t start_batch) const {
    const Batch& all = data_.batch;
    const int batch_size = options_.batch_size;
    Progress p;
    p.texts_total = all.n_seq();
    p.tokens_total = all.n_tokens();
    for (int64_t s = 0; s < std::min(all.n_seq(), start_batch * batch_size); ++s)
        p.texts_done += 1, p.tokens_done += int64_t(all.tokens[size_t(s)].size());
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t first = start_batch * batch_size; first < all.n_seq(); first += batch_size) {
        if (options_.cancel && options_.cancel->load()) throw Error("interrupted: no complete capture was written");
        const int64_t n = std::min<int64_t>(batch_size, all.n_seq() - first);
        Batch b;
        b.tokens.assign(all.tokens.begin() + first, all.tokens.begin() + first + n);
        fn(first, b);
        p.texts_done += n;
        p.tokens_done += b.n_tokens();
        p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (options_.on_progress) options_.on_progress(p);
    }
}

namespace {

} // namespace

int64_t CaptureSession::resume_point(const std::string& dir, const std::string& fingerprint) const {
    const SessionOptions& options = options_;
    const int64_t n_batches = this->n_batches();
    const std::string resume_path = progress_file(dir);
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

namespace {

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

void CaptureSession::record(const SessionSink& sink, const SessionRecords& records, int64_t batches) const {
    sink.save(batches);
    write_progress(progress_file(records.dir), records.schema, records.fingerprint, batches,
                   n_batches());
}

void CaptureSession::run(const SessionSink& sink, const SessionRecords& records, int64_t start_batch) const {
    const int64_t n_batches = this->n_batches();
    const double every = checkpoint_seconds();
    auto last_record = std::chrono::steady_clock::now();
    int64_t completed = start_batch, recorded = start_batch;
    try {
        for_each_batch(
            [&](int64_t first, const Batch& b) {
                sink.run_batch(first, b);
                ++completed;
                const auto now = std::chrono::steady_clock::now();
                const double least = sink.save_interval ? sink.save_interval(every) : every;
                if (!records.dir.empty() && completed < n_batches &&
                    std::chrono::duration<double>(now - last_record).count() >= least) {
                    record(sink, records, completed);
                    recorded = completed;
                    last_record = std::chrono::steady_clock::now();
                }
            },
            start_batch);
    } catch (const Error& e) {
        // what the progress file records is safe on disk; without a record nothing is kept
        if (records.dir.empty() || recorded == 0 || !fs::exists(progress_file(records.dir))) throw;
        if (sink.keep_saved) sink.keep_saved();
        throw Error(cat(e.what(), "; ", records.kept, recorded, " of ", n_batches, " batches are kept in ", records.dir),
                    "run the same command with --resume to continue");
    }
}

CaptureSummary CaptureSession::capture(const std::string& dir) const {
    const auto t0 = std::chrono::steady_clock::now();
    const CaptureSpec& sp = spec_;
    const PreparedData& data = data_;
    const ModelConfig& cfg = model_.model.config();

    if (fs::exists(dir) && !fs::is_directory(dir))
        throw Error(cat(dir, ": exists and is not a directory"), "choose another --output");
    const std::string resume_path = progress_file(dir);
    const int64_t n_batches = this->n_batches();
    const std::string fingerprint = this->fingerprint("");
    const int64_t start_batch = resume_point(dir, fingerprint);
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
                hook_is_per_layer(Hook(ih)) == (il >= 0) && hook_exists(Hook(ih), cfg, il) && sp.wants(Hook(ih), il);
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
    model_.model.prefault(); // every weight will be read: map them now, in one call per file
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
    // batches since, writing the same bytes again.
    SessionSink sink;
    sink.run_batch = [&](int64_t first, const Batch& b) {
        first_seq = first;
        forward(model_.model, b, hooks, state, fo);
    };
    sink.save = [&](int64_t) { // the batches are on disk before the progress file says so
        for (auto& [f, w] : writers)
            w->sync();
    };
    sink.keep_saved = [&] {
        for (auto& [f, w] : writers)
            w->keep_partial();
    };
    const SessionRecords records{dir, kCaptureSchema, fingerprint, ""};
    run(sink, records, start_batch);
    // Every batch is on disk before the files get their final names one by one: a run killed in
    // between resumes with nothing left to compute and commits the files still partial.
    if (start_batch != n_batches) record(sink, records, n_batches);
    CaptureSummary sum;
    for (auto& [f, w] : writers) {
        w->finish();
        sum.n_tensors += int64_t(w->n_tensors());
        sum.bytes += int64_t(w->bytes());
    }
    sum.bytes += write_manifest((fs::path(dir) / "manifest.json").string(), manifest(files));
    fs::remove(resume_path);
    sum.dir = dir;
    sum.n_sequences = data.batch.n_seq();
    sum.n_tokens = data.batch.n_tokens();
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return sum;
}

std::string CaptureSession::fingerprint(const std::string& extra) const {
    const PreparedData& data = data_;
    const CaptureSpec& sp = spec_;
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
    for (const auto& f : model_.model.weight_files())
        add(cached_sha256(f));
    for (const auto& seq : data.batch.tokens) {
        add(cat(seq.size()));
        h.update(seq.data(), seq.size() * sizeof(int32_t));
    }
    if (!extra.empty()) add(extra);
    return h.hex_digest();
}

ActivationCache CaptureSession::capture() const {
    const CaptureSpec& sp = spec_;
    ActivationCache cache;
    RunState state;
    model_.model.prefault(); // every weight will be read: map them now, in one call per file
    int64_t first_seq = 0;
    HookSet hooks;
    if (!sp.none)
        hooks.add(
            sp.filter(),
            [&](const HookContext& ctx, TensorView v) {
                Captured c;
                c.shape = pack_captured(ctx.hook, v, model_.model.config(), sp.heads, c.data);
                if (sp.dtype == DType::f16)
                    for (float& x : c.data)
                        x = f16_to_f32(f32_to_f16(x)); // what a stored f16 capture would read back
                cache.put(ActivationCache::key(ctx.name, int(first_seq + ctx.seq)), std::move(c));
            },
            HookAccess::read_only);
    for_each_batch([&](int64_t first, const Batch& b) {
        first_seq = first;
        forward(model_.model, b, hooks, state);
    });
    return cache;
}

ojson CaptureSession::manifest(const std::vector<std::pair<std::string, std::vector<std::string>>>& files) const {
    const PreparedData& data = data_;
    const CaptureSpec& sp = spec_;
    const ModelConfig& c = model_.model.config();
    const ResolvedModel& resolved = model_.resolved;
    const Tokenizer& tokenizer = model_.tokenizer;
    ojson m;
    m["schema"] = kCaptureSchema;
    // the products' micro-kernel: captures by builds with the same variant, on the same kind of
    // CPU, have the same bytes whatever the batch, threads or shard (engine/gemm.h)
    m["tool"] = {{"name", "attnscope"}, {"version", ATTNSCOPE_VERSION}, {"kernels", gemm_variant()}};
    ojson weights = ojson::array();
    for (const auto& f : model_.model.weight_files())
        weights.push_back({{"file", fs::path(f).filename().string()},
                           {"bytes", int64_t(fs::file_size(f))},
                           {"sha256", cached_sha256(f)}});
    ojson config = ojson::object();
    try {
        config = ojson::parse(read_json_file((fs::path(resolved.path) / "config.json").string()).dump());
    } catch (const std::exception&) {
    }
    m["model"] = {{"name", resolved.name},
                  {"path", fs::absolute(resolved.path).string()},
                  {"source", resolved.source},
                  {"revision", resolved.revision.empty() ? ojson() : ojson(resolved.revision)},
                  {"commit", resolved.commit.empty() ? ojson() : ojson(resolved.commit)},
                  {"model_type", c.model_type},
                  {"architecture", c.architecture},
                  {"dims", manifest_dims(c)},
                  {"weights_dtype", model_.model.weights_dtype()},
                  {"weights", weights},
                  {"config", config}};
    // the encoding is Hugging Face's default: special tokens written in a text are recognised, and
    // the post-processor's tokens (Llama's BOS) are added to every text
    m["tokenizer"] = {{"source", fs::path(tokenizer.source()).filename().string()},
                      {"vocab_size", tokenizer.vocab_size()},
                      {"added_special_tokens", tokenizer.added_special_tokens()},
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
    m["batches_completed"] = n_batches();
    return m;
}

int64_t CaptureSession::write_manifest(const std::string& path, const ojson& head) const {
    const PreparedData& data = data_;
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
                     {"tokens", model_.tokenizer.display(ids)}};
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
