// attnscope report: analyze + every figure + the viewer, in one command, for one capture or the
// shards of one corpus (stats-only directories get the report, summary, flow and dashboard).
#include "cli.h"

namespace attnscope::cli {

int cmd_report(const Args& args) {
    const auto pos = args.positional();
    if (pos.empty()) throw Error("report: no capture directory given", "usage: attnscope report DIR [DIR ...]");
    const std::string out = args.get("--output");
    auto an = analyzer_for(pos, out);
    set_importance_of(*an, args);
    for (const auto& path : an->create_comprehensive_report(out, parse_image_format(args.get("--format"))))
        std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
    return 0;
}

extern const Verb verb_report{
    "report",
    "DIR [DIR ...] [options]",
    "analyze, every figure and the viewer, in one command",
    "Runs analyze on the directories (a capture, or the shards of one corpus), then draws every figure and "
    "writes the viewer, into OUT (default: the first DIR). For stats-only directories: the report, the summary, "
    "the flow and the dashboard.",
    join({{{"--output", "OUT", "", "the folder to write into; default the first DIR"},
           {"--format", "png|svg", "png", "the figures' image format"}},
          importance_option_list()}),
    cmd_report};

} // namespace attnscope::cli
