// The figures: a few drawing helpers (a matrix heatmap with row/column labels and a colour bar, a
// line panel with axes and ticks, a legend) composed into the heatmap of one head, the flow plot,
// the dashboard and the grid of all heads. Sizes follow the data (tokens, layers, heads) within
// bounds; every label is laid out from Pango's measured extents so nothing is clipped.
#include "render/figures.h"

#include "analysis/compare.h"
#include "intervene/ablate.h"
#include "intervene/patch.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

namespace attnscope {

std::vector<double> block_average(const TensorView& p, int64_t B) {
    const int64_t T = p.ne[0], n = (T + B - 1) / B;
    std::vector<double> cell(size_t(n * n), 0.0);
    // one pass over the rows, each cell summed in row order, then divided by its cell count
    for (int64_t i = 0; i < T; ++i) {
        double* out = &cell[size_t(i / B * n)];
        if (p.stride[1] == 1) {
            const float* row = p.data + i * p.stride[0];
            for (int64_t j = 0; j < T; ++j)
                out[j / B] += row[j];
        } else {
            for (int64_t j = 0; j < T; ++j)
                out[j / B] += p.at(i, j);
        }
    }
    for (int64_t bi = 0; bi < n; ++bi)
        for (int64_t bj = 0; bj < n; ++bj) {
            const int64_t rows = std::min(T, (bi + 1) * B) - bi * B, cols = std::min(T, (bj + 1) * B) - bj * B;
            cell[size_t(bi * n + bj)] /= double(rows * cols);
        }
    return cell;
}

namespace {

const Color kInk = {0.13, 0.13, 0.13, 1}, kGrey = {0.55, 0.55, 0.55, 1}, kLight = {0.88, 0.88, 0.88, 1};

std::string fmt(double v, int digits = 2) {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// "Nice" tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 5) {
    if (!(hi > lo)) hi = lo + 1;
    const double raw = (hi - lo) / target;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> out;
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
        out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
    return out;
}

// The decimals that show every tick exactly: the step's (0.25 needs 2, 2.5 one, 0.2 one).
int tick_digits(const std::vector<double>& t) {
    if (t.size() < 2) return 2;
    const double step = t[1] - t[0];
    for (int k = 0; k < 4; ++k) {
        const double scaled = step * std::pow(10.0, k);
        if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return k;
    }
    return 4;
}

struct Rect {
    double x, y, w, h;
};

// A diverging map for signed changes, t in [0, 1]: blue (0) through white (0.5) to red (1)
// (ColorBrewer's RdBu ends, colour-blind safe).
Color diverging(double t) {
    t = std::clamp(t, 0.0, 1.0);
    const Color lo = rgb(0x2166ac), mid = {0.97, 0.97, 0.97, 1}, hi = rgb(0xb2182b);
    const Color& a = t < 0.5 ? lo : mid;
    const Color& b = t < 0.5 ? mid : hi;
    const double u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
    return {a.r + (b.r - a.r) * u, a.g + (b.g - a.g) * u, a.b + (b.b - a.b) * u, 1};
}

// RGB bytes of values through viridis (or the diverging map), scaled by vmax (all dark when vmax <= 0).
std::vector<uint8_t> viridis_pixels(const std::vector<double>& v, double vmax, bool diverge = false) {
    std::vector<uint8_t> px(v.size() * 3);
    for (size_t k = 0; k < v.size(); ++k) {
        const Color col = diverge ? diverging(vmax > 0 ? v[k] / vmax : 0.5) : viridis(vmax > 0 ? v[k] / vmax : 0);
        px[k * 3] = uint8_t(col.r * 255 + 0.5), px[k * 3 + 1] = uint8_t(col.g * 255 + 0.5),
               px[k * 3 + 2] = uint8_t(col.b * 255 + 0.5);
    }
    return px;
}

// A vertical colour bar for [lo, hi] at r, ticks on its right.
void colour_bar(Canvas& c, Rect r, double lo, double hi, bool diverge = false) {
    const int n = 64;
    std::vector<double> v(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k)
        v[size_t(k)] = 1.0 - double(k) / (n - 1);
    c.image(viridis_pixels(v, 1.0, diverge), 1, n, r.x, r.y, r.w, r.h);
    c.stroke_rect(r.x, r.y, r.w, r.h, kGrey, 0.5);
    const auto t = ticks(lo, hi, 4);
    const int dg = tick_digits(t);
    for (double v : t) {
        const double y = r.y + r.h * (1 - (v - lo) / (hi - lo));
        c.line(r.x + r.w, y, r.x + r.w + 3, y, kInk, 0.8);
        c.text(r.x + r.w + 5, y - 6, fmt(v, dg), {.size = 9});
    }
}

// A matrix heatmap of values[row][col] in [lo, hi] drawn into r; numbers in cells when they fit.
// Row and column labels go left of and above r (the caller leaves room).
void matrix_panel(Canvas& c, Rect r, const std::vector<std::vector<double>>& v, double lo, double hi,
                  const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels, bool numbers,
                  int digits = 2, bool diverge = false) {
    const size_t R = v.size(), C = R ? v[0].size() : 0;
    if (!R || !C) return;
    const double cw = r.w / double(C), ch = r.h / double(R);
    for (size_t i = 0; i < R; ++i)
        for (size_t j = 0; j < C; ++j) {
            const double x = v[i][j];
            const double t = (x - lo) / (hi - lo);
            const Color col = std::isfinite(x) ? (diverge ? diverging(t) : viridis(t)) : kLight;
            c.fill_rect(r.x + j * cw, r.y + i * ch, cw + 0.3, ch + 0.3, col);
            if (numbers && std::isfinite(x) && cw >= 30 && ch >= 14) {
                const bool dark_cell = diverge ? std::fabs(t - 0.5) > 0.35 : t <= 0.6;
                c.text(r.x + (j + 0.5) * cw, r.y + (i + 0.5) * ch - 6, fmt(x, digits),
                       {.size = 8.5, .align = Align::center, .color = dark_cell ? Color{1, 1, 1, 1} : kInk});
            }
        }
    c.stroke_rect(r.x, r.y, r.w, r.h, kGrey, 0.5);
    const size_t row_every = std::max<size_t>(1, size_t(std::ceil(12.0 / ch)));
    for (size_t i = 0; i < R && i < row_labels.size(); i += row_every)
        c.text(r.x - 4, r.y + (i + 0.5) * ch - 6, row_labels[i], {.size = 9, .align = Align::right});
    const size_t col_every = std::max<size_t>(1, size_t(std::ceil(22.0 / cw)));
    for (size_t j = 0; j < C && j < col_labels.size(); j += col_every)
        c.text(r.x + (j + 0.5) * cw, r.y - 14, col_labels[j], {.size = 9, .align = Align::center});
}

void panel_title(Canvas& c, Rect r, const std::string& title) {
    c.text(r.x + r.w / 2, r.y, title, {.size = 12, .align = Align::center, .bold = true});
}

struct Series {
    std::string name;
    std::vector<double> y; // NaN = missing
    Color color;
};

// A line plot over x = 0..n-1 (layers) with axes, ticks, a title and a legend; or over the
// positions `x` (one per point, increasing), each point's tick labelled `x_ticks[i]`.
void line_panel(Canvas& c, Rect r, const std::string& title, const std::string& xlabel,
                const std::vector<Series>& series, bool from_zero = false, const std::vector<double>& x = {},
                const std::vector<std::string>& x_ticks = {}) {
    panel_title(c, r, title);
    const Rect plot{r.x + 48, r.y + 26, r.w - 60, r.h - 26 - 40};
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    size_t n = 0;
    for (const auto& s : series) {
        n = std::max(n, s.y.size());
        for (double v : s.y)
            if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    c.stroke_rect(plot.x, plot.y, plot.w, plot.h, kGrey, 0.8);
    if (!std::isfinite(lo) || n == 0) {
        c.text(plot.x + plot.w / 2, plot.y + plot.h / 2 - 7, "not captured",
               {.size = 10, .align = Align::center, .color = kGrey});
        return;
    }
    if (from_zero) lo = std::min(lo, 0.0);
    if (hi - lo < 1e-12) hi = lo + 1, lo -= 1e-12;
    const double pad = (hi - lo) * 0.08;
    lo -= from_zero && lo == 0 ? 0 : pad, hi += pad;
    const auto yt = ticks(lo, hi, 5);
    const int dg = tick_digits(yt);
    auto X = [&](double i) {
        if (!x.empty() && x.size() >= n && n > 1) // the given positions, first to last across the plot
            return plot.x + plot.w * (x[size_t(i)] - x[0]) / std::max(1e-12, x[n - 1] - x[0]);
        return plot.x + (n > 1 ? plot.w * i / double(n - 1) : plot.w / 2);
    };
    auto Y = [&](double v) { return plot.y + plot.h * (1 - (v - lo) / (hi - lo)); };
    for (double v : yt) {
        if (v < lo || v > hi) continue;
        c.line(plot.x, Y(v), plot.x + plot.w, Y(v), kLight, 0.6);
        c.text(plot.x - 5, Y(v) - 6, fmt(v, dg), {.size = 9, .align = Align::right});
    }
    if (x_ticks.size() >= n) { // labelled ticks, skipping those that would overlap the last drawn
        double last = -1e9;
        for (size_t i = 0; i < n; ++i) {
            const double w = c.measure(x_ticks[i], {.size = 9}).first;
            if (X(double(i)) - w / 2 < last + 4) continue;
            c.line(X(double(i)), plot.y + plot.h, X(double(i)), plot.y + plot.h + 3, kGrey, 0.8);
            last = c.text(X(double(i)), plot.y + plot.h + 4, x_ticks[i], {.size = 9, .align = Align::center}).x1;
        }
    } else {
        const size_t every = std::max<size_t>(1, n / 12 + (n % 12 ? 1 : 0));
        for (size_t i = 0; i < n; i += every)
            c.text(X(double(i)), plot.y + plot.h + 4, std::to_string(i), {.size = 9, .align = Align::center});
    }
    c.text(plot.x + plot.w / 2, plot.y + plot.h + 20, xlabel, {.size = 10, .align = Align::center, .color = kGrey});
    double lx = plot.x + 6;
    for (const auto& s : series) {
        std::vector<double> xs, ys;
        for (size_t i = 0; i < s.y.size(); ++i)
            if (std::isfinite(s.y[i])) {
                xs.push_back(X(double(i))), ys.push_back(Y(s.y[i]));
                c.circle(xs.back(), ys.back(), 2.6, s.color);
            }
        c.polyline(xs, ys, s.color, 1.8);
        if (series.size() > 1 && !s.name.empty()) {
            c.fill_rect(lx, plot.y + 6, 10, 10, s.color);
            const TextBox b = c.text(lx + 13, plot.y + 4, s.name, {.size = 9});
            lx = b.x1 + 10;
        }
    }
}

double nan() {
    return std::numeric_limits<double>::quiet_NaN();
}

// layer x head matrix of some head quantity (NaN where a head was not captured).
std::vector<std::vector<double>> head_matrix(const AnalysisResult& r,
                                             const std::function<double(const HeadResult&)>& f) {
    std::vector<std::vector<double>> m(r.layers.size(), std::vector<double>(size_t(r.config.n_head), nan()));
    for (size_t il = 0; il < r.layers.size(); ++il)
        for (const auto& h : r.layers[il].heads)
            m[il][size_t(h.head)] = f(h);
    return m;
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
    std::vector<std::string> v;
    for (int k = 0; k < n; ++k)
        v.push_back(prefix + std::to_string(k));
    return v;
}

} // namespace

ImageFormat format_of(const std::string& path) {
    const std::string ext = std::filesystem::path(path).extension().string();
    if (ext == ".png") return ImageFormat::png;
    if (ext == ".svg") return ImageFormat::svg;
    throw Error(cat(path, ": a figure's name must end in .png or .svg, found '", ext, "'"));
}

const std::vector<std::string>& label_order() {
    static const std::vector<std::string> v = {"previous_token", "induction", "duplicate_token", "self",
                                               "sink",           "local",     "broad",           "mixed"};
    return v;
}

Color label_color(const std::string& label) {
    const auto& v = label_order();
    const auto it = std::find(v.begin(), v.end(), label);
    return category(it == v.end() ? 7 : int(it - v.begin()));
}

int render_attention_weights(const TensorView& p, const std::vector<std::string>& tokens, const std::string& title,
                             const std::string& subtitle, const std::string& path) {
    if (p.n_dim != 2 || p.ne[0] != p.ne[1] || p.ne[0] < 1)
        throw Error(cat("attention weights figure: expected a square [T, T] pattern, found ", shape_str(p.shape())));
    const int64_t T = p.ne[0];
    // block aggregation past 256 tokens: cells of B x B tokens, averaged
    const int64_t B = (T + 255) / 256, n = (T + B - 1) / B;
    const std::vector<double> cell = block_average(p, B);
    double vmax = 0;
    for (double v : cell)
        vmax = std::max(vmax, v);
    if (vmax <= 0) vmax = 1;
    std::vector<std::string> labels(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; ++b)
        labels[size_t(b)] = B == 1 ? (size_t(b) < tokens.size() ? tokens[size_t(b)] : std::to_string(b))
                                   : cat(b * B, "-", std::min(T, (b + 1) * B) - 1);

    const double side = std::clamp(double(n) * 14.0, 320.0, 900.0);
    const double cellpx = side / double(n);
    const double font = std::clamp(cellpx * 0.8, 6.0, 10.0);
    const size_t every = std::max<size_t>(1, size_t(std::ceil((font + 2) / cellpx)));
    // measure labels (ellipsized at 120 px) to size the margins
    double label_w = 0;
    {
        Canvas probe(10, 10, ImageFormat::png);
        for (size_t k = 0; k < labels.size(); k += every)
            label_w = std::max(label_w, probe.measure(labels[k], {.size = font, .max_width = 120}).first);
    }
    const double left = label_w + 16, top = 76, bottom = label_w + 16;
    const double right = std::max(80.0, 600.0 - left - side); // room for the title lines
    Canvas c(int(left + side + right), int(top + side + bottom), format_of(path));
    const double tx = std::min(left, 16.0), tw = c.width() - tx - 8;
    c.text(tx, 8, title, {.size = 13, .bold = true, .max_width = tw});
    // the subtitle may hold two lines ("\n"): each ellipsized to the width
    const size_t nl = subtitle.find('\n');
    c.text(tx, 28, subtitle.substr(0, nl), {.size = 10, .color = kGrey, .max_width = tw});
    if (nl != std::string::npos) c.text(tx, 44, subtitle.substr(nl + 1), {.size = 10, .color = kGrey, .max_width = tw});
    c.image(viridis_pixels(cell, vmax), int(n), int(n), left, top, side, side);
    c.stroke_rect(left, top, side, side, kGrey, 0.5);
    for (size_t k = 0; k < labels.size(); k += every) {
        const double mid = double(k) * cellpx + cellpx / 2;
        c.text(left - 4, top + mid - font * 0.65, labels[k], {.size = font, .align = Align::right, .max_width = 120});
        // x labels run upwards from the bottom edge: anchor at the top of the bottom margin
        const auto w = c.measure(labels[k], {.size = font, .max_width = 120}).first;
        c.text(left + mid - font * 0.65, top + side + 4 + w, labels[k],
               {.size = font, .vertical = true, .max_width = 120});
    }
    c.text(left - 4, top - 16, "query", {.size = 9, .align = Align::right, .color = kGrey});
    c.text(left + side, top + side + 4, "key", {.size = 9, .color = kGrey});
    colour_bar(c, {left + side + 14, top, 14, side}, 0, vmax);
    if (B > 1) c.text(left + side + 14, top + side + 8, cat(B, "x", B, "\nblocks"), {.size = 8.5, .color = kGrey});
    c.save(path);
    return c.labels_outside();
}

int render_attention_weights(const CaptureReader& cap, int64_t seq, int layer, int head, const AnalysisResult* r,
                             const std::string& path) {
    const ModelConfig& cfg = cap.config();
    if (layer < 0 || layer >= cfg.n_layer) throw Error(cat("--layer: ", layer, " is outside 0..", cfg.n_layer - 1));
    if (head < 0 || head >= cfg.n_head) throw Error(cat("--head: ", head, " is outside 0..", cfg.n_head - 1));
    // the stored head dimension holds only the captured heads
    int64_t slot = head;
    if (!cap.heads().empty()) {
        const auto it = std::find(cap.heads().begin(), cap.heads().end(), head);
        if (it == cap.heads().end())
            throw Error(cat(cap.dir(), ": head ", head, " was not captured"), "capture it with --heads");
        slot = it - cap.heads().begin();
    }
    cap.sequence(seq); // throws, naming the sequence count, when out of range
    const std::string hook = cat("blocks.", layer, ".attn.hook_pattern");
    if (!cap.has(seq, hook))
        throw Error(cat(cap.dir(), ": no attention weights for layer ", layer, " of sequence ", seq),
                    "capture them with attnscope run --capture weights");
    // only this head's [T, T] slice is read from the file
    std::vector<float> storage;
    const CaptureReader::View c = cap.view(seq, hook, storage, slot);
    const int64_t T = cap.sequence(seq).length;
    if (c.shape != std::vector<int64_t>{T, T})
        throw Error(cat(cap.dir(), ": tensor '", ActivationCache::key(hook, int(seq)), "' has heads of shape ",
                        shape_str(c.shape), ", expected [", T, ", ", T, "]"));
    const TensorView view = TensorView::contiguous(const_cast<float*>(c.data), {T, T});
    std::string title = cat(head_name(layer, head), " attention weights, sequence ", seq, " (", T, " tokens)");
    std::string sub = cat(cap.manifest().value("model", nlohmann::json::object()).value("name", std::string("model")));
    if (r && size_t(layer) < r->layers.size())
        for (const auto& h : r->layers[size_t(layer)].heads)
            if (h.head == head) {
                title = cat(head_name(layer, head), ": ", h.label, " head");
                sub = cat("sequence ", seq, " (", T, " tokens)\ncorpus means: entropy ",
                          fmt(h.metric(HeadStats::entropy)), " (norm ", fmt(h.metric(HeadStats::entropy_normalized)),
                          "), sink ", fmt(h.metric(HeadStats::sink_mass)), ", prev ",
                          fmt(h.template_scores.previous_token), ", induction ", fmt(h.template_scores.induction),
                          ", distance ", fmt(h.metric(HeadStats::mean_distance), 1));
            }
    return render_attention_weights(view, cap.sequence(seq).tokens, title, sub, path);
}

int render_flow(const AnalysisResult& r, const std::string& path) {
    const int W = 1100, H = 820;
    Canvas c(W, H, format_of(path));
    c.text(W / 2.0, 10,
           cat("Attention flow through depth: ", r.model.empty() ? std::string("model") : r.model, " (", r.n_sequences,
               " sequences, ", r.n_tokens, " tokens)"),
           {.size = 15, .align = Align::center, .bold = true});
    const size_t L = r.layers.size();
    auto col = [&](const std::function<double(const LayerResult&)>& f) {
        std::vector<double> v(L);
        for (size_t il = 0; il < L; ++il)
            v[il] = f(r.layers[il]);
        return v;
    };
    const Color in = category(0), out = category(1), upd = category(2);
    auto present = [](const HiddenResult& h, double v) { return h.present ? v : nan(); };
    const double pw = (W - 60) / 2.0, ph = (H - 70) / 2.0;
    line_panel(
        c, {20, 50, pw, ph}, "Mean activation", "layer",
        {{"input (ln1)", col([&](const LayerResult& l) { return present(l.input, l.input.mean); }), in},
         {"output (attn_out)", col([&](const LayerResult& l) { return present(l.output, l.output.mean); }), out}});
    line_panel(c, {40 + pw, 50, pw, ph}, "Standard deviation", "layer",
               {{"input (ln1)", col([&](const LayerResult& l) { return present(l.input, l.input.std); }), in},
                {"output (attn_out)", col([&](const LayerResult& l) { return present(l.output, l.output.std); }), out}},
               true);
    line_panel(c, {20, 60 + ph, pw, ph}, "Transformation magnitude", "layer",
               {{"||out|| / ||in||",
                 col([&](const LayerResult& l) { return l.has_flow ? l.transform_magnitude : nan(); }), in},
                {"||attn_out|| / ||resid||",
                 col([&](const LayerResult& l) { return l.resid_update >= 0 ? l.resid_update : nan(); }), upd}},
               true);
    line_panel(c, {40 + pw, 60 + ph, pw, ph}, "Input/output correlation", "layer",
               {{"Pearson r", col([&](const LayerResult& l) { return l.has_flow ? l.io_correlation : nan(); }), in}});
    c.save(path);
    return c.labels_outside();
}

int render_dashboard(const AnalysisResult& r, const std::string& path) {
    const int nL = int(r.layers.size()), nH = r.config.n_head;
    const double pw = 500, ph = 380;
    const int W = int(3 * pw + 80), H = int(3 * ph + 110);
    Canvas c(W, H, format_of(path));
    c.text(W / 2.0, 12, cat("Comprehensive attention analysis: ", r.model.empty() ? std::string("model") : r.model),
           {.size = 17, .align = Align::center, .bold = true});
    c.text(W / 2.0, 36,
           cat(r.config.n_layer, " layers x ", nH, " heads, ", r.n_sequences, " sequences, ", r.n_tokens, " tokens",
               r.stats_only ? " (statistics computed during the forward pass)" : ""),
           {.size = 11, .align = Align::center, .color = kGrey});
    auto panel = [&](int row, int col) { return Rect{20 + col * (pw + 20), 70 + row * (ph + 10), pw, ph}; };
    const auto rows = numbered("L", nL), cols = numbered("H", nH);

    // heatmaps of a head quantity, layer x head, with a colour bar
    auto heat = [&](Rect p, const std::string& title, const std::vector<std::vector<double>>& m, double lo, double hi) {
        panel_title(c, p, title);
        const Rect box{p.x + 40, p.y + 44, p.w - 120, p.h - 56};
        bool any = false;
        for (const auto& row : m)
            for (double v : row)
                any = any || std::isfinite(v);
        if (!any) {
            c.text(p.x + p.w / 2, p.y + p.h / 2, "not captured", {.size = 10, .align = Align::center, .color = kGrey});
            return;
        }
        matrix_panel(c, box, m, lo, hi, rows, cols, true);
        colour_bar(c, {box.x + box.w + 12, box.y, 12, box.h}, lo, hi);
    };
    heat(panel(0, 0), "Normalized entropy (1 = uniform)",
         head_matrix(r, [](const HeadResult& h) { return h.metric(HeadStats::entropy_normalized); }), 0, 1);
    heat(panel(0, 1), "Sink mass (attention on the first token)",
         head_matrix(r, [](const HeadResult& h) { return h.metric(HeadStats::sink_mass); }), 0, 1);
    double dmax = 1;
    for (const auto& L : r.layers)
        for (const auto& h : L.heads)
            dmax = std::max(dmax, h.metric(HeadStats::mean_distance));
    heat(panel(0, 2), "Mean attention distance (tokens)",
         head_matrix(r, [](const HeadResult& h) { return h.metric(HeadStats::mean_distance); }), 0, dmax);

    // redundancy: each head's smallest JS divergence to another head of its layer
    auto redundancy = head_matrix(r, [](const HeadResult&) { return nan(); });
    double jmax = 0.05;
    for (size_t il = 0; il < r.layers.size(); ++il) {
        const auto& L = r.layers[il];
        const size_t Hc = L.heads.size();
        if (L.js.empty()) continue;
        for (size_t a = 0; a < Hc; ++a) {
            double m = std::numeric_limits<double>::infinity();
            for (size_t b = 0; b < Hc; ++b)
                if (a != b) m = std::min(m, L.js[a * Hc + b]);
            if (std::isfinite(m)) redundancy[il][size_t(L.heads[a].head)] = m, jmax = std::max(jmax, m);
        }
    }
    heat(panel(1, 0), "Head similarity: JS to the closest head (low = redundant)", redundancy, 0, jmax);

    // activation distributions: mean and mean +- std per layer
    {
        std::vector<double> im, ip, in_, om, op, on;
        for (const auto& L : r.layers) {
            im.push_back(L.input.present ? L.input.mean : nan());
            ip.push_back(L.input.present ? L.input.mean + L.input.std : nan());
            in_.push_back(L.input.present ? L.input.mean - L.input.std : nan());
            om.push_back(L.output.present ? L.output.mean : nan());
            op.push_back(L.output.present ? L.output.mean + L.output.std : nan());
            on.push_back(L.output.present ? L.output.mean - L.output.std : nan());
        }
        Color ci = category(0), co = category(1), cil = ci, col = co;
        cil.a = 0.45, col.a = 0.45;
        line_panel(c, panel(1, 1), "Activations: mean and +-1 std", "layer",
                   {{"input", im, ci},
                    {"output", om, co},
                    {"in +-std", ip, cil},
                    {"", in_, cil},
                    {"out +-std", op, col},
                    {"", on, col}});
    }
    {
        std::vector<double> di, dout;
        for (const auto& L : r.layers) {
            di.push_back(L.input.effective_dim >= 0 ? L.input.effective_dim : nan());
            dout.push_back(L.output.effective_dim >= 0 ? L.output.effective_dim : nan());
        }
        line_panel(c, panel(1, 2), "Effective dimensionality (participation ratio)", "layer",
                   {{"input", di, category(0)}, {"output", dout, category(1)}}, true);
    }
    {
        std::vector<double> e, s, roll, js;
        for (const auto& L : r.layers) {
            e.push_back(L.heads.empty() ? nan() : L.entropy_normalized);
            s.push_back(L.heads.empty() ? nan() : L.sink_mass);
            roll.push_back(L.rollout_sink >= 0 ? L.rollout_sink : nan());
            js.push_back(L.js_from_previous >= 0 ? L.js_from_previous : nan());
        }
        line_panel(c, panel(2, 0), "Evolution through depth", "layer",
                   {{"entropy (norm)", e, category(0)},
                    {"sink mass", s, category(1)},
                    {"rollout sink", roll, category(2)},
                    {"JS from prev.", js, category(3)}},
                   true);
    }
    {
        // attention by relative offset, mean over each layer's heads, d = 0..8
        const Rect p = panel(2, 1);
        const int D = 9;
        std::vector<std::vector<double>> m;
        for (const auto& L : r.layers) {
            std::vector<double> row(size_t(D), nan());
            if (!L.heads.empty())
                for (int d = 0; d < D; ++d) {
                    double s = 0;
                    for (const auto& h : L.heads)
                        s += size_t(d) < h.offset_profile.size() ? h.offset_profile[size_t(d)] : 0;
                    row[size_t(d)] = s / double(L.heads.size());
                }
            m.push_back(row);
        }
        panel_title(c, p, "Position: attention at offset i - j (mean of heads)");
        std::vector<std::string> dl;
        for (int d = 0; d < D; ++d)
            dl.push_back(cat("d=", d));
        const Rect box{p.x + 40, p.y + 44, p.w - 120, p.h - 56};
        double hi = 0.01;
        for (const auto& row : m)
            for (double v : row)
                if (std::isfinite(v)) hi = std::max(hi, v);
        matrix_panel(c, box, m, 0, hi, rows, dl, true);
        colour_bar(c, {box.x + box.w + 12, box.y, 12, box.h}, 0, hi);
    }
    {
        // taxonomy: the label of every head, as coloured cells, with a legend
        const Rect p = panel(2, 2);
        panel_title(c, p, "Head taxonomy");
        const Rect box{p.x + 40, p.y + 44, p.w - 170, p.h - 56};
        const double cw = box.w / std::max(1, nH), ch = box.h / std::max(1, nL);
        for (size_t il = 0; il < r.layers.size(); ++il)
            for (const auto& h : r.layers[il].heads) {
                const double x = box.x + h.head * cw, y = box.y + double(il) * ch;
                c.fill_rect(x + 0.5, y + 0.5, cw - 1, ch - 1, label_color(h.label));
            }
        c.stroke_rect(box.x, box.y, box.w, box.h, kGrey, 0.5);
        const size_t row_every = std::max<size_t>(1, size_t(std::ceil(12.0 / ch)));
        for (size_t i = 0; i < size_t(nL); i += row_every)
            c.text(box.x - 4, box.y + (double(i) + 0.5) * ch - 6, rows[i], {.size = 9, .align = Align::right});
        const size_t col_every = std::max<size_t>(1, size_t(std::ceil(22.0 / cw)));
        for (size_t j = 0; j < size_t(nH); j += col_every)
            c.text(box.x + (double(j) + 0.5) * cw, box.y - 14, cols[j], {.size = 9, .align = Align::center});
        double ly = box.y;
        for (const auto& label : label_order()) {
            int count = 0;
            for (const auto& L : r.layers)
                for (const auto& h : L.heads)
                    count += h.label == label;
            c.fill_rect(box.x + box.w + 12, ly + 2, 11, 11, label_color(label));
            c.text(box.x + box.w + 27, ly, cat(label, " (", count, ")"), {.size = 9.5});
            ly += 18;
        }
    }
    c.save(path);
    return c.labels_outside();
}

int render_heads_grid(const CaptureReader& cap, int64_t seq, const AnalysisResult* r, const std::string& path) {
    const ModelConfig& cfg = cap.config();
    std::vector<int> heads = cap.heads();
    if (heads.empty())
        for (int h = 0; h < cfg.n_head; ++h)
            heads.push_back(h);
    cap.sequence(seq); // throws, naming the sequence count, when out of range
    std::vector<int> layers;
    for (int il = 0; il < cfg.n_layer; ++il)
        if (cap.has(seq, cat("blocks.", il, ".attn.hook_pattern"))) layers.push_back(il);
    if (layers.empty())
        throw Error(cat(cap.dir(), ": no attention weights captured"),
                    "capture them with attnscope run --capture weights");
    const int64_t T = cap.sequence(seq).length;
    const int64_t B = (T + 127) / 128, n = (T + B - 1) / B; // thumbnails hold at most 128 x 128 cells
    const double thumb = std::clamp(1200.0 / double(heads.size()), 36.0, 140.0);
    const double gap = 6, left = 44, top = 70;
    const int W = int(left + heads.size() * (thumb + gap) + 20);
    const int H = int(top + layers.size() * (thumb + gap) + 40);
    Canvas c(W, H, format_of(path));
    c.text(left, 10,
           cat("All heads, sequence ", seq, " (", T, " tokens", B > 1 ? cat(", ", B, "x", B, " blocks") : "", ")"),
           {.size = 14, .bold = true, .max_width = W - left - 10});
    c.text(left, 32, "each thumbnail: query rows down, keys across; colour = attention weight (per head, viridis)",
           {.size = 9.5, .color = kGrey, .max_width = W - left - 10});
    for (size_t k = 0; k < heads.size(); ++k)
        c.text(left + k * (thumb + gap) + thumb / 2, top - 16, cat("H", heads[k]), {.size = 9, .align = Align::center});
    for (size_t li = 0; li < layers.size(); ++li) {
        const int il = layers[li];
        const std::string hook = cat("blocks.", il, ".attn.hook_pattern");
        std::vector<float> storage;
        const CaptureReader::View p = cap.view(seq, hook, storage);
        if (p.shape.size() != 3 || p.shape[0] != int64_t(heads.size()) || p.shape[1] != T || p.shape[2] != T)
            throw Error(
                cat(cap.dir(), ": layer ", il, " pattern of sequence ", seq, " has shape ", shape_str(p.shape)));
        const double y = top + double(li) * (thumb + gap);
        c.text(left - 6, y + thumb / 2 - 6, cat("L", il), {.size = 9, .align = Align::right});
        for (size_t k = 0; k < heads.size(); ++k) {
            const std::vector<double> cell =
                block_average(TensorView::contiguous(const_cast<float*>(p.data) + int64_t(k) * T * T, {T, T}), B);
            double vmax = 0;
            for (double v : cell)
                vmax = std::max(vmax, v);
            const double x = left + double(k) * (thumb + gap);
            c.image(viridis_pixels(cell, vmax), int(n), int(n), x, y, thumb, thumb);
            Color frame = kGrey;
            if (r && size_t(il) < r->layers.size())
                for (const auto& h : r->layers[size_t(il)].heads)
                    if (h.head == heads[k] && h.label != "mixed" && h.label != "broad") frame = label_color(h.label);
            c.stroke_rect(x, y, thumb, thumb, frame, frame.r == kGrey.r ? 0.5 : 2.5);
        }
        cap.advise(seq, hook, MappedFile::Use::done); // memory stays flat over many layers
    }
    if (r) {
        double lx = left;
        for (const auto& label : label_order()) {
            if (label == "mixed" || label == "broad") continue;
            c.fill_rect(lx, H - 24, 10, 10, label_color(label));
            const TextBox b = c.text(lx + 13, H - 27, label, {.size = 9});
            lx = b.x1 + 12;
        }
    }
    c.save(path);
    return c.labels_outside();
}

// ---------------------------------------------------------------------------------------------
// Comparisons across models or checkpoints

int render_comparison(const Comparison& cmp, size_t pair, const std::string& path) {
    if (pair >= cmp.pairs.size()) throw Error(cat("render_comparison: no pair ", pair));
    const PairComparison& p = cmp.pairs[pair];
    const std::string A = cmp.labels[size_t(p.a)], B = cmp.labels[size_t(p.b)];
    Canvas c(1500, 820, format_of(path));
    c.fill_rect(0, 0, c.width(), c.height(), {1, 1, 1, 1});
    c.text(c.width() / 2.0, 12, cat("Heads of ", A, " matched to heads of ", B),
           {.size = 16, .align = Align::center, .bold = true});
    c.text(c.width() / 2.0, 36,
           cat("Jensen-Shannon divergence between heads (nats, mean over ", cmp.n_rows, " rows of ", cmp.n_sequences,
               " texts); boxes: the one-to-one matching of least total divergence (Hungarian",
               cmp.options.same_layer ? ", within layers" : "", "); red boxes: JS above ", fmt(cmp.options.unmatched_js, 2)),
           {.size = 11, .align = Align::center, .color = kGrey});
    // the A x B matrix
    const Rect left{20, 70, 760, 730};
    panel_title(c, left, cat("JS: ", A, " heads (rows) x ", B, " heads (columns)"));
    const Rect box{left.x + 56, left.y + 44, left.w - 130, left.h - 60};
    std::vector<std::vector<double>> m(p.heads_a.size(), std::vector<double>(p.heads_b.size(), nan()));
    double jmax = 0.05;
    for (size_t i = 0; i < p.heads_a.size(); ++i)
        for (size_t j = 0; j < p.heads_b.size(); ++j) {
            const double v = p.js[i * p.heads_b.size() + j];
            if (v >= 0) m[i][j] = v, jmax = std::max(jmax, v);
        }
    std::vector<std::string> rows, cols;
    for (const HeadRef& h : p.heads_a)
        rows.push_back(h.name());
    for (const HeadRef& h : p.heads_b)
        cols.push_back(h.name());
    matrix_panel(c, box, m, 0, jmax, rows, cols, false);
    colour_bar(c, {box.x + box.w + 12, box.y, 12, box.h}, 0, jmax);
    const double cw = box.w / double(cols.size()), ch = box.h / double(rows.size());
    auto index_of = [](const std::vector<HeadRef>& hs, const HeadRef& h) {
        return size_t(std::find(hs.begin(), hs.end(), h) - hs.begin());
    };
    for (const HeadMatch& x : p.matches) {
        const size_t i = index_of(p.heads_a, x.a), j = index_of(p.heads_b, x.b);
        c.stroke_rect(box.x + j * cw, box.y + i * ch, cw, ch, x.good ? Color{1, 1, 1, 1} : rgb(0xd7301f),
                      std::max(1.0, std::min(cw, ch) / 5));
    }
    // changes of each head of A to its match, layer x head
    const AnalysisResult& ra = cmp.analyses[size_t(p.a)];
    const int nL = ra.config.n_layer, nH = ra.config.n_head;
    auto grid = [&](auto value) {
        std::vector<std::vector<double>> g(size_t(nL), std::vector<double>(size_t(nH), nan()));
        for (const HeadMatch& x : p.matches)
            if (x.a.layer < nL && x.a.head < nH) g[size_t(x.a.layer)][size_t(x.a.head)] = value(x);
        return g;
    };
    struct Panel {
        std::string title;
        std::vector<std::vector<double>> v;
        bool diverge;
    };
    std::vector<Panel> panels = {
        {cat("JS to its match in ", B), grid([](const HeadMatch& x) { return x.js; }), false},
        {"Change of induction score", grid([](const HeadMatch& x) { return x.metrics_b[5] - x.metrics_a[5]; }), true},
        {"Change of previous-token score", grid([](const HeadMatch& x) { return x.metrics_b[3] - x.metrics_a[3]; }), true},
        {"Change of sink mass", grid([](const HeadMatch& x) { return x.metrics_b[1] - x.metrics_a[1]; }), true}};
    const auto lrows = numbered("L", nL), lcols = numbered("H", nH);
    for (size_t k = 0; k < panels.size(); ++k) {
        const Rect r{800 + double(k % 2) * 350, 70 + double(k / 2) * 370, 340, 360};
        panel_title(c, r, panels[k].title);
        const Rect b{r.x + 40, r.y + 44, r.w - 110, r.h - 60};
        double vmax = 1e-9;
        for (const auto& row : panels[k].v)
            for (double v : row)
                if (std::isfinite(v)) vmax = std::max(vmax, std::fabs(v));
        const double lo = panels[k].diverge ? -vmax : 0, hi = vmax;
        matrix_panel(c, b, panels[k].v, lo, hi, lrows, lcols, false, 2, panels[k].diverge);
        colour_bar(c, {b.x + b.w + 10, b.y, 12, b.h}, lo, hi, panels[k].diverge);
    }
    c.save(path);
    return c.labels_outside();
}

int render_trajectories(const Comparison& cmp, const std::string& path) {
    if (cmp.trajectories.empty()) throw Error("render_trajectories: trajectories need three captures or more");
    Canvas c(1300, 560, format_of(path));
    c.fill_rect(0, 0, c.width(), c.height(), {1, 1, 1, 1});
    c.text(c.width() / 2.0, 12, "Heads followed across checkpoints", {.size = 16, .align = Align::center, .bold = true});
    std::string steps;
    for (size_t k = 0; k < cmp.labels.size(); ++k)
        steps += cat(k ? ", " : "", k, " = ", cmp.labels[k]);
    c.text(c.width() / 2.0, 36, cat("each head of ", cmp.labels[0], " through the matchings; steps: ", steps),
           {.size = 11, .align = Align::center, .color = kGrey, .max_width = c.width() - 40.0});
    // the heads whose scores move most, at most 8 (colours stay distinguishable)
    std::vector<size_t> order(cmp.trajectories.size());
    for (size_t k = 0; k < order.size(); ++k)
        order[k] = k;
    auto range = [&](size_t k, int metric) {
        double lo = 1e9, hi = -1e9;
        for (const auto& m : cmp.trajectories[k].metrics)
            lo = std::min(lo, m[size_t(metric)]), hi = std::max(hi, m[size_t(metric)]);
        return hi - lo;
    };
    for (int metric : {5, 3}) {
        const size_t panel = metric == 5 ? 0 : 1;
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return range(x, metric) > range(y, metric); });
        std::vector<Series> series;
        for (size_t i = 0; i < std::min<size_t>(8, order.size()); ++i) {
            const Trajectory& t = cmp.trajectories[order[i]];
            std::vector<double> y;
            for (const auto& m : t.metrics)
                y.push_back(m[size_t(metric)]);
            series.push_back({t.path[0].name(), y, category(int(i))});
        }
        line_panel(c, {20 + double(panel) * 640, 64, 620, 480},
                   metric == 5 ? "Induction score (the 8 heads that move most)" : "Previous-token score (the 8 that move most)",
                   "checkpoint", series, true);
    }
    c.save(path);
    return c.labels_outside();
}

