// The command-line program's shared pieces (cli.h): progress, Ctrl-C, and the options several
// verbs read, each checked with a message that names the option and what was expected.
#include "cli.h"

namespace attnscope::cli {

std::string hook_shape(const ModelConfig& c, Hook h) {
    const std::string T = "T", D = std::to_string(c.n_embd), H = std::to_string(c.n_head), d = std::to_string(c.d_head);
    switch (h) {
    case Hook::q:
    case Hook::rot_q:
    case Hook::z: return "[T, " + H + ", " + d + "]";
    case Hook::k:
    case Hook::rot_k:
    case Hook::v: return "[T, " + std::to_string(c.n_kv_head) + ", " + d + "]";
    case Hook::attn_scores:
    case Hook::pattern: return "[" + H + ", T, T]";
    case Hook::mlp_pre:
    case Hook::mlp_pre_linear:
    case Hook::mlp_post: return "[T, " + std::to_string(c.n_inner) + "]";
    case Hook::logits: return "[T, " + std::to_string(c.vocab_size) + "]";
    default: return "[T, " + D + "]";
    }
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
    g_interrupted = true;
}

std::string format_duration(double s) {
    const int t = int(s + 0.5);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
    return buf;
}

// A progress bar on a terminal; a plain line per batch (at most one every few seconds) otherwise.
void show_progress(const Progress& p) {
    static const bool tty = ::isatty(2);
    static double last_line = -10;
    const double rate = p.seconds > 0 ? double(p.tokens_done) / p.seconds : 0;
    const double left = rate > 0 ? double(p.tokens_total - p.tokens_done) / rate : 0;
    const bool done = p.texts_done == p.texts_total;
    if (tty) {
        const int width = 30, fill = int(width * p.tokens_done / std::max<int64_t>(p.tokens_total, 1));
        std::fprintf(stderr, "\r[%s%s] %lld/%lld texts  %.0f tokens/s  %s %s", std::string(size_t(fill), '#').c_str(),
                     std::string(size_t(width - fill), '.').c_str(), (long long)p.texts_done, (long long)p.texts_total,
                     rate, done ? "took" : "ETA", format_duration(done ? p.seconds : left).c_str());
        if (done) std::fputc('\n', stderr);
    } else if (done || p.seconds - last_line >= 5) {
        last_line = p.seconds;
        std::fprintf(stderr, "attnscope: %lld/%lld texts, %lld tokens, %.0f tokens/s, %s %s\n", (long long)p.texts_done,
                     (long long)p.texts_total, (long long)p.tokens_done, rate, done ? "took" : "ETA",
                     format_duration(done ? p.seconds : left).c_str());
    }
    std::fflush(stderr);
}

// --weights f32 (widen 16-bit weights at load) or as-stored (the default).
bool weights_f32(const Args& args) {
    const std::string w = args.get("--weights");
    if (w.empty() || w == "as-stored") return false;
    if (w == "f32") return true;
    throw Error(cat("--weights: expected f32 or as-stored, found '", w, "'"),
                "16-bit weights stay 16-bit in memory by default; --weights f32 widens them at load");
}

// An analyzer for the commands that draw or print from an analysis: it reuses the summary that
// `analyze` stored (in the first directory or in `out`) and says in one line when it cannot.
std::unique_ptr<AttentionDataAnalyzer> analyzer_for(const std::vector<std::string>& dirs, const std::string& out) {
    auto an = std::make_unique<AttentionDataAnalyzer>(dirs);
    if (!out.empty()) an->look_for_summary_in(out);
    an->set_notice([](const std::string& s) { std::fprintf(stderr, "attnscope: note: %s\n", s.c_str()); });
    return an;
}

// --importance FILE and --prune-max-delta X of analyze and report.
void set_importance_of(AttentionDataAnalyzer& an, const Args& args) {
    const std::string d = args.get("--prune-max-delta");
    char* end = nullptr;
    const double max_delta = d.empty() ? 0.05 : std::strtod(d.c_str(), &end);
    if (!d.empty() && (*end || !(max_delta >= 0) || !std::isfinite(max_delta)))
        throw Error(cat("--prune-max-delta: expected a loss increase in nats/token >= 0, found '", d, "'"));
    const std::string f = args.get("--importance");
    if (!f.empty() && !std::filesystem::is_regular_file(f))
        throw Error(cat("--importance: ", f, ": no such file"), "give the head_importance.json attnscope ablate wrote");
    an.set_importance(f, max_delta);
}

std::string list_of(const std::vector<std::string>& items) {
    std::string s;
    for (const auto& x : items)
        s += (s.empty() ? "" : ", ") + x;
    return s;
}

// The texts of --text (repeatable) or --input FILE, for `command`.
std::vector<std::string> texts_of(const Args& args, const char* command) {
    std::vector<std::string> texts = args.all("--text");
    const std::string input = args.get("--input");
    if (!input.empty()) {
        if (!texts.empty()) throw Error(cat(command, ": give --text or --input, not both"));
        texts = read_texts(input);
        if (texts.empty()) throw Error(cat(input, ": holds no texts"));
    } else if (texts.empty()) {
        throw Error(cat(command, ": no texts"), "give --text \"some text\" or --input FILE");
    }
    return texts;
}

// What to capture and how (run, generate --output): --capture, --layers, --heads, --dtype,
// --force, --no-sync, --weights; progress and warnings on stderr, Ctrl-C between batches.
RunnerOptions capture_options(const Args& args) {
    RunnerOptions opt;
    opt.capture = args.get("--capture");
    opt.layers = args.get("--layers");
    opt.heads = args.get("--heads");
    opt.force = args.has("--force");
    opt.durable = !args.has("--no-sync");
    opt.covariance = args.has("--covariance");
    opt.weights_f32 = weights_f32(args);
    const std::string dtype = args.get("--dtype");
    if (dtype == "f16")
        opt.dtype = DType::f16;
    else if (!dtype.empty() && dtype != "f32")
        throw Error(cat("--dtype: expected f32 or f16, found '", dtype, "'"));
    opt.on_progress = show_progress;
    opt.on_warning = [](const std::string& w) { std::fprintf(stderr, "attnscope: warning: %s\n", w.c_str()); };
    opt.cancel = &g_interrupted;
    return opt;
}

} // namespace attnscope::cli
