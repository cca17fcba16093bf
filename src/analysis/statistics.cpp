// The statistics file (statistics.h): an Analyzer's sums written as F64 safetensors and read
// back with every shape and value checked, and analyze_parts(), which merges statistics files
// and capture directories of one corpus in shard order. Sums are stored exactly (doubles), so a
// merge differs from one run over the whole corpus only by the order in which the sums were
// added: measured 3e-14 relative at worst, 1e-12 where a correlation cancels, far below the
// 1e-9 the summary is held to.
#include "analysis/statistics.h"

#include "core/error.h"
#include "core/files.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

namespace attnscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kMoments = 7, kFlow = 10, kLayerSums = 6;
const char* const kHidden[3] = {"input", "output", "resid"};

struct Table {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<double> values;
};

} // namespace

// Reads and writes the Analyzer's private sums; one place knows the file's tensor layout.
struct StatisticsAccess {
    static std::vector<Table> tables(const Analyzer& an) {
        const int64_t L = an.cfg_.n_layer, H = an.cfg_.n_head, D = an.cfg_.n_embd, M = an.opt_.max_offset + 2,
                      NM = HeadStats::n_metrics, B = kPositionBuckets;
        std::vector<Table> t;
        auto add = [&](const std::string& name, std::vector<int64_t> shape) -> std::vector<double>& {
            int64_t n = 1;
            for (int64_t d : shape)
                n *= d;
            t.push_back({name, std::move(shape), std::vector<double>(size_t(n), 0.0)});
            return t.back().values;
        };
        add("heads.metric_sum", {L, H, NM});
        add("heads.metric_count", {L, H, NM});
        add("heads.score_sum", {L, H, 3});
        add("heads.score_sequences", {L, H});
        add("heads.template_sum", {L, H, 3});
        add("heads.template_rows", {L, H, 3});
        add("heads.offset_mass", {L, H, M});
        add("heads.offset_rows", {L, H, M});
        add("heads.position_entropy", {L, H, B});
        add("heads.position_sink", {L, H, B});
        add("heads.position_rows", {L, H, B});
        add("layers.js_sum", {L, H * H});
        add("layers.sums", {L, kLayerSums});
        for (const char* h : kHidden) {
            add(cat("hidden.", h, ".moments"), {L, kMoments});
            add(cat("hidden.", h, ".sum"), {L, D});
            if (an.opt_.covariance) add(cat("hidden.", h, ".outer"), {L, D * (D + 1) / 2});
        }
        add("flow", {L, kFlow});
        return t;
    }

