// The command-line program's shared pieces (cli.h): the arguments checked against a verb's
// record, progress, Ctrl-C, and the options several verbs read, each written once and each
// checked with a message that names the option and what was expected.
#include "cli.h"

namespace attnscope::cli {

const Option* Verb::option(const std::string& flag) const {
    for (const Option& o : options)
        if (o.flag == flag) return &o;
    return nullptr;
}

Args::Args(const Verb& v, std::vector<std::string> words) : verb(&v), rest(std::move(words)) {
    std::vector<std::string> flags;
    for (const Option& o : v.options)
        flags.push_back(o.flag);
    for (size_t i = 0; i < rest.size(); ++i) {
        if (rest[i].rfind("--", 0) != 0) continue;
        const Option* o = v.option(rest[i]);
        if (!o)
            throw Error(cat(v.name, ": unknown option ", rest[i]),
                        flags.empty() ? cat("'", v.name, "' takes no option")
                                      : cat("'", v.name, "' takes ", list_of(flags), "; attnscope ", v.name,
                                            " --help says what each does"));
        if (!o->value.empty() && (i + 1 >= rest.size() || rest[i + 1].rfind("--", 0) == 0))
            throw Error(cat(v.name, ": ", o->flag, " needs a value (", o->value, ")"),
                        cat("e.g. attnscope ", v.name, " ", o->flag, " ", o->value));
    }
}

std::string Args::get(const std::string& flag) const {
    for (size_t i = 0; i + 1 < rest.size(); ++i)
        if (rest[i] == flag) return rest[i + 1];
    const Option* o = verb->option(flag);
    return o ? o->fallback : std::string();
}

std::vector<std::string> Args::positional() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < rest.size(); ++i) {
        if (rest[i].rfind("--", 0) == 0) {
            const Option* o = verb->option(rest[i]);
            if (o && !o->value.empty()) ++i;
            continue;
        }
        out.push_back(rest[i]);
    }
    return out;
}

std::string Args::require(const std::string& flag) const {
    std::string v = get(flag);
    if (v.empty())
        throw Error(cat(verb->name, ": missing ", flag), cat("usage: attnscope ", verb->name, " ", verb->synopsis));
    return v;
}

long Args::integer(const std::string& flag, long lo, long hi, long fallback) const {
    const std::string v = get(flag);
    if (v.empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (*end || errno == ERANGE || n < lo || n > hi)
        throw Error(cat(flag, ": expected a whole number from ", lo, " to ", hi, ", found '", v, "'"));
    return n;
}

double Args::number(const std::string& flag, double lo, double hi, double fallback) const {
    const std::string v = get(flag);
    if (v.empty()) return fallback;
    char* end = nullptr;
    const double n = std::strtod(v.c_str(), &end);
    if (*end || !(n >= lo && n <= hi))
        throw Error(cat(flag, ": expected a number from ", lo, " to ", hi, ", found '", v, "'"));
    return n;
}

std::vector<Option> join(const std::vector<std::vector<Option>>& parts) {
    std::vector<Option> out;
    for (const auto& part : parts)
        out.insert(out.end(), part.begin(), part.end());
    return out;
}

Option model_option() {
    return {"--model", "M", "",
            "the model: a Hugging Face directory, \"tiny\" (built in), or a name in the Hugging Face cache, "
            "NAME@REV for one of its revisions (a branch such as step1000, a tag, or a commit hash prefix)"};
}

Option revision_option() {
    return {"--revision", "REV", "", "the cached revision of --model (the same as --model NAME@REV)"};
}

std::string model_arg(const Args& args) {
    const std::string rev = args.get("--revision"), model = args.require("--model");
    if (rev.empty()) return model;
    if (const size_t at = model.rfind('@'); at != std::string::npos && model.substr(at + 1) != rev)
        throw Error(cat("--model ", model, " names revision '", model.substr(at + 1), "' but --revision says '", rev,
                        "'"),
                    "give the revision once");
    return model.find('@') == std::string::npos ? model + "@" + rev : model;
}

std::vector<Option> text_options() {
    return {{"--text", "T ...", "", "texts, one per word (quote each); repeatable"},
            {"--input", "FILE", "",
             "texts from a file: JSON Lines ({\"text\": ...} per line) if it ends in .jsonl, else one per line"}};
}

Option weights_option() {
    return {"--weights", "f32|as-stored", "as-stored",
            "f32 widens 16-bit (BF16/F16) weights at load: twice the memory, faster products; as-stored keeps "
            "them 16-bit, widened tile by tile in use (the same values)"};
}

std::vector<Option> capture_option_list() {
    return {{"--capture", "LIST", "",
             "hook names, globs or aliases: weights, inputs, outputs, scores, q, k, v, z, resid, mlp, logits; "
             "none stores only the manifest (for timing); default weights,inputs,outputs"},
            {"--layers", "LIST", "", "layers to capture, e.g. 0-3,11; default all"},
            {"--heads", "LIST", "", "heads to capture, e.g. 0,5; default all"},
            {"--dtype", "f32|f16", "f32", "the stored type"},
            {"--force", "", "", "write into a non-empty DIR"},
            {"--no-sync", "", "",
             "do not wait for the data to reach the disk (fsync) before naming the files: faster on slow disks; "
             "an interrupted run still leaves no file that looks whole, a power failure just after may"},
            weights_option()};
}

std::vector<Option> importance_option_list() {
    return {{"--importance", "F", "",
             "head_importance.json of attnscope ablate (default: one in DIR or OUT): each head the "
             "recommendations suggest pruning gets its measured loss increase"},
            {"--prune-max-delta", "X", "0.05",
             "withdraw a pruning suggestion whose measured loss increase is above X nats/token"}};
}

std::string hook_shape(const ModelConfig& c, Hook h) {
    const std::string T = "T", D = std::to_string(c.n_embd), H = std::to_string(c.n_head), d = std::to_string(c.d_head);
    switch (h) {
    case Hook::q:
    case Hook::rot_q:
    case Hook::q_normalized:
    case Hook::z: return "[T, " + H + ", " + d + "]";
    case Hook::k:
    case Hook::rot_k:
    case Hook::k_normalized:
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
    const double max_delta = args.number("--prune-max-delta", 0, 1e9); // nats/token
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
    opt.loss = args.has("--loss");
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
