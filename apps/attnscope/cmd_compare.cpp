// attnscope compare: matches heads across models or checkpoints and writes the comparison.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_compare(const Args& args) {
    const auto dirs = args.positional({"--labels", "--output", "--unmatched-js"});
    CompareOptions co;
    if (args.has("--labels")) co.labels = split_list(args.get("--labels"));
    co.same_layer = args.has("--same-layer");
    const std::string u = args.get("--unmatched-js");
    if (!u.empty()) {
        char* end = nullptr;
        co.unmatched_js = std::strtod(u.c_str(), &end);
        if (*end || !(co.unmatched_js >= 0 && co.unmatched_js <= 1))
            throw Error(cat("--unmatched-js: expected a number of nats from 0 to 1, found '", u, "'"));
    }
    for (const std::string& d : dirs)
        if (!std::filesystem::is_directory(d))
            throw Error(cat("compare: ", d, " is not a directory"), "give capture directories made by attnscope run");
    std::string out = args.get("--output");
    if (out.empty()) out = "comparison";
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

} // namespace attnscope::cli