    // Copy between the Analyzer and the tables: `out` true writes the tables from the sums (the
    // one walk over the layout serves both directions, so they cannot disagree; writing does
    // not change the sums, whence the const_cast in write_statistics).
    static void transfer(Analyzer& an, std::vector<Table>& t, bool out, const std::string& path = "") {
        const int64_t L = an.cfg_.n_layer, H = an.cfg_.n_head, D = an.cfg_.n_embd;
        std::map<std::string, std::vector<double>*> by;
        for (auto& x : t)
            by[x.name] = &x.values;
        auto io = [&](double& field, const std::string& name, int64_t index) {
            double& cell = (*by.at(name))[size_t(index)];
            if (out)
                cell = field;
            else
                field = cell;
        };
        auto io_array = [&](double* fields, int64_t n, const std::string& name, int64_t first) {
            for (int64_t k = 0; k < n; ++k)
                io(fields[k], name, first + k);
        };
        for (int64_t il = 0; il < L; ++il) {
            Analyzer::Layer& Ly = an.layers_[size_t(il)];
            if (Ly.seen)
                for (int h : Ly.heads) {
                    HeadAccum& a = Ly.acc[size_t(h)];
                    const int64_t lh = il * H + h, M = int64_t(a.offset_mass.size());
                    io_array(a.metrics.sum.data(), HeadStats::n_metrics, "heads.metric_sum", lh * HeadStats::n_metrics);
                    io_array(a.metrics.count.data(), HeadStats::n_metrics, "heads.metric_count",
                             lh * HeadStats::n_metrics);
                    io_array(a.score_sum.data(), 3, "heads.score_sum", lh * 3);
                    io(a.score_sequences, "heads.score_sequences", lh);
                    io_array(a.template_sum.data(), 3, "heads.template_sum", lh * 3);
                    io_array(a.template_rows.data(), 3, "heads.template_rows", lh * 3);
                    io_array(a.offset_mass.data(), M, "heads.offset_mass", lh * M);
                    io_array(a.offset_rows.data(), M, "heads.offset_rows", lh * M);
                    io_array(a.pos_entropy.data(), kPositionBuckets, "heads.position_entropy", lh * kPositionBuckets);
                    io_array(a.pos_sink.data(), kPositionBuckets, "heads.position_sink", lh * kPositionBuckets);
                    io_array(a.pos_rows.data(), kPositionBuckets, "heads.position_rows", lh * kPositionBuckets);
                }
            if (Ly.seen && !Ly.js_sum.empty()) io_array(Ly.js_sum.data(), int64_t(Ly.js_sum.size()), "layers.js_sum", il * H * H);
            double* sums[kLayerSums] = {&Ly.js_rows,          &Ly.evo_js_sum,       &Ly.evo_rows,
                                        &Ly.rollout_sink_sum, &Ly.rollout_dist_sum, &Ly.rollout_rows};
            for (int k = 0; k < kLayerSums; ++k)
                io(*sums[k], "layers.sums", il * kLayerSums + k);
            HiddenAccum* hidden[3] = {&Ly.input, &Ly.output, &Ly.resid};
            for (int k = 0; k < 3; ++k) {
                HiddenAccum& x = *hidden[k];
                const std::string base = cat("hidden.", kHidden[k], ".");
                double dim = double(x.dim);
                double* m[kMoments] = {&dim, &x.count, &x.sum, &x.sum_sq, &x.tokens, &x.cos_sum, &x.cos_pairs};
                for (int j = 0; j < kMoments; ++j)
                    io(*m[j], base + "moments", il * kMoments + j);
                if (!out) {
                    if (dim != double(x.dim)) // set from the manifest's statistics.hidden
                        throw Error(cat(path, ": ", base, "moments gives layer ", il, " width ", dim, ", expected ",
                                        x.dim, " (the manifest's statistics.hidden and the model's n_embd)"));
                    if (x.dim > 0) {
                        x.sum_vec.assign(size_t(D), 0.0);
                        if (x.track_covariance) x.sum_outer.assign(size_t(D * D), 0.0);
                    }
                }
                if (x.dim == 0) continue;
                io_array(x.sum_vec.data(), D, base + "sum", il * D);
                if (x.track_covariance) { // the upper triangle, row by row
                    const int64_t per = D * (D + 1) / 2;
                    int64_t k2 = il * per;
                    for (int64_t a = 0; a < D; ++a)
                        for (int64_t b = a; b < D; ++b)
                            io(x.sum_outer[size_t(a * D + b)], base + "outer", k2++);
                }
            }
            FlowAccum& f = Ly.flow;
            double* fl[kFlow] = {&f.n,         &f.sx,           &f.sy,           &f.sxx,
                                 &f.syy,       &f.sxy,          &f.ratio_sum,    &f.ratio_tokens,
                                 &f.resid_ratio_sum, &f.resid_tokens};
            for (int k = 0; k < kFlow; ++k)
                io(*fl[k], "flow", il * kFlow + k);
        }
    }

    // Counts are never negative: a file that says otherwise is corrupted.
    static void check_counts(const Analyzer& an, const std::string& path) {
        // a count is a whole number of rows, tokens or pairs, below 2^53 (where doubles stop
        // counting by ones)
        auto check = [&](double v, const char* what, size_t il) {
            if (v < 0 || v > 9007199254740992.0 || v != std::floor(v))
                throw Error(cat(path, ": ", what, " of layer ", il, " is ", v,
                                ", not a count (a whole number from 0 to 2^53)"),
                            "the file is corrupted; run this part again");
        };
        for (size_t il = 0; il < an.layers_.size(); ++il) {
            const auto& Ly = an.layers_[il];
            if (Ly.seen)
                for (int h : Ly.heads) {
                    const HeadAccum& a = Ly.acc[size_t(h)];
                    for (double v : a.metrics.count)
                        check(v, "heads.metric_count", il);
                    check(a.score_sequences, "heads.score_sequences", il);
                    for (double v : a.template_rows)
                        check(v, "heads.template_rows", il);
                    for (double v : a.offset_rows)
                        check(v, "heads.offset_rows", il);
                    for (double v : a.pos_rows)
                        check(v, "heads.position_rows", il);
                }
            for (double v : {Ly.js_rows, Ly.evo_rows, Ly.rollout_rows})
                check(v, "layers.sums (rows)", il);
            for (const HiddenAccum* x : {&Ly.input, &Ly.output, &Ly.resid})
                for (double v : {x->count, x->tokens, x->cos_pairs})
                    check(v, "hidden.*.moments (counts)", il);
            for (double v : {Ly.flow.n, Ly.flow.ratio_tokens, Ly.flow.resid_tokens})
                check(v, "flow (counts)", il);
        }
    }

