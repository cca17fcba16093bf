// The self-contained viewer: gathers the captured patterns of the first sequences (quantised
// lower triangles, base64), the tokens and each head's label and metrics into one JSON object,
// escapes it for safe inclusion in a <script type="application/json"> element, and puts it into
// the HTML template (src/render/viewer_template.html, compiled in).
#include "render/viewer.h"

#include "core/error.h"
#include "core/files.h"
#include "render/figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attnscope {

namespace {

const char* const kTemplate =
#include "viewer_template.inc"
    ;

std::string hex_color(Color c) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(c.r * 255 + 0.5), int(c.g * 255 + 0.5), int(c.b * 255 + 0.5));
    return buf;
}

} // namespace

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

std::string viewer_html(const std::string& data_json, bool served) {
    std::string html = kTemplate;
    // the page on its own may make no request at all; served, it fetches from its own origin
    const size_t csp = html.find("@CONNECT@");
    if (csp == std::string::npos) throw Error("viewer template has no @CONNECT@ placeholder");
    html.replace(csp, 9, served ? "; connect-src 'self'" : "");
    const size_t at = html.find("@DATA@");
    if (at == std::string::npos) throw Error("viewer template has no @DATA@ placeholder");
    html.replace(at, 6, script_safe(data_json));
    return html;
}

int64_t viewer_block(int64_t T, int64_t cells) {
    return (T + cells - 1) / cells;
}

namespace {

// Bytes of the page's pattern data when grids are at most `cells` wide: base64 of the lower
// triangles (n (n + 1) / 2 bytes per head) of every sequence.
int64_t pattern_bytes(const std::vector<int64_t>& lengths, int64_t heads, int64_t cells) {
    int64_t total = 0;
    for (int64_t T : lengths) {
        const int64_t B = viewer_block(T, cells), n = (T + B - 1) / B;
        total += (heads * n * (n + 1) / 2 + 2) / 3 * 4;
    }
    return total;
}

} // namespace

ViewerLayout viewer_layout(const CaptureReader& cap) {
    const ModelConfig& cfg = cap.config();
    ViewerLayout v;
    v.heads = cap.heads();
    if (v.heads.empty())
        for (int h = 0; h < cfg.n_head; ++h)
            v.heads.push_back(h);
    for (int il = 0; il < cfg.n_layer; ++il)
        if (cap.n_sequences() > 0 && cap.has(0, cat("blocks.", il, ".attn.hook_pattern"))) v.layers.push_back(il);
    if (v.layers.empty())
        throw Error(cat(cap.dir(), ": no attention weights captured, nothing to view"),
                    "capture them with attnscope run --capture weights");
    return v;
}

