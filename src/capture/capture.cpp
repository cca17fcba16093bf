// Capture specification (aliases, ranges), the hook -> file layout, head selection, the
// in-memory cache, and the reader of capture directories. The reader trusts nothing in the
// manifest: every field is type- and range-checked, and tensors are looked up by name in the
// safetensors files (which validate themselves), so a damaged directory gives an Error.
#include "capture/capture.h"

#include "core/error.h"
#include "core/mmap.h"
#include "core/sha256.h"
#include "io/json.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>

namespace attnscope {

using nlohmann::json;

namespace {

struct Alias {
    const char* name;
    std::vector<const char*> patterns;
};
const std::vector<Alias>& aliases() {
    static const std::vector<Alias> a = {
        {"weights", {"blocks.*.attn.hook_pattern"}},
        {"inputs", {"blocks.*.ln1.hook_normalized", "blocks.*.hook_resid_pre"}},
        {"outputs", {"blocks.*.hook_attn_out"}},
        {"scores", {"blocks.*.attn.hook_attn_scores"}},
        {"q", {"blocks.*.attn.hook_q"}},
        {"k", {"blocks.*.attn.hook_k"}},
        {"v", {"blocks.*.attn.hook_v"}},
        {"z", {"blocks.*.attn.hook_z"}},
        {"resid", {"blocks.*.hook_resid_pre", "blocks.*.hook_resid_mid", "blocks.*.hook_resid_post"}},
        {"mlp", {"blocks.*.mlp.hook_pre", "blocks.*.mlp.hook_post", "blocks.*.hook_mlp_out"}},
        {"logits", {"logits"}},
    };
    return a;
}

// Hooks with a head dimension, and how many heads: query heads, or key/value heads for k and v.
int64_t n_heads_of(Hook h, const ModelConfig& cfg) {
    return h == Hook::k || h == Hook::rot_k || h == Hook::v || h == Hook::k_normalized ? cfg.n_kv_head : cfg.n_head;
}
// Whether --heads (query heads) selects in this hook: every per-head hook, but k and v only when
// each query head has its own (no grouped-query attention); grouped k and v are kept whole.
bool head_indexed(Hook h, const ModelConfig& cfg) {
    const bool per_head = h == Hook::pattern || h == Hook::attn_scores || h == Hook::q || h == Hook::rot_q ||
                          h == Hook::k || h == Hook::rot_k || h == Hook::v || h == Hook::z ||
                          h == Hook::q_normalized || h == Hook::k_normalized;
    return per_head && n_heads_of(h, cfg) == cfg.n_head;
}

} // namespace

CaptureSpec CaptureSpec::parse(const std::string& capture, const std::string& layers, const std::string& heads,
                               DType dtype, const ModelConfig& cfg) {
    CaptureSpec spec;
    spec.dtype = dtype;
    const std::string what = capture.empty() ? "weights,inputs,outputs" : capture;
    spec.none = what == "none";
    for (const std::string& item : split_list(spec.none ? "" : what)) {
        bool alias = false;
        for (const auto& a : aliases())
            if (item == a.name) {
                for (const char* p : a.patterns)
                    spec.patterns.push_back(p);
                alias = true;
            }
        if (!alias) {
            // a name or glob must match at least one hook of this model
            bool matches = false;
            for (const auto& n : all_hook_names(cfg))
                matches = matches || glob_match(item, n);
            if (!matches)
                throw Error(cat("--capture: '", item, "' matches no hook point of this model"),
                            "use an alias (weights, inputs, outputs, scores, q, k, v, z, resid, mlp, logits), a hook "
                            "name like blocks.0.attn.hook_pattern, or a glob; 'attnscope hooks' lists them");
            spec.patterns.push_back(item);
        }
    }
    spec.layers = parse_index_list(layers, "--layers");
    for (int l : spec.layers)
        if (l >= cfg.n_layer)
            throw Error(cat("--layers: layer ", l, " is out of range; the model has ", cfg.n_layer, " layers (0-",
                            cfg.n_layer - 1, ")"));
    spec.heads = parse_index_list(heads, "--heads");
    for (int h : spec.heads)
        if (h >= cfg.n_head)
            throw Error(cat("--heads: head ", h, " is out of range; the model has ", cfg.n_head, " heads per layer (0-",
                            cfg.n_head - 1, ")"));
    return spec;
}

HookFilter CaptureSpec::filter() const {
    return HookFilter{patterns, layers, heads};
}

bool CaptureSpec::wants(Hook h, int il) const {
    return !none && filter().matches(h, il);
}

std::string capture_file_for(Hook h) {
    switch (h) {
    case Hook::pattern: return "attention_data_weights.safetensors";
    case Hook::ln1_normalized:
    case Hook::resid_pre: return "attention_data_inputs.safetensors";
    case Hook::attn_out: return "attention_data_outputs.safetensors";
    default: break;
    }
    std::string kind = hook_suffix(h); // "attn.hook_q" -> "q", "hook_resid_mid" -> "resid_mid"
    for (const char* prefix : {"attn.hook_", "hook_"})
        if (kind.rfind(prefix, 0) == 0) kind = kind.substr(std::string(prefix).size());
    for (char& c : kind)
        if (c == '.') c = '_';
    return "attention_data_" + kind + ".safetensors";
}

std::vector<int64_t> captured_shape(Hook h, int64_t T, const ModelConfig& cfg, const std::vector<int>& heads) {
    const int64_t H = heads.empty() || !head_indexed(h, cfg) ? n_heads_of(h, cfg) : int64_t(heads.size());
    switch (h) {
    case Hook::pattern:
    case Hook::attn_scores: return {H, T, T};
    case Hook::q:
    case Hook::rot_q:
    case Hook::q_normalized:
    case Hook::k:
    case Hook::rot_k:
    case Hook::k_normalized:
    case Hook::v:
    case Hook::z: return {T, H, cfg.d_head};
    case Hook::mlp_pre:
    case Hook::mlp_pre_linear:
    case Hook::mlp_post: return {T, cfg.n_inner};
    case Hook::logits: return {T, cfg.vocab_size};
    default: return {T, cfg.n_embd};
    }
}

static void select_heads(Hook h, const TensorView& value, const ModelConfig& cfg, const std::vector<int>& heads,
                         std::vector<float>& out) {
    if (heads.empty() || !head_indexed(h, cfg)) {
        out.resize(size_t(value.numel()));
        value.copy_to(out.data());
        return;
    }
    TensorView v = value;
    const bool heads_first = h == Hook::pattern || h == Hook::attn_scores; // [H, T, T] or [T, H, d]
    if (heads_first) {
        const int64_t per = value.ne[1] * value.ne[2];
        out.resize(heads.size() * size_t(per));
        for (size_t i = 0; i < heads.size(); ++i) {
            v.ne[0] = 1;
            v.data = value.data + heads[i] * value.stride[0];
            v.copy_to(out.data() + i * size_t(per));
        }
    } else {
        const int64_t T = value.ne[0], d = value.ne[2];
        out.resize(size_t(T) * heads.size() * size_t(d));
        size_t k = 0;
        for (int64_t t = 0; t < T; ++t)
            for (int hd : heads)
                for (int64_t c = 0; c < d; ++c)
                    out[k++] = value.at(t, hd, c);
    }
}

std::vector<int64_t> pack_captured(Hook h, const TensorView& value, const ModelConfig& cfg,
                                   const std::vector<int>& heads, std::vector<float>& out) {
    select_heads(h, value, cfg, heads, out);
    const bool heads_first = h == Hook::pattern || h == Hook::attn_scores; // [H, T, T], else [T, ...]
    return captured_shape(h, value.ne[heads_first ? 1 : 0], cfg, heads);
}

const Captured& ActivationCache::at(const std::string& hook, int seq) const {
    auto it = values_.find(key(hook, seq));
    if (it == values_.end())
        throw Error(cat("cache: '", hook, "' of sequence ", seq, " was not captured"), "add it to the capture filter");
    return it->second;
}

// ---- reader ----

CaptureReader::CaptureReader(const std::string& dir) : dir_(dir) {
    namespace fs = std::filesystem;
    const std::string path = (fs::path(dir) / "manifest.json").string();
    if (!fs::exists(path) && fs::exists(fs::path(dir) / kStatisticsFile))
        throw Error(
            cat(dir, ": a stats-only directory (", kStatisticsFile, "): it holds sums, not the tensors read here"),
            "analyze and report read it; capture with attnscope run (without --stats-only) for the patterns");
    if (!fs::exists(path))
        throw Error(cat(dir, ": no manifest.json, so not a complete capture directory"),
                    "a run that was interrupted leaves no manifest; run 'attnscope run' again");
    manifest_ = read_json_file(path);
    if (!manifest_.is_object()) throw Error(cat(path, ": expected a JSON object"));
    const std::string schema = json_string_or(manifest_, "schema", path, "");
    if (schema.rfind("attnscope.capture/", 0) != 0)
        throw Error(cat(path, ": schema '", schema, "' is not an attnscope capture"));
    if (schema != kCaptureSchema)
        throw Error(
            cat(path, ": schema '", schema, "' is not supported by this attnscope (reads ", kCaptureSchema, ")"),
            "regenerate the capture with this version: attnscope run ...");
    auto obj = [&](const json& j, const char* key) -> const json& {
        auto it = j.find(key);
        if (it == j.end() || !it->is_object()) throw Error(cat(path, ": missing object '", key, "'"));
        return *it;
    };
    config_ = config_from_manifest(manifest_, path);

    const json& cap = obj(manifest_, "capture");
    if (auto h = cap.find("heads"); h != cap.end() && h->is_array())
        for (const auto& x : *h)
            heads_.push_back(int(json_int(json{{"head", x}}, "head", path, 0, config_.n_head - 1)));

    auto seqs = manifest_.find("sequences");
    if (seqs == manifest_.end() || !seqs->is_array()) throw Error(cat(path, ": missing array 'sequences'"));
    for (const auto& s : *seqs) {
        SequenceInfo info;
        if (!s.is_object()) throw Error(cat(path, ": sequences[", sequences_.size(), "] must be an object"));
        info.text = json_string_or(s, "text", path, "");
        info.length = json_int(s, "length", path, 1, config_.n_positions);
        auto ids = s.find("token_ids");
        auto toks = s.find("tokens");
        if (ids == s.end() || !ids->is_array() || int64_t(ids->size()) != info.length || toks == s.end() ||
            !toks->is_array() || toks->size() != ids->size())
            throw Error(cat(path, ": sequences[", sequences_.size(), "] needs token_ids and tokens of its length"));
        for (const auto& x : *ids) {
            if (!x.is_number_integer()) throw Error(cat(path, ": token ids must be integers"));
            info.token_ids.push_back(x.get<int32_t>());
        }
        for (const auto& x : *toks)
            info.tokens.push_back(x.is_string() ? x.get<std::string>() : "");
        info.truncated = json_bool_or(s, "truncated", path, false);
        info.prompt_length = json_int_or(s, "prompt_length", path, 0, info.length, -1);
        sequences_.push_back(std::move(info));
    }
    shard_ = shard_from_manifest(manifest_, path, n_sequences());
    auto files = manifest_.find("files");
    if (files == manifest_.end() || !files->is_array()) throw Error(cat(path, ": missing array 'files'"));
    for (const auto& f : *files) {
        const std::string name = json_string_or(f, "file", path, "");
        if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
            throw Error(cat(path, ": file name '", name, "' must be a plain name inside the directory"));
        files_.push_back(std::make_unique<SafetensorsFile>((fs::path(dir) / name).string()));
        for (const auto& t : files_.back()->tensors())
            file_of_[t.name] = files_.size() - 1;
    }
}

ModelConfig config_from_manifest(const json& manifest, const std::string& path) {
    auto obj = [&](const json& j, const char* key) -> const json& {
        auto it = j.find(key);
        if (it == j.end() || !it->is_object()) throw Error(cat(path, ": missing object '", key, "'"));
        return *it;
    };
    ModelConfig c;
    const json& dims = obj(obj(manifest, "model"), "dims");
    c.n_layer = int(json_int(dims, "n_layer", path, 1, kMaxLayers));
    c.n_head = int(json_int(dims, "n_head", path, 1, kMaxHeads));
    c.n_embd = int(json_int(dims, "n_embd", path, 1, kMaxEmbd));
    c.d_head = int(json_int(dims, "d_head", path, 1, kMaxEmbd));
    c.n_kv_head = int(json_int_or(dims, "n_kv_head", path, 1, c.n_head, c.n_head));
    c.n_inner = int(json_int(dims, "n_inner", path, 1, int64_t(kMaxEmbd) * 16));
    c.vocab_size = int(json_int(dims, "vocab_size", path, 1, kMaxVocab));
    c.n_positions = int(json_int(dims, "n_positions", path, 1, kMaxPositions));
    c.model_type = json_string_or(obj(manifest, "model"), "model_type", path, "");
    return c;
}

nlohmann::ordered_json manifest_dims(const ModelConfig& c) {
    nlohmann::ordered_json d = {{"n_layer", c.n_layer},        {"n_head", c.n_head},   {"n_embd", c.n_embd},
                                {"d_head", c.d_head},          {"n_inner", c.n_inner}, {"vocab_size", c.vocab_size},
                                {"n_positions", c.n_positions}};
    if (c.n_kv_head != c.n_head) d["n_kv_head"] = c.n_kv_head; // grouped-query attention
    return d;
}

ShardInfo shard_from_manifest(const json& manifest, const std::string& path, int64_t n_sequences) {
    auto sh = manifest.find("shard");
    if (sh == manifest.end()) return {};
    if (!sh->is_object()) throw Error(cat(path, ": 'shard' must be an object"));
    const int64_t count = json_int(*sh, "count", path, 1, int64_t(1) << 40);
    const int64_t total = json_int(*sh, "total", path, 1, int64_t(1) << 40);
    const ShardInfo want = shard_of(json_int(*sh, "index", path, 0, count - 1), count, total);
    if (json_int(*sh, "first", path, 0, total) != want.first || want.end() - want.first != n_sequences)
        throw Error(cat(path, ": shard ", want.index, "/", count, " of ", total, " texts should hold texts ",
                        want.first, "..", want.end() - 1, "; the file says first ", sh->value("first", int64_t(-1)),
                        " and holds ", n_sequences));
    return want;
}

ShardInfo shard_of(int64_t index, int64_t count, int64_t total) {
    if (count < 1 || index < 0 || index >= count)
        throw Error(cat("--shard ", index, "/", count, ": expected 0 <= I < N"),
                    "shards count from 0, as sbatch --array=0-(N-1) numbers its tasks");
    if (count > total)
        throw Error(
            cat("--shard ", index, "/", count, ": ", count, " shards of ", total, " texts would leave some empty"),
            "use at most as many shards as texts");
    return {index, count, index * total / count, total};
}

std::pair<int64_t, int64_t> parse_shard(const std::string& spec) {
    long long i = -1, n = -1;
    char tail = 0;
    if (std::sscanf(spec.c_str(), "%lld/%lld%c", &i, &n, &tail) != 2 || i < 0 || n < 1 || i >= n ||
        spec.find_first_not_of("0123456789/") != std::string::npos)
        throw Error(cat("--shard: '", spec, "' is not I/N with 0 <= I < N"),
                    "e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT");
    return {i, n};
}

ShardInfo shard_of(const std::string& spec, int64_t total) {
    const auto [index, count] = parse_shard(spec);
    return shard_of(index, count, total);
}

std::vector<size_t> order_shard_sources(const std::vector<ShardSource>& sources,
                                        const std::vector<std::string>& ignore) {
    std::vector<size_t> given(sources.size());
    for (size_t i = 0; i < given.size(); ++i)
        given[i] = i;
    // one directory alone is that slice (to look at one task's texts); together, shards must
    // make the whole corpus
    if (sources.size() <= 1 || std::none_of(sources.begin(), sources.end(), [](auto& s) { return s.shard.present(); }))
        return given;
    const ShardSource& a = sources[0];
    const auto manifest = [](const ShardSource& c) { return c.manifest ? *c.manifest : json::parse(c.manifest_text); };
    const json first = manifest(a);
    const auto model = [&](const ShardSource& c, const json& m) {
        return (&c == &a ? first : m).value("model", json()).value("name", "");
    };
    const auto options = [&](const ShardSource& c, const json& m) { // what was captured; not the batch size
        json o = (&c == &a ? first : m).value("capture", json::object());
        if (o.is_object())
            for (const auto& k : ignore)
                o.erase(k);
        return o;
    };
    for (const ShardSource& r : sources) {
        // a capture's manifest is referred to; a statistics file's parsed here, one at a time
        const json m = r.manifest || &r == &a ? json() : manifest(r);
        const json& mr = r.manifest ? *r.manifest : m;
        if (!r.shard.present() || !a.shard.present())
            throw Error(
                cat(r.shard.present() ? a.dir : r.dir, " is not a shard, ", r.shard.present() ? r.dir : a.dir, " is"),
                "analyse the shards of one corpus together, or unsharded captures");
        if (r.shard.count != a.shard.count || r.shard.total != a.shard.total)
            throw Error(cat(r.dir, " is shard ", r.shard.index, "/", r.shard.count, " of ", r.shard.total, " texts, ",
                            a.dir, " shard ", a.shard.index, "/", a.shard.count, " of ", a.shard.total,
                            ": not one corpus"));
        if (model(r, mr) != model(a, first))
            throw Error(cat(r.dir, " is of model '", model(r, mr), "', ", a.dir, " of '", model(a, first), "'"),
                        "shards of one corpus come from one model");
        if (options(r, mr) != options(a, first))
            throw Error(cat(r.dir, " and ", a.dir,
                            " were captured with different options (hooks, layers, heads, "
                            "dtype, max length or statistics)"),
                        "run every shard with the same --capture, --layers, --heads, --dtype, --max-length "
                        "and --covariance");
    }
    std::vector<size_t> out(size_t(a.shard.count), SIZE_MAX);
    for (size_t i = 0; i < sources.size(); ++i) {
        size_t& slot = out[size_t(sources[i].shard.index)];
        if (slot != SIZE_MAX)
            throw Error(cat(sources[slot].dir, " and ", sources[i].dir, " are both shard ", sources[i].shard.index, "/",
                            sources[i].shard.count),
                        "give each shard once");
        slot = i;
    }
    for (size_t i = 0; i < out.size(); ++i)
        if (out[i] == SIZE_MAX) {
            const ShardInfo m = shard_of(int64_t(i), a.shard.count, a.shard.total);
            throw Error(
                cat("shard ", i, "/", m.count, " (texts ", m.first, "..", m.end() - 1, " of ", m.total, ") is missing"),
                cat("run attnscope run --shard ", i, "/", m.count, " with the same input and options"));
        }
    return out;
}

std::vector<const CaptureReader*> order_shards(const std::vector<const CaptureReader*>& readers) {
    std::vector<ShardSource> sources;
    for (const CaptureReader* r : readers)
        sources.push_back({r->dir(), &r->manifest(), "", r->shard()});
    std::vector<const CaptureReader*> out;
    for (size_t i : order_shard_sources(sources))
        out.push_back(readers[i]);
    return out;
}

const SequenceInfo& CaptureReader::sequence(int64_t s) const {
    if (s < 0 || s >= n_sequences())
        throw Error(cat(dir_, ": sequence ", s, " does not exist; the capture holds ", n_sequences()));
    return sequences_[size_t(s)];
}

std::vector<std::string> CaptureReader::hooks() const {
    std::vector<std::string> out;
    for (const auto& f : files_)
        for (const auto& t : f->tensors())
            if (t.name.rfind("seq0.", 0) == 0) out.push_back(t.name.substr(5));
    return out;
}

bool CaptureReader::has(int64_t seq, const std::string& hook) const {
    return file_of_.count(ActivationCache::key(hook, int(seq))) > 0;
}

std::pair<const SafetensorsFile*, const TensorInfo*> CaptureReader::locate(int64_t seq, const std::string& hook) const {
    const std::string name = ActivationCache::key(hook, int(seq));
    auto it = file_of_.find(name);
    if (it == file_of_.end())
        throw Error(cat(dir_, ": '", hook, "' of sequence ", seq, " is not in this capture"),
                    "capture it with attnscope run --capture ...");
    const SafetensorsFile& f = *files_[it->second];
    return {&f, f.find(name)};
}

CaptureReader::View CaptureReader::view(int64_t seq, const std::string& hook, std::vector<float>& storage,
                                        int64_t index) const {
    const auto [f, t] = locate(seq, hook);
    View v;
    if (index < 0) {
        v.shape = t->shape;
        v.data = f->as_f32(*t, storage);
        return v;
    }
    if (t->shape.empty() || index >= t->shape[0])
        throw Error(cat(f->path(), ": tensor '", t->name, "' of shape ", shape_str(t->shape), " has no slice ", index));
    v.shape.assign(t->shape.begin() + 1, t->shape.end());
    int64_t n = 1;
    for (int64_t d : v.shape)
        n *= d;
    v.data = f->as_f32(*t, storage, index * n, n);
    return v;
}

Captured CaptureReader::read(int64_t seq, const std::string& hook) const {
    std::vector<float> storage;
    const View v = view(seq, hook, storage);
    Captured c;
    c.shape = v.shape;
    if (!storage.empty())
        c.data = std::move(storage);
    else {
        int64_t n = 1;
        for (int64_t d : v.shape)
            n *= d;
        c.data.assign(v.data, v.data + n);
    }
    return c;
}

std::string CaptureReader::fingerprint() const {
    namespace fs = std::filesystem;
    Sha256 h;
    const MappedFile manifest((fs::path(dir_) / "manifest.json").string());
    h.update(manifest.data(), manifest.size());
    for (const auto& f : files_) {
        struct stat st {};
        if (::stat(f->path().c_str(), &st) != 0)
            throw Error(cat(f->path(), ": cannot stat: ", std::strerror(errno)),
                        "the capture changed while being read");
        const std::string line = cat(fs::path(f->path()).filename().string(), " ", int64_t(st.st_size), " ",
                                     int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, "\n");
        h.update(line.data(), line.size());
    }
    return h.hex_digest();
}

void CaptureReader::advise(int64_t seq, const std::string& hook, MappedFile::Use use) const {
    if (!has(seq, hook)) return; // a hint: the read that follows names what is missing
    const auto [f, t] = locate(seq, hook);
    f->advise(*t, use);
}

} // namespace attnscope