    static json description(const Analyzer& an) {
        json layers = json::array(), hidden = json::object();
        for (const auto& Ly : an.layers_)
            layers.push_back(Ly.seen ? json(Ly.heads) : json(nullptr));
        for (int k = 0; k < 3; ++k) {
            json present = json::array();
            for (const auto& Ly : an.layers_) {
                const HiddenAccum* x[3] = {&Ly.input, &Ly.output, &Ly.resid};
                if (x[k]->sealed)
                    throw Error("statistics: hidden-state sums already reduced (sealed) cannot be written");
                present.push_back(x[k]->dim > 0);
            }
            hidden[kHidden[k]] = present;
        }
        json rollout = json::array();
        for (const auto& r : an.rollout_rows_)
            rollout.push_back({{"sequence", r.sequence}, {"tokens", r.tokens}, {"last_row", r.last_row}});
        // the exact loss sum as a decimal string (it may exceed 64 bits)
        std::string fixed;
        for (unsigned __int128 v = an.loss_fixed_ < 0 ? 0 : (unsigned __int128)an.loss_fixed_; v > 0 || fixed.empty();
             v /= 10)
            fixed.insert(fixed.begin(), char('0' + int(v % 10)));
        return {{"n_sequences", an.n_sequences_},
                {"n_tokens", an.n_tokens_},
                {"loss_fixed", fixed},
                {"loss_predictions", an.loss_predictions_},
                {"max_offset", an.opt_.max_offset},
                {"covariance", an.opt_.covariance},
                {"rows_only", an.rows_only_},
                {"rollout_broken", an.rollout_broken_},
                {"layers", layers},
                {"hidden", hidden},
                {"rollout", rollout}};
    }

    static void restore(Analyzer& an, const json& d, const std::string& path) {
        const json& layers = d.at("layers");
        an.n_sequences_ = d.at("n_sequences").get<int64_t>();
        an.n_tokens_ = d.at("n_tokens").get<int64_t>();
        an.loss_predictions_ = json_int_or(d, "loss_predictions", path, 0, int64_t(1) << 50, 0);
        const std::string fixed = json_string_or(d, "loss_fixed", path, "0");
        if (fixed.empty() || fixed.size() > 36 || fixed.find_first_not_of("0123456789") != std::string::npos)
            throw Error(cat(path, ": statistics.loss_fixed = '", fixed, "' is not a decimal integer"));
        an.loss_fixed_ = 0;
        for (char c : fixed)
            an.loss_fixed_ = an.loss_fixed_ * 10 + (c - '0');
        an.rows_only_ = json_bool_or(d, "rows_only", path, false);
        an.rollout_broken_ = json_bool_or(d, "rollout_broken", path, false);
        for (size_t il = 0; il < layers.size(); ++il)
            if (!layers[il].is_null()) an.mark_layer(int(il), layers[il].get<std::vector<int>>());
        if (auto r = d.find("rollout"); r != d.end() && r->is_array())
            for (const auto& row : *r) {
                if (!row.is_object()) throw Error(cat(path, ": statistics.rollout rows must be objects"));
                RolloutRow rr;
                rr.sequence = int(json_int(row, "sequence", path, 0, int64_t(1) << 30));
                try {
                    rr.tokens = row.at("tokens").get<std::vector<std::string>>();
                    rr.last_row = row.at("last_row").get<std::vector<double>>();
                } catch (const json::exception&) {
                    throw Error(cat(path, ": statistics.rollout rows need tokens (strings) and last_row (numbers)"));
                }
                if (rr.tokens.size() != rr.last_row.size())
                    throw Error(cat(path, ": a statistics.rollout row has ", rr.tokens.size(), " tokens and ",
                                    rr.last_row.size(), " weights"));
                an.rollout_rows_.push_back(std::move(rr));
            }
    }

