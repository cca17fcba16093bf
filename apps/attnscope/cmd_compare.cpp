// attnscope compare: matches heads across models or checkpoints and writes the comparison.
#include "cli.h"

namespace attnscope::cli {

int cmd_compare(const Args& args) {
    const auto dirs = args.positional();
    CompareOptions co;
    if (args.has("--labels")) co.labels = split_list(args.get("--labels"));
    co.same_layer = args.has("--same-layer");
    co.unmatched_js = args.number("--unmatched-js", 0, 1); // nats
    for (const std::string& d : dirs)
        if (!std::filesystem::is_directory(d))
            throw Error(cat("compare: ", d, " is not a directory"), "give capture directories made by attnscope run");
    const std::string out = args.get("--output");
    const auto t0 = std::chrono::steady_clock::now();
    const Comparison c = compare_captures(dirs, co);
    std::filesystem::create_directories(out);
    write_file_atomic(out + "/comparison.json", comparison_json(c).dump(1) + "\n");
    const std::string report = comparison_report(c);
    write_file_atomic(out + "/comparison_report.txt", report);
    std::vector<std::string> written = {"comparison.json", "comparison_report.txt"};
    for (size_t k = 0; k < c.pairs.size(); ++k) {
        const std::string name = cat("comparison_", k, "_", k + 1, ".png");
        render_comparison(c, k, out + "/" + name);
        written.push_back(name);
    }
    write_comparison_view(c, 0, out + "/comparison_view.html");
    written.push_back("comparison_view.html");
    if (!c.trajectories.empty()) {
        render_trajectories(c, out + "/comparison_trajectories.png");
        written.push_back("comparison_trajectories.png");
    }
    std::fputs(report.c_str(), stdout);
    std::string list;
    for (const auto& w : written)
        list += (list.empty() ? "" : ", ") + w;
    std::fprintf(stderr, "attnscope: wrote %s: %s (%.1f s)\n", out.c_str(), list.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
}

extern const Verb verb_compare{
    "compare",
    "DIR_A DIR_B [DIR_C ...] [options]",
    "match heads across models or checkpoints",
    "Matches the heads of captures of the same texts (other models, checkpoints of one model) one to one by "
    "Jensen-Shannon divergence (Hungarian algorithm). OUT gets comparison.json, comparison_report.txt, a figure "
    "per pair, comparison_view.html and, with 3 captures or more, each head's trajectory.",
    {{"--labels", "A,B,...", "", "names of the captures in the report; default the directories' names"},
     {"--same-layer", "", "", "match heads within the same layer only"},
     {"--unmatched-js", "X", "0.15", "a match above X nats is no good match: the head is listed as gone or new"},
     {"--output", "OUT", "comparison", "the folder to write into"}},
    cmd_compare};

} // namespace attnscope::cli
