// attnscope plot: draws one figure of a capture (the flow, the dashboard, the heads grid, or one
// head's weights), from the stored analysis when there is one.
#include "cli.h"

namespace attnscope::cli {

int cmd_plot(const Args& args) {
    const auto pos = args.positional();
    const ImageFormat fmt = parse_image_format(args.get("--format"));
    const std::string out = args.get("--output");
    if (pos.size() != 2)
        throw Error("plot: expected a capture directory and a figure",
                    "usage: attnscope plot DIR (flow | dashboard | grid | weights --layer L --head H)");
    auto an = analyzer_for({pos[0]}, out);
    const std::string& what = pos[1];
    const long seq = args.integer("--seq", 0, 1L << 40);
    std::string path;
    if (what == "flow")
        path = an->visualize_attention_flow(out, fmt);
    else if (what == "dashboard")
        path = an->visualize_dashboard(out, fmt);
    else if (what == "grid" || what == "heads")
        path = an->visualize_heads_grid(seq, out, fmt);
    else if (what == "weights") {
        for (const char* flag : {"--layer", "--head"})
            if (!args.has(flag))
                throw Error(cat("plot weights: missing ", flag), "e.g. attnscope plot DIR weights --layer 0 --head 1");
        path = an->visualize_attention_weights(int(args.integer("--layer", 0, 4095)), int(args.integer("--head", 0, 4095)),
                                               seq, out, fmt);
    } else
        throw Error(cat("plot: unknown figure '", what, "'"), "choose flow, dashboard, grid or weights");
    std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
    return 0;
}

extern const Verb verb_plot{
    "plot",
    "DIR (flow | dashboard | grid | weights --layer L --head H) [options]",
    "one figure of a capture",
    "Draws one figure of the capture in DIR into OUT (default DIR): attention_flow_visualization (flow), "
    "comprehensive_attention_analysis (dashboard), attention_heads_grid (grid: every head of sequence S as a "
    "thumbnail) or attention_weights_L{L}_H{H} (weights: the heatmap of one head on sequence S).",
    {{"--layer", "L", "", "the layer of `weights`"},
     {"--head", "H", "", "the head of `weights`"},
     {"--seq", "S", "0", "the sequence of `grid` and `weights`"},
     {"--format", "png|svg", "png", "the image format"},
     {"--output", "OUT", "", "the folder to write into; default DIR"}},
    cmd_plot};

} // namespace attnscope::cli