    static void set_hidden_tracking(Analyzer& an, const json& hidden) {
        for (size_t il = 0; il < an.layers_.size(); ++il) {
            auto& Ly = an.layers_[il];
            HiddenAccum* x[3] = {&Ly.input, &Ly.output, &Ly.resid};
            for (int k = 0; k < 3; ++k)
                x[k]->dim = hidden[kHidden[k]][il].get<bool>() ? an.cfg_.n_embd : 0;
        }
    }
};

void write_statistics(const Analyzer& an, const std::string& path, json manifest, bool durable) {
    manifest["schema"] = kStatisticsSchema;
    manifest["statistics"] = StatisticsAccess::description(an);
    manifest.erase("files");
    manifest.erase("batches_completed");
    std::vector<Table> filled = StatisticsAccess::tables(an);
    StatisticsAccess::transfer(const_cast<Analyzer&>(an), filled, /*out=*/true);

    // header: {"__metadata__": {...}, name: {dtype, shape, data_offsets}}, padded to 8 bytes
    json header = json::object();
    header["__metadata__"] = {{"schema", kStatisticsSchema}, {"manifest", manifest.dump()}};
    uint64_t offset = 0;
    for (const Table& t : filled) {
        const uint64_t bytes = uint64_t(t.values.size()) * 8;
        header[t.name] = {{"dtype", "F64"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    AtomicFile f(path);
    f.set_durable(durable);
    uint64_t n = text.size(), at = 0;
    unsigned char len[8];
    for (int k = 0; k < 8; ++k)
        len[k] = (unsigned char)(n >> (8 * k));
    f.write_at(at, len, 8), at += 8;
    f.write_at(at, text.data(), text.size()), at += text.size();
    for (const Table& t : filled) { // little-endian doubles, as x86 and ARM hold them
        f.write_at(at, t.values.data(), t.values.size() * 8);
        at += t.values.size() * 8;
    }
    f.commit();
}

bool is_statistics(const std::string& path) {
    if (fs::is_regular_file(path)) return fs::path(path).filename() == kStatisticsFile;
    return fs::is_regular_file(fs::path(path) / kStatisticsFile) && !fs::exists(fs::path(path) / "manifest.json");
}

// Everything the header says, checked: what the constructor keeps a little of, and load() all of.
struct StatisticsHeader {
    json manifest;   // the whole manifest
    json statistics; // manifest["statistics"]
    ModelConfig config;
    ShardInfo shard;
    int64_t n_sequences = 0;
    AnalysisOptions options;
};

static StatisticsHeader read_header(const SafetensorsFile& st, const std::string& path) {
    StatisticsHeader h;
    const auto& meta = st.metadata();
    auto schema = meta.find("schema");
    if (schema == meta.end() || schema->second.rfind("attnscope.statistics/", 0) != 0)
        throw Error(cat(path, ": not an attnscope statistics file (no schema attnscope.statistics/ in its metadata)"));
    if (schema->second != kStatisticsSchema)
        throw Error(cat(path, ": schema '", schema->second, "' is not supported (this attnscope reads ",
                        kStatisticsSchema, ")"),
                    "run the part again with this version");
    auto mtext = meta.find("manifest");
    if (mtext == meta.end()) throw Error(cat(path, ": metadata has no 'manifest'"));
    h.manifest = parse_json(mtext->second.data(), mtext->second.data() + mtext->second.size(), path + " manifest");
    const json& m = h.manifest;
    if (!m.is_object()) throw Error(cat(path, ": the manifest must be a JSON object"));
    h.config = config_from_manifest(m, path);
    auto st_it = m.find("statistics");
    if (st_it == m.end() || !st_it->is_object()) throw Error(cat(path, ": the manifest has no 'statistics' object"));
    h.statistics = *st_it;
    const json& d = h.statistics;
    h.n_sequences = json_int(d, "n_sequences", path, 0, int64_t(1) << 40);
    json_int(d, "n_tokens", path, 0, int64_t(1) << 50);
    h.options.max_offset = int(json_int(d, "max_offset", path, 1, 4096));
    h.options.covariance = json_bool_or(d, "covariance", path, false);
    h.shard = shard_from_manifest(m, path, h.n_sequences);
    const json& layers = d.value("layers", json());
    if (!layers.is_array() || int64_t(layers.size()) != h.config.n_layer)
        throw Error(cat(path, ": statistics.layers must list the ", h.config.n_layer, " layers (heads or null)"));
    for (size_t il = 0; il < layers.size(); ++il) {
        if (layers[il].is_null()) continue;
        if (!layers[il].is_array() || layers[il].empty())
            throw Error(cat(path, ": statistics.layers[", il, "] must be a list of heads or null"));
        int64_t prev = -1;
        for (const auto& x : layers[il]) {
            if (!x.is_number_integer() || x.get<int64_t>() <= prev || x.get<int64_t>() >= h.config.n_head)
                throw Error(cat(path, ": statistics.layers[", il, "] must list heads 0..", h.config.n_head - 1,
                                " in increasing order, found ", layers[il].dump()));
            prev = x.get<int64_t>();
        }
    }
    const json& hidden = d.value("hidden", json());
    for (const char* k : kHidden) {
        const json& v = hidden.is_object() ? hidden.value(k, json()) : json();
        if (!v.is_array() || int64_t(v.size()) != h.config.n_layer ||
            std::any_of(v.begin(), v.end(), [](const json& x) { return !x.is_boolean(); }))
            throw Error(cat(path, ": statistics.hidden.", k, " must hold one true/false per layer"));
    }
    // the tensors: exactly the tables of this configuration, F64, of their shapes
    Analyzer shape_of(h.config, h.options);
    const std::vector<Table> want = StatisticsAccess::tables(shape_of);
    for (const Table& t : want) {
        const TensorInfo* info = st.find(t.name);
        if (!info)
            throw Error(cat(path, ": tensor '", t.name, "' is missing"), "the file is not a complete statistics file");
        if (info->dtype != DType::f64 || info->shape != t.shape)
            throw Error(cat(path, ": tensor '", t.name, "' is ", dtype_name(info->dtype), " ", shape_str(info->shape),
                            ", expected F64 ", shape_str(t.shape)));
    }
    if (st.tensors().size() != want.size())
        throw Error(cat(path, ": ", st.tensors().size(), " tensors, expected ", want.size()),
                    "the file holds tensors this version does not know");
    return h;
}

StatisticsFile::StatisticsFile(const std::string& given) : dir_(given) {
    path_ = fs::is_directory(given) ? (fs::path(given) / kStatisticsFile).string() : given;
    if (!fs::is_regular_file(path_))
        throw Error(cat(given, ": no ", kStatisticsFile, " (a stats-only run writes it when it completes)"),
                    "run attnscope run --stats-only again for this part; an interrupted run continues with --resume");
    StatisticsHeader h = read_header(SafetensorsFile(path_), path_);
    config_ = h.config, shard_ = h.shard, n_sequences_ = h.n_sequences, options_ = h.options;
    // what shards are compared by, and nothing more: a merge of thousands keeps little per shard
    manifest_ = json{{"model", {{"name", h.manifest.value("model", json::object()).value("name", "")}}},
                     {"capture", std::move(h.manifest["capture"])}}
                    .dump();
}

Analyzer StatisticsFile::load() const {
    const SafetensorsFile st(path_); // read and checked again: the file may have changed since
    const StatisticsHeader h = read_header(st, path_);
    if (h.shard.index != shard_.index || h.n_sequences != n_sequences_ || h.config.n_layer != config_.n_layer ||
        h.config.n_head != config_.n_head || h.config.n_embd != config_.n_embd)
        throw Error(cat(path_, ": changed since it was listed"), "analyse the parts again");
    Analyzer an(config_, options_);
    StatisticsAccess::restore(an, h.statistics, path_);
    StatisticsAccess::set_hidden_tracking(an, h.statistics.at("hidden"));
    std::vector<Table> tables = StatisticsAccess::tables(an);
    for (Table& t : tables) {
        std::memcpy(t.values.data(), st.raw(*st.find(t.name)), t.values.size() * 8);
        for (double v : t.values)
            if (!std::isfinite(v))
                throw Error(cat(path_, ": tensor '", t.name, "' holds a value that is not finite (", v, ")"),
                            "the file is corrupted; run this part again");
    }
    StatisticsAccess::transfer(an, tables, /*out=*/false, path_);
    StatisticsAccess::check_counts(an, path_);
    return an;
}

AnalysisResult analyze_parts(const std::vector<const CaptureReader*>& captures,
                             const std::vector<const StatisticsFile*>& statistics, AnalysisOptions options,
                             const std::function<void(int64_t, int64_t)>& on_progress) {
    if (statistics.empty()) return analyze_captures(captures, options, on_progress);
    // shard order over both kinds; a capture's "capture" options name hooks and a dtype, a
    // statistics file's its statistics: those are compared below by what the sums track
    std::vector<ShardSource> sources;
    for (const CaptureReader* c : captures)
        sources.push_back({c->dir(), &c->manifest(), "", c->shard()});
    for (const StatisticsFile* s : statistics)
        sources.push_back({s->dir(), nullptr, s->manifest_text(), s->shard()});
    const bool mixed = !captures.empty();
    const std::vector<size_t> order = order_shard_sources(
        sources, mixed ? std::vector<std::string>{"batch_size", "patterns", "dtype", "statistics"}
                       : std::vector<std::string>{"batch_size"});
    // one model, sharded or not (order_shard_sources compares names only among shards)
    const auto model_of = [&](const ShardSource& src) {
        return (src.manifest ? *src.manifest : json::parse(src.manifest_text))
            .value("model", json::object())
            .value("name", "");
    };
    const std::string model = model_of(sources[order[0]]);
    for (size_t i : order)
        if (const std::string m = model_of(sources[i]); m != model)
            throw Error(cat(sources[i].dir, " is of model '", m, "', ", sources[order[0]].dir, " of '", model, "'"),
                        "merge the parts of one model");
    const StatisticsFile& first = *statistics[0];
    options.max_offset = first.options().max_offset;
    options.covariance = first.options().covariance;
    for (const StatisticsFile* s : statistics) {
        const ModelConfig &c = s->config(), &f = first.config();
        if (c.n_layer != f.n_layer || c.n_head != f.n_head || c.n_embd != f.n_embd)
            throw Error(cat(s->dir(), ": model ", c.n_layer, " x ", c.n_head, " x ", c.n_embd, " differs from ",
                            first.dir(), " (", f.n_layer, " x ", f.n_head, " x ", f.n_embd, ")"),
                        "merge the parts of one model");
    }
    for (const CaptureReader* c : captures) {
        const json cap = c->manifest().value("capture", json::object());
        if (cap.value("dtype", std::string(dtype_name(DType::f32))) != dtype_name(DType::f32))
            throw Error(cat(c->dir(), " was captured in ", cap.value("dtype", std::string()),
                            "; statistics files such as ", first.dir(), " are sums of f32 values"),
                        "capture with --dtype f32 to merge with stats-only parts");
    }
    Analyzer total(first.config(), options);
    std::string total_from;
    int64_t done = 0;
    const int64_t n_parts = int64_t(order.size());
    for (size_t i : order) {
        Analyzer part = [&] {
            if (i >= captures.size()) return statistics[i - captures.size()]->load();
            const CaptureReader& r = *captures[i];
            Analyzer a(first.config(), options);
            feed_capture_patterns(a, r);
            for (int il = 0; il < first.config().n_layer; ++il)
                feed_capture_hidden(a, r, il);
            a.set_rows_only();
            return a;
        }();
        if (total_from.empty()) {
            total.merge(part);
            total_from = sources[i].dir;
        } else {
            if (const std::string why = total.tracking_difference(part); !why.empty())
                throw Error(cat(sources[i].dir, " and ", total_from, " track different statistics: ", why),
                            "run every part with the same --layers, --heads, --capture and --covariance");
            total.merge(part);
        }
        if (on_progress) on_progress(++done, n_parts);
    }
    total.set_model(model);
    AnalysisResult res = total.finish();
    if (order.size() == 1) note_lone_shard(res, sources[order[0]].shard);
    for (size_t i : order)
        res.sources.push_back(sources[i].dir);
    return res;
}

} // namespace attnscope
