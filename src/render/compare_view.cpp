// comparison_view.html: the matched heads of two captures side by side on the same text. One
// self-contained file like attention_view.html (no request of any kind: a strict
// Content-Security-Policy; data inline, escaped, and put into the page with textContent only):
// a list of the matches, most changed first (JS, labels), and for the one picked, A's head and
// B's head as heatmaps of the same text, with a shared read-out of the query and key tokens under
// the pointer. Patterns are the viewer's quantised lower triangles, in blocks past 256 tokens.
#include "render/compare_view.h"

#include "core/error.h"
#include "core/files.h"
#include "render/viewer.h"

#include <algorithm>

namespace attnscope {

namespace {

const char* const kPage = R"ATTNSCOPE_PAGE(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>attnscope: compared heads</title>
<style>
  body { font-family: "DejaVu Sans", sans-serif; margin: 16px; color: #222; }
  h1 { font-size: 18px; margin: 0 0 4px; } .grey { color: #777; font-size: 12px; }
  #wrap { display: flex; gap: 16px; margin-top: 10px; }
  #list { width: 330px; max-height: 760px; overflow: auto; border: 1px solid #ddd; font-size: 12px; }
  #list div { padding: 3px 6px; cursor: pointer; border-bottom: 1px solid #f0f0f0; font-family: "DejaVu Sans Mono", monospace; }
  #list div.sel { background: #e3eefa; } #list div.bad { color: #b2182b; }
  .panel { text-align: center; } canvas { border: 1px solid #ccc; image-rendering: pixelated; }
  #readout { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; min-height: 18px; margin-top: 6px; white-space: pre; }
  select { margin-left: 8px; }
</style></head><body>
<h1 id="title"></h1>
<div class="grey" id="sub"></div>
<div>text <select id="seq"></select></div>
<div id="wrap">
  <div id="list"></div>
  <div class="panel"><div id="ta"></div><canvas id="ca" width="420" height="420"></canvas></div>
  <div class="panel"><div id="tb"></div><canvas id="cb" width="420" height="420"></canvas></div>
</div>
<div id="readout"></div>
<script type="application/json" id="data">@DATA@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const $ = id => document.getElementById(id);
function bytes(b64) { const s = atob(b64), a = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); return a; }
const seqs = D.sequences.map(s => ({ tokens: s.tokens, n: s.n, block: s.block, a: bytes(s.patterns_a), b: bytes(s.patterns_b) }));
$("title").textContent = "Heads of " + D.labels[0] + " matched to heads of " + D.labels[1];
$("sub").textContent = "Jensen-Shannon divergence (nats) over " + D.rows + " rows of " + D.texts +
  " texts; matches above " + D.unmatched_js + " in red. Each pattern is the same text under both models" +
  (seqs.some(s => s.block > 1) ? "; long texts are shown in blocks of tokens" : "") + ".";
D.sequences.forEach((s, k) => { const o = document.createElement("option"); o.value = k; o.textContent = k + ": " + s.tokens.slice(0, 10).join(""); $("seq").appendChild(o); });
let cur = 0, seq = 0;
const order = D.matches.map((m, k) => k).sort((x, y) => D.matches[y].js - D.matches[x].js);
order.forEach(k => {
  const m = D.matches[k], d = document.createElement("div");
  d.textContent = D.heads_a[m.a] + " -> " + D.heads_b[m.b] + "  JS " + m.js.toFixed(3) + "  " + m.label_a + (m.label_a === m.label_b ? "" : " -> " + m.label_b);
  if (!m.good) d.className = "bad";
  d.onclick = () => { cur = k; draw(); };
  d.id = "m" + k;
  $("list").appendChild(d);
});
function colour(v) { // viridis-like, v in [0, 1]
  const c = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(3.999, Math.max(0, v * 4)), i = Math.floor(x), t = x - i;
  return [0, 1, 2].map(j => Math.round(c[i][j] + (c[i + 1][j] - c[i][j]) * t));
}
function paint(canvas, data, head, n) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n), tri = n * (n + 1) / 2;
  let k = head * tri;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const o = (i * n + j) * 4;
    const q = j <= i ? data[k + j] : -1;
    const [r, g, b] = q < 0 ? [245, 245, 245] : colour(q / 255);
    img.data[o] = r; img.data[o + 1] = g; img.data[o + 2] = b; img.data[o + 3] = 255;
    if (j === i) k += i + 1;
  }
  const off = document.createElement("canvas"); off.width = n; off.height = n; off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false; ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}
function draw() {
  const m = D.matches[cur], s = seqs[seq];
  document.querySelectorAll("#list div").forEach(d => d.classList.toggle("sel", d.id === "m" + cur));
  $("ta").textContent = D.labels[0] + ": " + D.heads_a[m.a] + " (" + m.label_a + ")";
  $("tb").textContent = D.labels[1] + ": " + D.heads_b[m.b] + " (" + m.label_b + "), JS " + m.js.toFixed(4);
  paint($("ca"), s.a, m.a, s.n); paint($("cb"), s.b, m.b, s.n);
}
function readout(ev, canvas) {
  const s = seqs[seq], m = D.matches[cur], r = canvas.getBoundingClientRect();
  const j = Math.floor((ev.clientX - r.left) / r.width * s.n), i = Math.floor((ev.clientY - r.top) / r.height * s.n);
  if (i < 0 || j < 0 || i >= s.n || j > i) { $("readout").textContent = ""; return; }
  const tri = s.n * (s.n + 1) / 2, at = i * (i + 1) / 2 + j;
  const va = Math.pow(s.a[m.a * tri + at] / 255, 2), vb = Math.pow(s.b[m.b * tri + at] / 255, 2);
  const tok = x => s.block > 1 ? "tokens " + x * s.block + "-" + Math.min(s.tokens.length - 1, (x + 1) * s.block - 1) : JSON.stringify(s.tokens[x]);
  $("readout").textContent = "query " + tok(i) + " -> key " + tok(j) + ":  " + D.labels[0] + " " + va.toFixed(3) + "   " + D.labels[1] + " " + vb.toFixed(3);
}
$("ca").onmousemove = e => readout(e, $("ca")); $("cb").onmousemove = e => readout(e, $("cb"));
$("seq").onchange = () => { seq = +$("seq").value; draw(); };
cur = order.length ? order[0] : 0;
if (D.matches.length) draw();
</script></body></html>
)ATTNSCOPE_PAGE";

} // namespace

