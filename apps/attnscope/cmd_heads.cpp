// attnscope heads: prints the head taxonomy of captures, or of a probe with repeated random tokens.
#include "cli.h"

namespace attnscope::cli {

int cmd_heads(const Args& args) {
    const auto dirs = args.positional();
    const std::string model = args.get("--model");
    AnalysisResult r;
    if (!model.empty()) {
        if (!dirs.empty()) throw Error("heads: give capture directories or --model, not both");
        ProbeOptions po;
        po.n_sequences = int(args.integer("--sequences", 1, 100000));
        po.block = int(args.integer("--block", 2, 1 << 20));
        po.seed = uint64_t(args.integer("--seed", 0, 2147483647));
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

extern const Verb verb_heads{
    "heads",
    "(DIR ... | --model M) [options]",
    "the head taxonomy table, of captures or of a model probed",
    "Prints each head's label (previous_token, induction, duplicate_token, self, sink, local, broad, mixed) with "
    "its scores, from capture directories, or, with --model, by probing the model itself on N random blocks of "
    "B tokens repeated twice.",
    {{"--model", "M", "", "probe this model instead of reading captures"},
     {"--sequences", "N", "32", "with --model: how many probe sequences"},
     {"--block", "B", "50", "with --model: the length of the repeated block"},
     {"--seed", "S", "2", "with --model: the seed of the random blocks"},
     {"--json", "", "", "print JSON (layer, head, label, scores) instead of the table"}},
    cmd_heads};

} // namespace attnscope::cli
