// Head ablation by hooks that replace values. A clean forward gives the logits (hence the clean
// loss) and, for mean and resample ablation, each head's z (read-only hooks: the mean over every
// token of every text, and each text's values). Each target then runs the batch again with a
// read-write hook on its layers' hook_z that overwrites its heads' slices; the forward continues
// from the changed values, and starts at the target's first layer from the clean residual stream
// there (prefix reuse: the layers before it are unchanged). Cross-entropy is each row's
// log-sum-exp (kernels.h: exp in float lanes, the sum in double) minus the target's logit.
#include "intervene/ablate.h"

#include "core/error.h"
#include "engine/kernels.h"
#include "io/json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace attnscope {

const char* ablation_method_name(AblationMethod m) {
    switch (m) {
    case AblationMethod::zero: return "zero";
    case AblationMethod::mean: return "mean";
    case AblationMethod::resample: return "resample";
    }
    return "?";
}

AblationMethod parse_ablation_method(const std::string& s) {
    if (s == "zero" || s.empty()) return AblationMethod::zero;
    if (s == "mean") return AblationMethod::mean;
    if (s == "resample") return AblationMethod::resample;
    throw Error(cat("--method: '", s, "' is not an ablation method"), "use zero, mean or resample");
}

std::vector<AblationTarget> parse_ablation_targets(const std::string& spec, const ModelConfig& cfg) {
    std::vector<AblationTarget> out;
    if (spec.empty() || spec == "all") {
        for (int il = 0; il < cfg.n_layer; ++il)
            for (int h = 0; h < cfg.n_head; ++h)
                out.push_back({cat("L", il, "H", h), {{il, h}}});
        return out;
    }
    auto head = [&](const std::string& s) {
        int il = -1, h = -1;
        char tail = 0;
        if (!(std::sscanf(s.c_str(), "L%dH%d%c", &il, &h, &tail) == 2 || std::sscanf(s.c_str(), "%d.%d%c", &il, &h, &tail) == 2))
            throw Error(cat("--heads: '", s, "' is not a head"), "write heads as L1H0 or 1.0, groups as L0H1+L2H3, or all");
        if (il < 0 || il >= cfg.n_layer)
            throw Error(cat("--heads: '", s, "': layer ", il, " is out of range (the model has ", cfg.n_layer, " layers)"));
        if (h < 0 || h >= cfg.n_head)
            throw Error(cat("--heads: '", s, "': head ", h, " is out of range (the model has ", cfg.n_head, " heads)"));
        return std::make_pair(il, h);
    };
    for (const std::string& item : split_list(spec)) {
        AblationTarget t;
        size_t start = 0;
        while (start <= item.size()) {
            const size_t plus = item.find('+', start);
            const std::string part = item.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
            const auto hh = head(part);
            if (std::find(t.heads.begin(), t.heads.end(), hh) == t.heads.end()) t.heads.push_back(hh);
            if (plus == std::string::npos) break;
            start = plus + 1;
        }
        for (const auto& [il, h] : t.heads)
            t.name += cat(t.name.empty() ? "" : "+", "L", il, "H", h);
        out.push_back(std::move(t));
    }
    return out;
}

namespace {

// Each text's summed cross-entropy and its number of counted predictions.
struct Losses {
    std::vector<double> sum;
    std::vector<int64_t> n;
};

Losses text_losses(const Batch& batch, RunState& state, int64_t V, const std::vector<std::vector<uint8_t>>& count) {
    Losses L;
    const int64_t S = batch.n_seq();
    L.sum.assign(size_t(S), 0.0);
    L.n.assign(size_t(S), 0);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t s = 0; s < S; ++s) {
        const auto& ids = batch.tokens[size_t(s)];
        const TensorView lg = state.logits_of(batch, s, V);
        for (int64_t t = 0; t + 1 < int64_t(ids.size()); ++t) {
            if (!count.empty() && !count[size_t(s)][size_t(t)]) continue;
            const float* row = lg.data + t * V;
            L.sum[size_t(s)] += log_sum_exp(row, V) - double(row[ids[size_t(t) + 1]]);
            L.n[size_t(s)] += 1;
        }
    }
    return L;
}

int first_layer(const AblationTarget& t) {
    int first = std::numeric_limits<int>::max();
    for (const auto& hl : t.heads)
        first = std::min(first, hl.first);
    return t.heads.empty() ? 0 : first;
}

} // namespace

