// What the command-line program's verbs share: parsed arguments, progress on stderr, Ctrl-C,
// and the options several verbs read. Each verb is one function in its own file (cmd_<verb>.cpp),
// listed with its options in main.cpp's command table.
//
//   int cmd_run(const Args& args) {                  // apps/attnscope/cmd_run.cpp
//       Runner runner(args.require("--model", "run"), capture_options(args));
//       ...
//       return 0;                                      // errors are thrown, main() prints them
//   }
#pragma once

#include <attnscope/attnscope.h>

#include "core/files.h"
#include "io/texts.h"
#include "render/compare_view.h"
#include "render/figures.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace attnscope::cli {

struct Args {
    std::vector<std::string> rest;
    bool has(const std::string& flag) const {
        for (const auto& a : rest)
            if (a == flag) return true;
        return false;
    }
    // Every value given after `flag` up to the next option (--text a b --text c -> a, b, c).
    std::vector<std::string> all(const std::string& flag) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < rest.size(); ++i)
            if (rest[i] == flag)
                for (size_t k = i + 1; k < rest.size() && rest[k].rfind("--", 0) != 0; ++k)
                    out.push_back(rest[k]);
        return out;
    }
    std::string get(const std::string& flag) const {
        for (size_t i = 0; i + 1 < rest.size(); ++i)
            if (rest[i] == flag) return rest[i + 1];
        return {};
    }
    // Arguments that are neither options nor the values of `value_flags`.
    std::vector<std::string> positional(const std::vector<std::string>& value_flags) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < rest.size(); ++i) {
            if (rest[i].rfind("--", 0) == 0) {
                for (const auto& f : value_flags)
                    if (rest[i] == f) ++i;
                continue;
            }
            out.push_back(rest[i]);
        }
        return out;
    }
    std::string require(const std::string& flag, const std::string& command) const {
        std::string v = get(flag);
        if (v.empty())
            throw Error(cat(command, ": missing ", flag), cat("usage: attnscope ", command, " ", flag, " DIR"));
        return v;
    }
};

// The shape a hook's value has, as text ("[T, 12, 64]"), for `attnscope hooks`.
std::string hook_shape(const ModelConfig& c, Hook h);

// Set by SIGINT / SIGTERM (on_sigint); long runs stop between batches and exit 130.
extern std::atomic<bool> g_interrupted;
extern "C" void on_sigint(int);

std::string format_duration(double seconds);
// A progress bar on a terminal; a plain line per batch (at most one every few seconds) otherwise.
void show_progress(const Progress& p);
// --weights f32 (widen 16-bit weights at load) or as-stored (the default).
bool weights_f32(const Args& args);
// An analyzer for the commands that draw or print from an analysis: it reuses the summary that
// `analyze` stored (in the first directory or in `out`) and says in one line when it cannot.
std::unique_ptr<AttentionDataAnalyzer> analyzer_for(const std::vector<std::string>& dirs, const std::string& out = "");
// --importance FILE and --prune-max-delta X of analyze and report.
void set_importance_of(AttentionDataAnalyzer& an, const Args& args);
std::string list_of(const std::vector<std::string>& items);
// The texts of --text (repeatable) or --input FILE, for `command`.
std::vector<std::string> texts_of(const Args& args, const char* command);
// What to capture and how (run, generate --output): --capture, --layers, --heads, --dtype,
// --force, --no-sync, --covariance, --weights; progress and warnings on stderr, Ctrl-C between batches.
RunnerOptions capture_options(const Args& args);

// The verbs (one file each).
int cmd_models(const Args& args);
int cmd_run(const Args& args);
int cmd_analyze(const Args& args);
int cmd_demo(const Args& args);
int cmd_view(const Args& args);
int cmd_patch(const Args& args);
int cmd_ablate(const Args& args);
int cmd_compare(const Args& args);
int cmd_convert(const Args& args);
int cmd_generate(const Args& args);
int cmd_serve(const Args& args);
int cmd_plot(const Args& args);
int cmd_report(const Args& args);
int cmd_heads(const Args& args);
int cmd_info(const Args& args);
int cmd_hooks(const Args& args);
int cmd_tokenize(const Args& args);

} // namespace attnscope::cli
