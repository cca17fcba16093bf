// The self-contained viewer: gathers the captured patterns of the first sequences (quantised
// lower triangles, base64), the tokens and each head's label and metrics into one JSON object,
// escapes it for safe inclusion in a <script type="application/json"> element, and puts it into
// the HTML template (src/render/viewer_template.html, compiled in).
#include "render/viewer.h"

#include "core/error.h"
#include "core/files.h"
#include "render/figures.h"

#include <cmath>
#include <cstdio>

namespace attnscope {

namespace {

const char* const kTemplate =
#include "viewer_template.inc"
    ;

std::string base64(const std::vector<uint8_t>& in) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
        out += abc[v >> 18], out += abc[(v >> 12) & 63], out += abc[(v >> 6) & 63], out += abc[v & 63];
    }
    if (i + 1 == in.size()) {
        const uint32_t v = uint32_t(in[i]) << 16;
        out += abc[v >> 18], out += abc[(v >> 12) & 63], out += "==";
    } else if (i + 2 == in.size()) {
        const uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8);
        out += abc[v >> 18], out += abc[(v >> 12) & 63], out += abc[(v >> 6) & 63], out += '=';
    }
    return out;
}

std::string hex_color(Color c) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(c.r * 255 + 0.5), int(c.g * 255 + 0.5), int(c.b * 255 + 0.5));
    return buf;
}

// JSON text made safe inside <script>: no '<', '>' or '&' (they only occur inside strings, where
// \u escapes mean the same), and U+2028/U+2029 escaped for older JavaScript parsers.
std::string script_safe(const std::string& json) {
    std::string out;
    out.reserve(json.size());
    for (size_t k = 0; k < json.size(); ++k) {
        const char c = json[k];
        if (c == '<')
            out += "\\u003c";
        else if (c == '>')
            out += "\\u003e";
        else if (c == '&')
            out += "\\u0026";
        else if (c == '\xe2' && k + 2 < json.size() && json[k + 1] == '\x80' &&
                 (json[k + 2] == '\xa8' || json[k + 2] == '\xa9')) {
            out += json[k + 2] == '\xa8' ? "\\u2028" : "\\u2029";
            k += 2;
        } else
            out += c;
    }
    return out;
}

} // namespace

std::string viewer_html(const std::string& data_json) {
    std::string html = kTemplate;
    const size_t at = html.find("@DATA@");
    if (at == std::string::npos) throw Error("viewer template has no @DATA@ placeholder");
    html.replace(at, 6, script_safe(data_json));
    return html;
}

ViewerStats write_viewer(const CaptureReader& cap, const AnalysisResult* r, const std::string& path,
                         const ViewerOptions& o) {
    const ModelConfig& cfg = cap.config();
    std::vector<int> heads = cap.heads();
    if (heads.empty())
        for (int h = 0; h < cfg.n_head; ++h)
            heads.push_back(h);
    std::vector<int> layers;
    for (int il = 0; il < cfg.n_layer; ++il)
        if (cap.n_sequences() > 0 && cap.has(0, cat("blocks.", il, ".attn.hook_pattern"))) layers.push_back(il);
    if (layers.empty())
        throw Error(cat(cap.dir(), ": no attention weights captured, nothing to view"),
                    "capture them with attnscope run --capture weights");
    using json = nlohmann::ordered_json; // keys keep their order (legend, metrics)
    json d;
    d["model"] = cap.manifest().value("model", nlohmann::json::object()).value("name", std::string("model"));
    d["n_layer"] = cfg.n_layer;
    d["n_head"] = cfg.n_head;
    d["layers"] = layers;
    d["heads"] = heads;
    json colours = json::object();
    for (const auto& label : label_order())
        colours[label] = hex_color(label_color(label));
    d["label_colors"] = colours;
    json seqs = json::array(), skipped = json::array();
    ViewerStats st;
    for (int64_t s = 0; s < cap.n_sequences() && int(seqs.size()) < o.max_sequences; ++s) {
        const SequenceInfo& info = cap.sequence(s);
        const int64_t T = info.length;
        if (T > o.max_tokens) {
            skipped.push_back(s);
            continue;
        }
        std::vector<uint8_t> bytes;
        bytes.reserve(size_t(layers.size() * heads.size()) * size_t(T * (T + 1) / 2));
        for (int il : layers) {
            const Captured p = cap.read(s, cat("blocks.", il, ".attn.hook_pattern"));
            if (p.shape != std::vector<int64_t>{int64_t(heads.size()), T, T})
                throw Error(cat(cap.dir(), ": tensor '",
                                ActivationCache::key(cat("blocks.", il, ".attn.hook_pattern"), int(s)), "' has shape ",
                                shape_str(p.shape), ", expected [", heads.size(), ", ", T, ", ", T, "]"));
            for (size_t h = 0; h < heads.size(); ++h)
                for (int64_t i = 0; i < T; ++i)
                    for (int64_t j = 0; j <= i; ++j) {
                        const double a =
                            std::clamp(double(p.data[(h * size_t(T) + size_t(i)) * size_t(T) + size_t(j)]), 0.0, 1.0);
                        bytes.push_back(uint8_t(std::lround(255.0 * std::sqrt(a))));
                    }
        }
        seqs.push_back({{"index", s}, {"tokens", info.tokens}, {"patterns", base64(bytes)}});
    }
    if (seqs.empty())
        throw Error(cat(cap.dir(), ": every sequence is longer than ", o.max_tokens, " tokens"),
                    "the viewer shows sequences of up to that length; use plot weights for longer ones");
    d["sequences"] = seqs;
    d["skipped_sequences"] = skipped;
    if (r) {
        json an = json::array();
        for (int il : layers) {
            json row = json::array();
            for (int h : heads) {
                json info = nullptr;
                if (size_t(il) < r->layers.size())
                    for (const auto& hr : r->layers[size_t(il)].heads)
                        if (hr.head == h)
                            info = {{"label", hr.label},
                                    {"metrics",
                                     {{"entropy (norm)", hr.metric(HeadStats::entropy_normalized)},
                                      {"confidence", hr.metric(HeadStats::confidence)},
                                      {"mean distance", hr.metric(HeadStats::mean_distance)},
                                      {"sink mass", hr.metric(HeadStats::sink_mass)},
                                      {"self mass", hr.metric(HeadStats::self_mass)},
                                      {"previous-token", hr.template_scores.previous_token},
                                      {"duplicate-token", hr.template_scores.duplicate_token},
                                      {"induction", hr.template_scores.induction}}}};
                row.push_back(info);
            }
            an.push_back(row);
        }
        d["analysis"] = an;
    }
    const std::string html = viewer_html(d.dump());
    write_file_atomic(path, html);
    st.bytes = int64_t(html.size());
    st.sequences = int64_t(seqs.size());
    st.heads = int64_t(layers.size() * heads.size());
    return st;
}

} // namespace attnscope