HeadImportance ablate_heads(const Model& model, const Batch& batch, const AblateOptions& o) {
    const ModelConfig& cfg = model.config();
    const int64_t S = batch.n_seq(), H = cfg.n_head, d = cfg.d_head, V = cfg.vocab_size;
    if (S == 0) throw Error("ablate: no texts", "give --text or --input");
    for (int64_t s = 0; s < S; ++s)
        if (batch.tokens[size_t(s)].size() < 2)
            throw Error(cat("ablate: text ", s, " has ", batch.tokens[size_t(s)].size(), " token(s)"),
                        "every text needs 2 tokens or more: the loss is over next-token predictions");
    if (!o.count.empty()) {
        if (int64_t(o.count.size()) != S) throw Error(cat("ablate: count has ", o.count.size(), " rows for ", S, " texts"));
        for (int64_t s = 0; s < S; ++s)
            if (o.count[size_t(s)].size() + 1 < batch.tokens[size_t(s)].size())
                throw Error(cat("ablate: count of text ", s, " covers ", o.count[size_t(s)].size(), " predictions of ",
                                batch.tokens[size_t(s)].size() - 1));
    }
    if (o.method == AblationMethod::resample && S < 2)
        throw Error("ablate: resample ablation takes each head's value from another text: give 2 texts or more");
    std::vector<uint8_t> layer_used(size_t(cfg.n_layer), 0);
    for (const auto& t : o.targets)
        for (const auto& [il, h] : t.heads) {
            if (il < 0 || il >= cfg.n_layer || h < 0 || h >= H)
                throw Error(cat("ablate: head L", il, "H", h, " is not in the model (", cfg.n_layer, " x ", H, ")"));
            layer_used[size_t(il)] = 1;
        }

    // the clean pass: logits, and z where mean or resample ablation needs it
    std::vector<std::vector<double>> mean(size_t(cfg.n_layer));            // [layer][H * d]
    std::vector<std::vector<std::vector<float>>> values(size_t(cfg.n_layer)); // [layer][text][T * H * d]
    int64_t n_tokens = 0;
    HookSet clean_hooks;
    if (o.method != AblationMethod::zero) {
        for (int il = 0; il < cfg.n_layer; ++il)
            if (layer_used[size_t(il)]) {
                mean[size_t(il)].assign(size_t(H * d), 0.0);
                values[size_t(il)].resize(size_t(S));
            }
        HookFilter f = HookFilter::parse("blocks.*.attn.hook_z", "", "");
        clean_hooks.add(
            f,
            [&](const HookContext& ctx, TensorView z) { // z: [T, H, d]; sequences come one at a time per layer
                if (!layer_used[size_t(ctx.layer)]) return;
                const int64_t T = z.ne[0];
                std::vector<double>& m = mean[size_t(ctx.layer)];
                std::vector<float>& keep = values[size_t(ctx.layer)][size_t(ctx.seq)];
                keep.resize(size_t(T * H * d));
                for (int64_t t = 0; t < T; ++t)
                    for (int64_t h = 0; h < H; ++h)
                        for (int64_t k = 0; k < d; ++k) {
                            const float v = z.at(t, h, k);
                            m[size_t(h * d + k)] += v;
                            keep[size_t((t * H + h) * d + k)] = v;
                        }
            },
            HookAccess::read_only);
    }
    // Prefix reuse: a target whose first head is in layer il leaves layers 0 .. il-1 as they
    // were, so its run starts from the clean residual stream entering il, kept here for each
    // layer some target starts at (F32 [N, D] each). Ablating every head alone then costs, per
    // head, the layers from its own on plus the LM head: about (L + 1) / 2L of the layers.
    std::vector<std::vector<float>> resid(size_t(cfg.n_layer)); // [layer][N * D]
    const int64_t N = batch.n_tokens(), D = cfg.n_embd;
    for (const auto& t : o.targets) {
        const int first = first_layer(t);
        if (first > 0) resid[size_t(first)].resize(size_t(N * D));
    }
    std::vector<int64_t> offset(static_cast<size_t>(S));
    for (int64_t s = 0; s < S; ++s)
        offset[size_t(s)] = batch.offset(s);
    clean_hooks.add(
        HookFilter::parse("blocks.*.hook_resid_pre", "", ""),
        [&](const HookContext& ctx, TensorView x) { // x: [T, D], one sequence
            std::vector<float>& keep = resid[size_t(ctx.layer)];
            if (!keep.empty()) x.copy_to(keep.data() + offset[size_t(ctx.seq)] * D);
        },
        HookAccess::read_only);
    RunState state;
    ForwardOptions fo;
    fo.logits = true;
    forward(model, batch, clean_hooks, state, fo);
    const Losses clean = text_losses(batch, state, V, o.count);
    for (int64_t s = 0; s < S; ++s)
        n_tokens += int64_t(batch.tokens[size_t(s)].size());
    for (auto& m : mean)
        for (double& v : m)
            v /= double(n_tokens);

    HeadImportance r;
    r.method = o.method;
    r.n_layer = cfg.n_layer, r.n_head = cfg.n_head;
    double clean_sum = 0;
    for (int64_t s = 0; s < S; ++s) {
        clean_sum += clean.sum[size_t(s)];
        r.tokens += clean.n[size_t(s)];
        r.clean_per_text.push_back(clean.n[size_t(s)] ? clean.sum[size_t(s)] / double(clean.n[size_t(s)]) : 0.0);
    }
    if (r.tokens == 0) throw Error("ablate: no prediction is counted", "count at least one predicted token");
    r.clean_loss = clean_sum / double(r.tokens);

    int64_t done = 0;
    for (const AblationTarget& target : o.targets) {
        HookSet hooks;
        std::vector<std::vector<int>> heads_of(size_t(cfg.n_layer));
        for (const auto& [il, h] : target.heads)
            heads_of[size_t(il)].push_back(h);
        hooks.add(HookFilter::parse("blocks.*.attn.hook_z", "", ""), [&](const HookContext& ctx, TensorView z) {
            const auto& hs = heads_of[size_t(ctx.layer)];
            if (hs.empty()) return;
            const int64_t T = z.ne[0];
            const int64_t other = (ctx.seq + 1) % S; // resample: the next text, cyclically
            const std::vector<float>* src =
                o.method == AblationMethod::resample ? &values[size_t(ctx.layer)][size_t(other)] : nullptr;
            const int64_t T_other = src ? int64_t(src->size()) / (H * d) : 0;
            for (int h : hs)
                for (int64_t t = 0; t < T; ++t)
                    for (int64_t k = 0; k < d; ++k) {
                        float v = 0;
                        if (o.method == AblationMethod::mean || (src && t >= T_other))
                            v = float(mean[size_t(ctx.layer)][size_t(h * d + k)]);
                        else if (src)
                            v = (*src)[size_t((t * H + h) * d + k)];
                        z.at(t, h, k) = v;
                    }
        });
        ForwardOptions from = fo;
        from.start_layer = first_layer(target);
        from.resid_pre = from.start_layer > 0 ? resid[size_t(from.start_layer)].data() : nullptr;
        forward(model, batch, hooks, state, from);
        const Losses ab = text_losses(batch, state, V, o.count);
        AblationResult res;
        res.target = target;
        double sum = 0;
        std::vector<double> deltas;
        for (int64_t s = 0; s < S; ++s) {
            sum += ab.sum[size_t(s)];
            const double per = ab.n[size_t(s)] ? ab.sum[size_t(s)] / double(ab.n[size_t(s)]) : 0.0;
            res.per_text.push_back(per);
            if (ab.n[size_t(s)]) deltas.push_back(per - r.clean_per_text[size_t(s)]);
        }
        res.loss = sum / double(r.tokens);
        res.delta = res.loss - r.clean_loss;
        if (deltas.size() >= 2) {
            double m = 0, v = 0;
            for (double x : deltas)
                m += x;
            m /= double(deltas.size());
            for (double x : deltas)
                v += (x - m) * (x - m);
            res.se = std::sqrt(v / double(deltas.size() - 1) / double(deltas.size()));
        }
        r.results.push_back(std::move(res));
        if (o.on_progress) o.on_progress(++done, int64_t(o.targets.size()));
    }
    return r;
}

