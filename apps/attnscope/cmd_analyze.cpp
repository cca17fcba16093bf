// attnscope analyze: analyses capture and stats-only directories (shards merged in corpus order) and writes the report
// and summary.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_analyze(const Args& args) {
    const auto dirs = args.positional({"--output", "--importance", "--prune-max-delta"});
    if (dirs.empty()) throw Error("analyze: no capture directory given", "usage: attnscope analyze DIR [DIR ...]");
    AttentionDataAnalyzer an(dirs);
    an.set_reuse_stored(false); // asked for: always from the tensors
    if (!args.get("--output").empty()) an.look_for_summary_in(args.get("--output"));
    set_importance_of(an, args);
    const AnalysisResult& r = an.analyze([](int64_t done, int64_t total) {
        if (::isatty(2)) {
            std::fprintf(stderr, "\rattnscope: analysing %lld/%lld", (long long)done, (long long)total);
            if (done == total) std::fputc('\n', stderr);
        }
    });
    const std::string out = args.get("--output");
    for (const auto& path : write_report(r, out.empty() ? dirs[0] : out))
        std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
    if (args.has("--print")) std::fputs(report_text(r).c_str(), stdout);
    return 0;
}

} // namespace attnscope::cli
