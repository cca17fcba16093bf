// attnscope ablate: ablates heads (zero, mean or resample) and writes their measured loss increase.
#include "cli.h"

namespace attnscope::cli {

int cmd_ablate(const Args& args) {
    const std::string metric = args.get("--metric");
    if (metric != "loss")
        throw Error(cat("--metric: '", metric, "' is not a metric ablate measures"), "ablate measures --metric loss");
    RunnerOptions ro;
    ro.weights_f32 = weights_f32(args);
    ro.on_warning = [](const std::string& w) { std::fprintf(stderr, "attnscope: warning: %s\n", w.c_str()); };
    Runner runner(model_arg(args), ro);
    const PreparedData data =
        runner.prepare_data(texts_of(args, "ablate"), args.integer("--max-length", 2, 100000000, 0));
    AblateOptions ao;
    ao.targets = parse_ablation_targets(args.get("--heads"), runner.model().config());
    ao.method = parse_ablation_method(args.get("--method"));
    const auto t0 = std::chrono::steady_clock::now();
    ao.on_progress = [&](int64_t done, int64_t total) { // a line on a terminal: forward passes take a while
        if (g_interrupted) // stop between targets: nothing is written, so no file looks whole
            throw Error(cat("ablate: interrupted after ", done, " of ", total, " targets; nothing was written"),
                        "run it again to measure");
        if (!::isatty(2)) return;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "\rablate: %lld/%lld targets, %s%s", (long long)done, (long long)total,
                     format_duration(s).c_str(), done == total ? "\n" : "");
        std::fflush(stderr);
    };
    const std::string out = args.get("--output");
    std::signal(SIGINT, on_sigint);
    const HeadImportance r = runner.ablate(data, ao);
    std::filesystem::create_directories(out);
    write_file_atomic(out + "/head_importance.json", head_importance_json(r).dump(1) + "\n");
    const std::string report = head_importance_report(r);
    write_file_atomic(out + "/ablation_report.txt", report);
    render_head_importance(r, out + "/head_importance.png");
    std::fputs(report.c_str(), stdout);
    std::fprintf(stderr,
                 "attnscope: wrote %s: head_importance.json, ablation_report.txt, head_importance.png (%.1f s)\n",
                 out.c_str(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
}

extern const Verb verb_ablate{
    "ablate",
    "--model M (--text T ... | --input FILE) [options]",
    "each head's measured importance: the loss when it is ablated",
    "Replaces each head's (or group's) output hook_z and measures the next-token loss on the texts against the "
    "clean loss (token-weighted mean, nats/token). OUT gets head_importance.json (which analyze and report read), "
    "ablation_report.txt and a layer x head figure.",
    join({{model_option(), revision_option()},
          text_options(),
          {{"--heads", "SPEC", "all", "what to ablate: all, heads (L1H0,2.3), or groups ablated together (L0H1+L2H3)"},
           {"--method", "zero|mean|resample", "zero",
            "replace with zeros, the head's mean over the texts, or its value on another text"},
           {"--metric", "loss", "loss", "what is measured"},
           {"--max-length", "N", "", "truncate texts to N tokens (at least 2); default the model's context"},
           {"--output", "OUT", "ablation", "the folder to write into"},
           weights_option()}}),
    cmd_ablate};

} // namespace attnscope::cli