nlohmann::ordered_json head_importance_json(const HeadImportance& r) {
    nlohmann::ordered_json j;
    j["schema"] = "attnscope.head_importance/1";
    if (!r.model.empty()) j["model"] = r.model;
    j["method"] = ablation_method_name(r.method);
    j["metric"] = "loss";
    j["loss"] = "mean next-token cross-entropy (nats) over every counted predicted token of every text, token-weighted";
    j["n_layer"] = r.n_layer;
    j["n_head"] = r.n_head;
    j["tokens"] = r.tokens;
    j["clean_loss"] = r.clean_loss;
    j["clean_per_text"] = r.clean_per_text;
    j["heads"] = nlohmann::ordered_json::array();
    for (const AblationResult& a : r.results) {
        nlohmann::ordered_json heads = nlohmann::ordered_json::array();
        for (const auto& [il, h] : a.target.heads)
            heads.push_back({il, h});
        j["heads"].push_back({{"name", a.target.name},
                              {"heads", heads},
                              {"ablated_loss", a.loss},
                              {"delta", a.delta},
                              {"se", a.se},
                              {"per_text", a.per_text}});
    }
    return j;
}

HeadImportance read_head_importance(const std::string& path) {
    return head_importance_from_json(read_json_file(path), path);
}

HeadImportance head_importance_from_json(const nlohmann::json& j, const std::string& path) {
    HeadImportance r;
    try {
        if (!j.is_object() || j.value("schema", "") != "attnscope.head_importance/1")
            throw Error(cat(path, ": not a head importance file (schema attnscope.head_importance/1 expected)"),
                        "give the head_importance.json that attnscope ablate writes");
        r.model = j.value("model", "");
        r.method = parse_ablation_method(j.at("method").get<std::string>());
        // integers through json_int: a float out of int's range must not be cast (undefined)
        r.n_layer = int(json_int(j, "n_layer", path, 1, 4096));
        r.n_head = int(json_int(j, "n_head", path, 1, 4096));
        r.tokens = json_int(j, "tokens", path, 1, int64_t(1) << 50);
        r.clean_loss = j.at("clean_loss").get<double>();
        r.clean_per_text = j.at("clean_per_text").get<std::vector<double>>();
        if (r.n_layer <= 0 || r.n_head <= 0 || r.tokens <= 0 || !std::isfinite(r.clean_loss))
            throw Error(cat(path, ": n_layer ", r.n_layer, ", n_head ", r.n_head, ", tokens ", r.tokens, ", clean_loss ",
                            r.clean_loss, ": expected positive sizes and a finite loss"));
        for (const auto& e : j.at("heads")) {
            AblationResult a;
            a.target.name = e.at("name").get<std::string>();
            for (const auto& hl : e.at("heads")) {
                const auto in = [&](size_t k, int n) {
                    return hl.is_array() && hl.size() == 2 && hl[k].is_number_integer() && hl[k].get<int64_t>() >= 0 &&
                           hl[k].get<int64_t>() < n;
                };
                if (!in(0, r.n_layer) || !in(1, r.n_head))
                    throw Error(cat(path, ": target ", a.target.name, " names head ", hl.dump(), ", outside ", r.n_layer,
                                    " layers x ", r.n_head, " heads"));
                a.target.heads.emplace_back(int(hl[0].get<int64_t>()), int(hl[1].get<int64_t>()));
            }
            a.loss = e.at("ablated_loss").get<double>();
            a.delta = e.at("delta").get<double>();
            a.se = e.at("se").get<double>();
            a.per_text = e.value("per_text", std::vector<double>{});
            if (a.target.heads.empty() || !std::isfinite(a.loss) || !std::isfinite(a.delta) || !std::isfinite(a.se))
                throw Error(cat(path, ": target ", a.target.name, " has no heads or a non-finite loss"));
            r.results.push_back(std::move(a));
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat(path, ": not a valid head importance file: ", e.what()),
                    "give the head_importance.json that attnscope ablate writes");
    }
    return r;
}

