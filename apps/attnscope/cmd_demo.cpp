// attnscope demo: runs the built-in model on a few texts and writes every output file, with a mean ablation of every
// head.
#include "cli.h"

namespace attnscope::cli {

int cmd_demo(const Args& args) {
    const std::string out = args.get("--output");
    // a rerun may overwrite attnscope's own files, never a directory that holds anything else
    if (std::filesystem::is_directory(out) && !std::filesystem::is_empty(out) &&
        !std::filesystem::exists(std::filesystem::path(out) / "manifest.json"))
        throw Error(cat(out, ": exists, is not empty and is not an attnscope capture"),
                    "choose another directory with --output");
    const std::vector<std::string> texts = {
        "The State of the Union is strong, and the people of this nation have built it with their own hands.",
        "We must keep faith with the men and women who serve, and we must keep our word to the nations who "
        "stand with us.",
        "Congress has a duty to the people: to spend their money with care, and to account for every dollar.",
        // repeats itself: the second and third copies are where induction heads show
        "liberty treaty harbor railroad tariff revenue frontier liberty treaty harbor railroad tariff revenue "
        "frontier liberty treaty harbor railroad tariff revenue frontier",
        "Peace, prosperity and liberty: these are the ends of government, and the measure of our work."};
    // the built-in model itself, even if the current directory holds a folder named "tiny"
    std::string builtin;
    for (const auto& m : list_models())
        if (m.source == "built-in" && builtin.empty()) builtin = m.path;
    if (builtin.empty())
        throw Error("demo: the built-in model is missing",
                    "build from the source tree (models/tiny) or install attnscope with cmake --install");
    RunnerOptions opt;
    opt.force = true;
    opt.on_progress = show_progress;
    Runner runner(builtin, opt);
    std::fprintf(stderr, "attnscope demo: the built-in model (%s), %zu texts -> %s/\n", runner.resolved().path.c_str(),
                 texts.size(), out.c_str());
    const PreparedData data = runner.prepare_data(texts);
    const CaptureSummary cs = runner.run_with_hooks(data, out);
    AttentionDataAnalyzer an(out);
    // the recommendations' evidence: mean ablation of every head (zeroing layer-0 heads is far
    // off the model's distribution), then of the heads still suggested for pruning, together
    AblateOptions ao;
    ao.targets = parse_ablation_targets("all", runner.model().config());
    ao.method = AblationMethod::mean;
    HeadImportance imp = runner.ablate(data, ao);
    AnalysisResult trial = an.analyze();
    attach_importance(trial, imp, "head_importance.json");
    if (trial.importance.group.find('+') != std::string::npos) {
        ao.targets = parse_ablation_targets(trial.importance.group, runner.model().config());
        const HeadImportance group = runner.ablate(data, ao);
        imp.results.push_back(group.results.at(0));
    }
    const std::string imp_path = (std::filesystem::path(out) / "head_importance.json").string();
    write_file_atomic(imp_path, head_importance_json(imp).dump(1) + "\n");
    write_file_atomic((std::filesystem::path(out) / "ablation_report.txt").string(), head_importance_report(imp));
    render_head_importance(imp, (std::filesystem::path(out) / "head_importance.png").string());
    an.set_importance(imp_path);
    const auto paths = an.create_comprehensive_report(out);
    const AnalysisResult probe = runner.probe_heads();
    std::string table = "Heads of the built-in model, probed with repeated random tokens:\n" + heads_table(probe);
    write_file_atomic((std::filesystem::path(out) / "heads_probe.txt").string(), table);
    std::printf("%s\n", table.c_str());
    const AnalysisResult& r = an.analyze();
    std::printf("Findings on the demo texts:\n");
    for (size_t k = 0; k < r.recommendations.size() && k < 4; ++k)
        std::printf("  - %s\n", r.recommendations[k].c_str());
    std::printf("\nWrote %s/: the capture (%lld tensors, %.1f MB), %zu report files, heads_probe.txt, "
                "head_importance.json.\n"
                "Open %s/attention_view.html in a browser; the report is %s/%s.\n",
                out.c_str(), (long long)cs.n_tensors, double(cs.bytes) / 1e6, paths.size(), out.c_str(), out.c_str(),
                kReportFile);
    return 0;
}

extern const Verb verb_demo{
    "demo",
    "[--output DIR]",
    "the whole pipeline on the built-in model and built-in texts",
    "Runs the whole pipeline on the built-in model and five built-in texts (one repeats itself, where induction "
    "heads show): capture, mean ablation of every head (head_importance.json: the recommendations' measured "
    "costs), analysis, every figure, the viewer and the head probe, into DIR.",
    {{"--output", "DIR", "attnscope-demo", "the folder to write into"}},
    cmd_demo};

} // namespace attnscope::cli