// ---------------------------------------------------------------------------------------------
// Training dynamics (evolve)

int render_evolution(const Evolution& e, const std::string& path) {
    Canvas c(1300, 560, format_of(path));
    c.fill_rect(0, 0, c.width(), c.height(), {1, 1, 1, 1});
    c.text(c.width() / 2.0, 12, "Head formation over training", {.size = 16, .align = Align::center, .bold = true});
    std::string sub = cat(e.points.size(), " checkpoints, steps on a log axis (log(1 + step))");
    if (e.formation)
        sub += cat("; L", e.formation->layer, "H", e.formation->head, " becomes an induction head at step ",
                   e.points[size_t(e.formation->point)].step);
    if (e.loss_drop)
        sub += cat("; the loss falls fastest between steps ", e.points[size_t(e.loss_drop->from)].step, " and ",
                   e.points[size_t(e.loss_drop->to)].step);
    c.text(c.width() / 2.0, 36, sub, {.size = 11, .align = Align::center, .color = kGrey, .max_width = c.width() - 40.0});
    std::vector<double> x;
    std::vector<std::string> ticks;
    for (const auto& p : e.points)
        x.push_back(std::log1p(double(std::max<int64_t>(0, p.step)))), ticks.push_back(std::to_string(p.step));
    // the heads whose induction score moves most, at most 8 (colours stay distinguishable)
    std::vector<size_t> order(e.heads.size());
    for (size_t k = 0; k < order.size(); ++k)
        order[k] = k;
    auto range = [&](size_t k) {
        double lo = 1e9, hi = -1e9;
        for (const auto& s : e.heads[k].scores)
            if (std::isfinite(s[1])) lo = std::min(lo, s[1]), hi = std::max(hi, s[1]);
        return hi - lo;
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return range(a) > range(b); });
    std::vector<Series> series;
    for (size_t i = 0; i < std::min<size_t>(8, order.size()); ++i) {
        std::vector<double> y;
        for (const auto& s : e.heads[order[i]].scores)
            y.push_back(s[1]);
        series.push_back({e.heads[order[i]].name(), y, category(int(i))});
    }
    line_panel(c, {20, 64, 620, 480}, "Induction score per head (the 8 that move most)", "training step", series, true,
               x, ticks);
    line_panel(c, {660, 64, 620, 480}, "Loss on the texts (nats per predicted token)", "training step",
               {{"loss", e.loss, category(0)}}, false, x, ticks);
    c.save(path);
    return c.labels_outside();
}

