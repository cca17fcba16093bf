// attnscope heads: prints the head taxonomy of captures, or of a probe with repeated random tokens.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_heads(const Args& args) {
    const auto dirs = args.positional({"--model", "--sequences", "--block", "--seed"});
    const std::string model = args.get("--model");
    AnalysisResult r;
    if (!model.empty()) {
        if (!dirs.empty()) throw Error("heads: give capture directories or --model, not both");
        ProbeOptions po;
        auto number = [&](const char* flag, long fallback, long lo, long hi) {
            const std::string v = args.get(flag);
            if (v.empty()) return fallback;
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (*end || n < lo || n > hi)
                throw Error(cat(flag, ": expected a number from ", lo, " to ", hi, ", found '", v, "'"));
            return n;
        };
        po.n_sequences = int(number("--sequences", po.n_sequences, 1, 100000));
        po.block = int(number("--block", po.block, 2, 1 << 20));
        po.seed = uint64_t(number("--seed", long(po.seed), 0, 2147483647));
        Runner runner(model);
        r = runner.probe_heads(po);
    } else {
        if (dirs.empty()) throw Error("heads: nothing to analyse", "give capture directories or --model M");
        r = analyzer_for(dirs)->analyze();
    }
    if (args.has("--json")) {
        nlohmann::ordered_json j = summary_json(r);
        nlohmann::ordered_json heads = nlohmann::ordered_json::array();
        for (auto& L : j["layers"])
            for (auto& h : L["heads"]) {
                nlohmann::ordered_json e = {{"layer", L["layer"]},
                                            {"head", h["head"]},
                                            {"label", h["label"]},
                                            {"scores", h["scores"]},
                                            {"template_scores", h["template_scores"]}};
                heads.push_back(e);
            }
        std::printf("%s\n", heads.dump(1).c_str());
    } else {
        for (const auto& n : r.notes)
            std::printf("note: %s\n", n.c_str());
        std::fputs(heads_table(r).c_str(), stdout);
    }
    return 0;
}

} // namespace attnscope::cli
