// attnscope view: writes the self-contained interactive viewer of a capture.
#include "cli.h"

namespace attnscope::cli {

int cmd_view(const Args& args) {
    const auto pos = args.positional();
    if (pos.size() != 1) throw Error("view: expected one capture directory", "usage: attnscope view DIR");
    const long ns = args.integer("--sequences", 1, 10000);
    const double max_mb = args.number("--max-mb", 1, 65536);
    auto an = analyzer_for({pos[0]}, args.get("--output"));
    const std::string path = an->create_viewer(args.get("--output"), int(ns), max_mb);
    std::fprintf(stderr, "attnscope: wrote %s (%.1f MB)\n", path.c_str(),
                 double(std::filesystem::file_size(path)) / 1e6);
    return 0;
}

extern const Verb verb_view{
    "view",
    "DIR [options]",
    "attention_view.html: one self-contained interactive page",
    "Writes attention_view.html: one self-contained page (the grid of all heads, a heatmap with read-out, the "
    "head view, tokens, metrics) for the first N sequences. It opens in any browser and makes no network "
    "request; above M MiB the patterns are averaged in token blocks, and the page says so.",
    {{"--output", "OUT", "", "the folder to write into; default DIR"},
     {"--sequences", "N", "8", "how many sequences the page holds"},
     {"--max-mb", "M", "64", "the page's largest size in MiB"}},
    cmd_view};

} // namespace attnscope::cli