// ---------------------------------------------------------------------------------------------
// Head importance (ablation)

int render_head_importance(const HeadImportance& r, const std::string& path) {
    std::vector<std::vector<double>> m(size_t(r.n_layer), std::vector<double>(size_t(r.n_head), nan()));
    double vmax = 1e-9;
    for (const AblationResult& a : r.results)
        if (a.target.heads.size() == 1) {
            const auto [il, h] = a.target.heads[0];
            m[size_t(il)][size_t(h)] = a.delta;
            vmax = std::max(vmax, std::fabs(a.delta));
        }
    const double cell = std::clamp(640.0 / std::max(r.n_head, r.n_layer), 14.0, 80.0);
    const int W = int(std::max(560.0, cell * r.n_head + 200)), Hpx = int(cell * r.n_layer + 150);
    Canvas c(W, Hpx, format_of(path));
    c.fill_rect(0, 0, c.width(), c.height(), {1, 1, 1, 1});
    c.text(W / 2.0, 12, cat("Head importance: ", ablation_method_name(r.method), " ablation of each head's output"),
           {.size = 15, .align = Align::center, .bold = true});
    c.text(W / 2.0, 34,
           cat("change of next-token loss, nats/token (clean ", fmt(r.clean_loss, 3), " over ", r.tokens, " tokens)"),
           {.size = 11, .align = Align::center, .color = kGrey, .max_width = W - 20.0});
    const Rect box{60, 80, cell * r.n_head, cell * r.n_layer};
    matrix_panel(c, box, m, -vmax, vmax, numbered("L", r.n_layer), numbered("H", r.n_head), true, 2, true);
    colour_bar(c, {box.x + box.w + 14, box.y, 12, box.h}, -vmax, vmax, true);
    c.save(path);
    return c.labels_outside();
}

