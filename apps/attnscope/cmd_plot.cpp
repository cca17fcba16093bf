// attnscope plot and report: draws one figure of a capture; `report` draws all of them with the report.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

static int plot_or_report(const Args& args, const std::string& command) {
    const auto pos =
        args.positional({"--output", "--format", "--layer", "--head", "--seq", "--importance", "--prune-max-delta"});
    const ImageFormat fmt = parse_image_format(args.get("--format"));
    const std::string out = args.get("--output");
    auto integer = [&](const char* flag, long fallback) {
        const std::string v = args.get(flag);
        if (v.empty()) {
            if (fallback >= 0) return fallback;
            throw Error(cat("plot weights: missing ", flag), "e.g. attnscope plot DIR weights --layer 0 --head 1");
        }
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (*end || n < 0) throw Error(cat(flag, ": expected a number from 0, found '", v, "'"));
        return n;
    };
    if (command == "report") {
        if (pos.empty()) throw Error("report: no capture directory given", "usage: attnscope report DIR [DIR ...]");
        auto an = analyzer_for(pos, out);
        set_importance_of(*an, args);
        for (const auto& path : an->create_comprehensive_report(out, fmt))
            std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
        return 0;
    }
    if (pos.size() != 2)
        throw Error("plot: expected a capture directory and a figure",
                    "usage: attnscope plot DIR (flow | dashboard | grid | weights --layer L --head H)");
    auto an = analyzer_for({pos[0]}, out);
    const std::string& what = pos[1];
    std::string path;
    if (what == "flow")
        path = an->visualize_attention_flow(out, fmt);
    else if (what == "dashboard")
        path = an->visualize_dashboard(out, fmt);
    else if (what == "grid" || what == "heads")
        path = an->visualize_heads_grid(integer("--seq", 0), out, fmt);
    else if (what == "weights")
        path = an->visualize_attention_weights(int(integer("--layer", -1)), int(integer("--head", -1)),
                                               integer("--seq", 0), out, fmt);
    else
        throw Error(cat("plot: unknown figure '", what, "'"), "choose flow, dashboard, grid or weights");
    std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
    return 0;
}

int cmd_plot(const Args& args) {
    return plot_or_report(args, "plot");
}

int cmd_report(const Args& args) {
    return plot_or_report(args, "report");
}

} // namespace attnscope::cli