int64_t write_comparison_view(const Comparison& c, size_t pair, const std::string& path, int max_sequences) {
    if (pair >= c.pairs.size()) throw Error(cat("comparison view: no pair ", pair));
    if (max_sequences < 1) throw Error("comparison view: at least one text is needed");
    const PairComparison& p = c.pairs[pair];
    const CaptureReader ra(c.dirs[size_t(p.a)]), rb(c.dirs[size_t(p.b)]);
    const ViewerLayout la = viewer_layout(ra), lb = viewer_layout(rb);
    // heads in the layouts' order (layer, then head), as quantised_patterns lays them out
    auto names = [](const ViewerLayout& l) {
        std::vector<HeadRef> hs;
        for (int il : l.layers)
            for (int h : l.heads)
                hs.push_back({il, h});
        return hs;
    };
    const std::vector<HeadRef> ha = names(la), hb = names(lb);
    auto index_of = [](const std::vector<HeadRef>& hs, const HeadRef& h) {
        return int64_t(std::find(hs.begin(), hs.end(), h) - hs.begin());
    };
    nlohmann::ordered_json d;
    d["labels"] = {c.labels[size_t(p.a)], c.labels[size_t(p.b)]};
    d["texts"] = c.n_sequences;
    d["rows"] = c.n_rows;
    d["unmatched_js"] = c.options.unmatched_js;
    nlohmann::ordered_json heads_a = nlohmann::ordered_json::array(), heads_b = nlohmann::ordered_json::array();
    for (const HeadRef& h : ha)
        heads_a.push_back(h.name());
    for (const HeadRef& h : hb)
        heads_b.push_back(h.name());
    d["heads_a"] = heads_a;
    d["heads_b"] = heads_b;
    d["matches"] = nlohmann::ordered_json::array();
    for (const HeadMatch& m : p.matches)
        d["matches"].push_back({{"a", index_of(ha, m.a)},
                                {"b", index_of(hb, m.b)},
                                {"js", m.js},
                                {"good", m.good},
                                {"label_a", m.label_a},
                                {"label_b", m.label_b}});
    d["sequences"] = nlohmann::ordered_json::array();
    const int64_t n_seq = std::min<int64_t>(ra.n_sequences(), max_sequences);
    for (int64_t s = 0; s < n_seq; ++s) {
        const int64_t T = ra.sequence(s).length, B = viewer_block(T, 256), n = (T + B - 1) / B;
        d["sequences"].push_back({{"tokens", ra.sequence(s).tokens},
                                  {"n", n},
                                  {"block", B},
                                  {"patterns_a", base64(quantised_patterns(ra, s, la, B))},
                                  {"patterns_b", base64(quantised_patterns(rb, s, lb, B))}});
    }
    std::string html = kPage;
    const size_t at = html.find("@DATA@");
    html.replace(at, 6, script_safe(d.dump()));
    write_file_atomic(path, html);
    return int64_t(html.size());
}

} // namespace attnscope