nlohmann::ordered_json viewer_meta(const CaptureReader& cap, const AnalysisResult* r, const ViewerLayout& v) {
    using json = nlohmann::ordered_json; // keys keep their order (legend, metrics)
    const ModelConfig& cfg = cap.config();
    json d;
    d["model"] = cap.manifest().value("model", nlohmann::json::object()).value("name", std::string("model"));
    d["n_layer"] = cfg.n_layer;
    d["n_head"] = cfg.n_head;
    d["layers"] = v.layers;
    d["heads"] = v.heads;
    json colours = json::object();
    for (const auto& label : label_order())
        colours[label] = hex_color(label_color(label));
    d["label_colors"] = colours;
    if (r) {
        json an = json::array();
        for (int il : v.layers) {
            json row = json::array();
            for (int h : v.heads) {
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
    d["n_sequences_captured"] = cap.n_sequences();
    return d;
}

std::vector<uint8_t> quantised_patterns(const CaptureReader& cap, int64_t s, const ViewerLayout& v, int64_t B) {
    const int64_t T = cap.sequence(s).length, n = (T + B - 1) / B, tri = n * (n + 1) / 2;
    const int64_t H = int64_t(v.heads.size());
    std::vector<uint8_t> bytes(size_t(int64_t(v.layers.size()) * H * tri));
    for (size_t li = 0; li < v.layers.size(); ++li) {
        const std::string hook = cat("blocks.", v.layers[li], ".attn.hook_pattern");
        std::vector<float> storage;
        const CaptureReader::View p = cap.view(s, hook, storage);
        if (p.shape != std::vector<int64_t>{H, T, T})
            throw Error(cat(cap.dir(), ": tensor '", ActivationCache::key(hook, int(s)), "' has shape ",
                            shape_str(p.shape), ", expected [", H, ", ", T, ", ", T, "]"));
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t h = 0; h < H; ++h) {
            const TensorView head = TensorView::contiguous(const_cast<float*>(p.data) + h * T * T, {T, T});
            const std::vector<double> cell = B == 1 ? std::vector<double>() : block_average(head, B);
            uint8_t* out = &bytes[size_t((int64_t(li) * H + h) * tri)];
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j <= i; ++j) {
                    const double a = B == 1 ? double(p.data[(h * T + i) * T + j]) : cell[size_t(i * n + j)];
                    *out++ = uint8_t(std::lround(255.0 * std::sqrt(std::clamp(a, 0.0, 1.0))));
                }
        }
        cap.advise(s, hook, MappedFile::Use::done); // memory stays flat over a large capture
    }
    return bytes;
}

ViewerStats write_viewer(const CaptureReader& cap, const AnalysisResult* r, const std::string& path,
                         const ViewerOptions& o) {
    const ViewerLayout layout = viewer_layout(cap);
    if (o.max_sequences < 1) throw Error(cat("viewer: ", o.max_sequences, " sequences asked for, at least 1 needed"));
    nlohmann::ordered_json d = viewer_meta(cap, r, layout);

    // What the page costs besides the patterns: the template, the analysis, and the tokens of
    // each sequence (escaped, with room for \u escapes); the rest of the budget goes to patterns.
    const int64_t n_seq = std::min<int64_t>(cap.n_sequences(), o.max_sequences);
    const int64_t n_heads = int64_t(layout.layers.size() * layout.heads.size());
    std::vector<int64_t> lengths;
    int64_t fixed = int64_t(viewer_html(d.dump()).size()) + 4096;
    for (int64_t s = 0; s < n_seq; ++s) {
        const SequenceInfo& info = cap.sequence(s);
        lengths.push_back(info.length);
        fixed += 64;
        for (const auto& t : info.tokens)
            fixed += 8 + 6 * int64_t(t.size()); // escapes at most 6x
    }
    const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
    if (fixed + pattern_bytes(lengths, n_heads, 1) > o.max_bytes)
        throw Error(cat("viewer: ", n_seq, " sequences of ", n_heads, " heads do not fit in ", o.max_bytes / 1000000,
                        " MB even at one cell per sequence"),
                    "view fewer sequences (--sequences) or allow more (--max-mb), or use attnscope serve");
    // the finest grid that fits: pattern_bytes grows with `cells`, so bisect
    int64_t lo = 1, hi = longest;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (fixed + pattern_bytes(lengths, n_heads, mid) <= o.max_bytes)
            lo = mid;
        else
            hi = mid - 1;
    }
    const int64_t cells = lo;

    nlohmann::ordered_json seqs = nlohmann::ordered_json::array();
    ViewerStats st;
    for (int64_t s = 0; s < n_seq; ++s) {
        const SequenceInfo& info = cap.sequence(s);
        const int64_t T = info.length, B = viewer_block(T, cells), n = (T + B - 1) / B;
        st.max_block = std::max(st.max_block, B);
        seqs.push_back({{"index", s},
                        {"tokens", info.tokens},
                        {"prompt_length", info.prompt_length},
                        {"block", B},
                        {"n", n},
                        {"patterns", base64(quantised_patterns(cap, s, layout, B))}});
    }
    d["sequences"] = seqs;
    const std::string html = viewer_html(d.dump());
    write_file_atomic(path, html);
    st.bytes = int64_t(html.size());
    st.sequences = int64_t(seqs.size());
    st.heads = n_heads;
    return st;
}

} // namespace attnscope
