// attnscope analyze: analyses capture and stats-only directories (shards merged in corpus order) and writes the report
// and summary.
#include "cli.h"

namespace attnscope::cli {

int cmd_analyze(const Args& args) {
    const auto dirs = args.positional();
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

extern const Verb verb_analyze{
    "analyze",
    "DIR [DIR ...] [options]",
    "the statistics, head taxonomy and recommendations of captures",
    "Analyses capture directories and/or stats-only directories (several = shards of one corpus, in any order, "
    "merged exactly) and writes attention_analysis_report.txt and attention_data_summary.json "
    "(docs/summary-schema.md) into OUT (default: the first DIR).",
    join({{{"--output", "OUT", "", "the folder to write into; default the first DIR"},
           {"--print", "", "", "also print the report on stdout"}},
          importance_option_list()}),
    cmd_analyze};

} // namespace attnscope::cli