int render_patching(const PatchResult& r, const std::vector<std::string>& tokens, const std::string& path) {
    const bool heads = r.what == PatchWhat::z || r.what == PatchWhat::pattern;
    std::vector<std::vector<double>> m(size_t(r.n_layer), std::vector<double>(size_t(r.n_cols)));
    double vmax = 1.0;
    for (int il = 0; il < r.n_layer; ++il)
        for (int c = 0; c < r.n_cols; ++c) {
            const double v = r.scores[size_t(il) * size_t(r.n_cols) + size_t(c)];
            m[size_t(il)][size_t(c)] = v;
            vmax = std::max(vmax, std::fabs(v));
        }
    std::vector<std::string> cols = heads ? numbered("H", r.n_cols) : std::vector<std::string>();
    if (!heads)
        for (int c = 0; c < r.n_cols; ++c)
            cols.push_back(size_t(c) < tokens.size() ? tokens[size_t(c)] : std::to_string(c));
    const double cell = std::clamp(900.0 / std::max(r.n_cols, 1), 10.0, 70.0), ch = std::clamp(480.0 / r.n_layer, 14.0, 60.0);
    const int W = int(std::max(620.0, cell * r.n_cols + 200)), Hpx = int(ch * r.n_layer + 170);
    Canvas c(W, Hpx, format_of(path));
    c.fill_rect(0, 0, c.width(), c.height(), {1, 1, 1, 1});
    c.text(W / 2.0, 12, cat("Activation patching of ", patch_what_name(r.what), heads ? " per head" : " per position"),
           {.size = 15, .align = Align::center, .bold = true});
    c.text(W / 2.0, 34,
           cat(r.metric == PatchMetric::loss
                   ? "(m - m_corrupt) / (m_clean - m_corrupt), m = - mean next-token loss on the clean text; m_clean "
                   : "(m - m_corrupt) / (m_clean - m_corrupt), m = logit(answer) - logit(wrong) at the last position; m_clean ",
               fmt(r.m_clean, 2), ", m_corrupt ", fmt(r.m_corrupt, 2)),
           {.size = 11, .align = Align::center, .color = kGrey, .max_width = W - 20.0});
    const Rect box{60, 90, cell * r.n_cols, ch * r.n_layer};
    matrix_panel(c, box, m, -vmax, vmax, numbered("L", r.n_layer), cols, true, 2, true);
    colour_bar(c, {box.x + box.w + 14, box.y, 12, box.h}, -vmax, vmax, true);
    c.save(path);
    return c.labels_outside();
}

} // namespace attnscope
