// attnscope evolve: head formation over training, from runs of a model's checkpoints on the same texts.
#include "cli.h"
#include "io/json.h"

#include <chrono>

namespace attnscope::cli {

namespace {

// A checkpoint run is complete when its final file exists: the statistics of a stats-only run,
// the manifest of a capture (both are written last, under a temporary name).
bool complete(const std::string& dir, bool stats_only) {
    return std::filesystem::is_regular_file(std::filesystem::path(dir) / (stats_only ? kStatisticsFile : "manifest.json"));
}

// The commit a run's manifest names (its model's snapshot), or "".
std::string commit_of(const std::string& dir) {
    for (const char* f : {"manifest.json", kStatisticsFile}) {
        const std::filesystem::path p = std::filesystem::path(dir) / f;
        if (!std::filesystem::is_regular_file(p)) continue;
        try {
            const nlohmann::json m = std::string(f) == "manifest.json" ? read_json_file(p.string())
                                                                       : nlohmann::json::parse(
                                                                             SafetensorsFile(p.string()).metadata().at(
                                                                                 "manifest"));
            const auto& c = m.at("model").at("commit");
            return c.is_string() ? c.get<std::string>() : "";
        } catch (const std::exception&) {
            return "";
        }
    }
    return "";
}

} // namespace

int cmd_evolve(const Args& args) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string out = args.get("--output");
    std::vector<std::string> dirs = args.positional();
    std::vector<std::string> labels;
    const bool from_model = args.has("--model");
    if (from_model == !dirs.empty())
        throw Error("evolve: give the runs' directories, or --model with --revisions and texts, not both",
                    "attnscope evolve DIR1 DIR2 ...  or  attnscope evolve --model NAME --revisions step0,step1000 "
                    "--input texts.txt");
    if (from_model) {
        const std::vector<std::string> revisions = split_list(args.require("--revisions"));
        if (revisions.size() < 2) throw Error("--revisions: give two revisions or more, e.g. step0,step1000,step2000");
        const std::vector<std::string> texts = texts_of(args, "evolve");
        const bool stats_only = !args.has("--capture");
        RunnerOptions opt = capture_options(args);
        opt.batch_size = int(args.integer("--batch-size", 1, 100000000));
        opt.loss = stats_only;
        opt.force = true; // evolve owns OUT/runs/REV
        // --shard I/N: this task runs the I-th slice of the checkpoints (one per Slurm task), and a
        // last evolve without --shard finds them all done
        ShardInfo shard;
        if (args.has("--shard")) shard = shard_of(args.get("--shard"), int64_t(revisions.size()));
        const std::string model = args.require("--model");
        if (model.find('@') != std::string::npos)
            throw Error(cat("--model ", model, ": evolve takes the revisions from --revisions"), "drop the @REV");
        std::signal(SIGINT, on_sigint);
        std::signal(SIGTERM, on_sigint);
        for (size_t k = 0; k < revisions.size(); ++k) {
            const std::string dir = (std::filesystem::path(out) / "runs" / revisions[k]).string();
            dirs.push_back(dir), labels.push_back(revisions[k]);
            const bool mine = !shard.present() || (int64_t(k) >= shard.first && int64_t(k) < shard.end());
            if (!mine) continue;
            if (complete(dir, stats_only)) {
                std::fprintf(stderr, "attnscope: [%zu/%zu] %s: reusing %s\n", k + 1, revisions.size(),
                             revisions[k].c_str(), dir.c_str());
                continue;
            }
            std::fprintf(stderr, "attnscope: [%zu/%zu] %s\n", k + 1, revisions.size(), revisions[k].c_str());
            RunnerOptions o = opt;
            o.resume = std::filesystem::exists(progress_file(dir)); // an interrupted run continues
            Runner runner(model + "@" + revisions[k], o);
            const PreparedData data = runner.prepare_data(texts, args.integer("--max-length", 1, 100000000, 0));
            if (stats_only)
                runner.run_stats_only(data, dir);
            else
                runner.run_with_hooks(data, dir);
        }
        if (shard.present()) {
            std::fprintf(stderr, "attnscope: shard %s done; run evolve without --shard for the report\n",
                         args.get("--shard").c_str());
            return 0;
        }
    } else {
        for (const auto& d : dirs)
            if (!std::filesystem::is_directory(d))
                throw Error(cat("evolve: ", d, " is not a directory"), "give run or capture directories");
    }
    std::vector<EvolutionPoint> points;
    for (size_t k = 0; k < dirs.size(); ++k) {
        EvolutionPoint p;
        p.dir = dirs[k];
        p.label = k < labels.size() ? labels[k] : std::filesystem::path(dirs[k]).filename().string();
        p.commit = commit_of(dirs[k]);
        const int64_t s = step_of(p.label);
        p.step = s >= 0 ? s : int64_t(k);
        p.analysis = analyzer_for({dirs[k]})->analyze();
        points.push_back(std::move(p));
    }
    const Evolution e = evolve(std::move(points));
    std::filesystem::create_directories(out);
    write_file_atomic(out + "/evolution.json", evolution_json(e).dump(1) + "\n");
    const std::string report = evolution_report(e);
    write_file_atomic(out + "/evolution_report.txt", report);
    render_evolution(e, out + "/evolution.png");
    std::fputs(report.c_str(), stdout);
    std::fprintf(stderr, "attnscope: wrote %s: evolution.json, evolution_report.txt, evolution.png (%.1f s)\n",
                 out.c_str(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
}

extern const Verb verb_evolve{
    "evolve",
    "(DIR ... | --model M --revisions R1,R2,... (--text T ... | --input FILE)) [options]",
    "head formation over training checkpoints",
    "Lines up runs of one model's checkpoints on the same texts by training step: each head's template scores "
    "(previous-token, induction, duplicate-token, sink) and label per step, the step each label first holds, the loss "
    "on the texts, and the phase change — the step at which a head becomes an induction head beside the interval in "
    "which the loss falls fastest (Olsson et al. 2022). With --model, runs each revision (a cached branch such as "
    "step1000) stats-only with the loss into OUT/runs/REV, reusing the runs already there; --shard I/N runs one "
    "slice of the revisions per Slurm task. OUT gets evolution.json, evolution_report.txt and evolution.png.",
    {model_option(),
     {"--revisions", "R1,R2,...", "", "the checkpoints, in any order (sorted by the step in their names)"},
     text_options()[0],
     text_options()[1],
     {"--max-length", "N", "", "truncate texts to N tokens; default the model's context"},
     {"--batch-size", "N", "8", "texts per forward pass"},
     {"--capture", "LIST", "", "capture these hooks per checkpoint instead of the default stats-only runs"},
     {"--shard", "I/N", "", "run only the I-th of N slices of the revisions (one Slurm array task each)"},
     weights_option(),
     {"--no-sync", "", "", "do not wait for each run's files to reach the disk (fsync) before naming them"},
     {"--output", "OUT", "evolution", "the folder to write into (the runs go to OUT/runs/REV)"}},
    cmd_evolve};

} // namespace attnscope::cli
