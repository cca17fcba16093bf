// attnscope patch: activation patching: a clean run's activations into a corrupted one, scored per head or position.
#include "cli.h"

namespace attnscope::cli {

int cmd_patch(const Args& args) {
    const std::string metric = args.get("--metric");
    if (metric != "loss" && metric != "logit_diff")
        throw Error(cat("--metric: '", metric, "' is not a patching metric"),
                    "use --metric loss, or --answer and --wrong");
    const bool by_loss = metric == "loss";
    if (by_loss && (args.has("--answer") || args.has("--wrong")))
        throw Error("patch: --metric loss takes no --answer or --wrong", "give one or the other");
    RunnerOptions ro;
    ro.weights_f32 = weights_f32(args);
    Runner runner(model_arg(args), ro);
    const std::string clean = args.require("--clean"), corrupt = args.require("--corrupt");
    const auto t0 = std::chrono::steady_clock::now();
    const PatchResult r = runner.patch(clean, corrupt, by_loss ? "" : args.require("--answer"),
                                       by_loss ? "" : args.require("--wrong"),
                                       parse_patch_what(args.get("--what")), [&](int64_t done, int64_t total) {
                                           if (g_interrupted) throw Error("patch: interrupted; nothing was written");
                                           if (!::isatty(2)) return;
                                           std::fprintf(stderr, "\rpatch: %lld/%lld runs%s", (long long)done,
                                                        (long long)total, done == total ? "\n" : "");
                                       });
    const std::string out = args.get("--output");
    std::filesystem::create_directories(out);
    const auto tokens = runner.tokenizer().display(runner.tokenizer().encode(corrupt));
    write_file_atomic(out + "/patching.json", patch_json(r, tokens).dump(1) + "\n");
    render_patching(r, tokens, out + "/patching.png");
    std::printf("m_clean %.4f, m_corrupt %.4f; best restoring %s:\n", r.m_clean, r.m_corrupt,
                r.what == PatchWhat::z || r.what == PatchWhat::pattern ? "heads" : "(layer, position)");
    std::vector<size_t> order(r.scores.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.scores[a] > r.scores[b]; });
    for (size_t i = 0; i < std::min<size_t>(8, order.size()); ++i)
        std::printf("  L%zu %s%zu  %.3f\n", order[i] / size_t(r.n_cols),
                    r.what == PatchWhat::z || r.what == PatchWhat::pattern ? "H" : "pos ", order[i] % size_t(r.n_cols),
                    r.scores[order[i]]);
    std::fprintf(stderr, "attnscope: wrote %s: patching.json, patching.png (%.1f s)\n", out.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
}

extern const Verb verb_patch{
    "patch",
    "--model M --clean TEXT --corrupt TEXT (--answer TOK --wrong TOK | --metric loss) [options]",
    "activation patching: which activations restore the clean behaviour",
    "Runs the corrupted text with one activation (per head, or per layer and position) taken from the clean "
    "run, scored by the normalised logit difference between the answer and the wrong token at the last "
    "position (or, --metric loss, the share of the clean text's next-token loss it recovers). OUT gets "
    "patching.json and a figure.",
    {model_option(), revision_option(),
     {"--clean", "TEXT", "", "the clean text"},
     {"--corrupt", "TEXT", "", "the corrupted text, of the same length in tokens"},
     {"--answer", "TOK", "", "the clean text's answer token (logit_diff)"},
     {"--wrong", "TOK", "", "the corrupted text's answer token (logit_diff)"},
     {"--metric", "logit_diff|loss", "logit_diff", "the score of a patched run"},
     {"--what", "z|attn_out|resid_pre|pattern", "z", "the activation patched"},
     {"--output", "OUT", "patching", "the folder to write into"},
     weights_option()},
    cmd_patch};

} // namespace attnscope::cli
