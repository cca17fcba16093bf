// attnscope view: writes the self-contained interactive viewer of a capture.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_view(const Args& args) {
    const auto pos = args.positional({"--output", "--sequences", "--max-mb"});
    if (pos.size() != 1) throw Error("view: expected one capture directory", "usage: attnscope view DIR");
    const std::string n = args.get("--sequences"), mb = args.get("--max-mb");
    char* end = nullptr;
    const long ns = n.empty() ? 8 : std::strtol(n.c_str(), &end, 10);
    if (!n.empty() && (*end || ns < 1 || ns > 10000))
        throw Error(cat("--sequences: expected a number from 1 to 10000, found '", n, "'"));
    const double max_mb = mb.empty() ? 64 : std::strtod(mb.c_str(), &end);
    if (!mb.empty() && (*end || !(max_mb >= 1 && max_mb <= 65536)))
        throw Error(cat("--max-mb: expected a size in MiB from 1 to 65536, found '", mb, "'"));
    auto an = analyzer_for({pos[0]}, args.get("--output"));
    const std::string path = an->create_viewer(args.get("--output"), int(ns), max_mb);
    std::fprintf(stderr, "attnscope: wrote %s (%.1f MB)\n", path.c_str(),
                 double(std::filesystem::file_size(path)) / 1e6);
    return 0;
}

} // namespace attnscope::cli