const AblationResult* find_ablation(const HeadImportance& r, std::vector<std::pair<int, int>> heads) {
    std::sort(heads.begin(), heads.end());
    for (const AblationResult& a : r.results) {
        auto t = a.target.heads;
        std::sort(t.begin(), t.end());
        if (t == heads) return &a;
    }
    return nullptr;
}

std::string head_importance_report(const HeadImportance& r) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(4);
    o << "HEAD IMPORTANCE (ablation)\n==========================\n\n";
    o << "Method: " << ablation_method_name(r.method) << " ablation of each head's output (hook_z)";
    if (r.method == AblationMethod::zero) o << "; zeroing a head can be far off the model's distribution (mean ablation is offered)";
    o << ".\nLoss: the mean next-token cross-entropy over " << r.tokens
      << " predicted tokens of " << r.clean_per_text.size() << " texts, token-weighted. Clean loss " << r.clean_loss
      << " nats/token.\n\n";
    std::vector<const AblationResult*> order;
    for (const auto& a : r.results)
        order.push_back(&a);
    std::stable_sort(order.begin(), order.end(), [](auto* x, auto* y) { return x->delta > y->delta; });
    o << "  target              ablated loss     delta   (se over texts)\n";
    for (const AblationResult* a : order) {
        std::string name = a->target.name;
        name.resize(std::max<size_t>(name.size(), 18), ' ');
        o << "  " << name << "  " << a->loss << "   " << (a->delta >= 0 ? "+" : "") << a->delta << "   (" << a->se << ")\n";
    }
    return o.str();
}

} // namespace attnscope
