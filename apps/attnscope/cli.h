// What the command-line program's verbs share: the record that describes a verb, parsed
// arguments, progress on stderr, Ctrl-C, and the options several verbs read. Each verb is one
// file, cmd_<verb>.cpp, holding its function and its record; `attnscope --help`, `attnscope VERB
// --help`, the option check and docs/cli.md (`attnscope help --markdown`) are all made from the
// records, so they cannot drift apart.
//
//   int cmd_info(const Args& args) {                     // apps/attnscope/cmd_info.cpp
//       auto model = Model::load(resolve_model(args.require("--model")).path);
//       std::fputs(model->summary().c_str(), stdout);
//       return 0;                                         // errors are thrown, main() prints them
//   }
//   extern const Verb verb_info{"info", "--model M", "print a model's summary", "...",
//                               {model_option()}, cmd_info};
#pragma once

#include <attnscope/attnscope.h>

#include "core/files.h"
#include "io/texts.h"
#include "render/compare_view.h"
#include "render/figures.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
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

// One option of a verb. `value` names its value ("N", "DIR"; empty for a switch; ending in
// "..." when it takes several words, as --text a b). `fallback` is the value the verb uses when
// the option is not given, and what the help shows as its default; empty when there is none or
// it depends on something else (then `help` says what).
struct Option {
    std::string flag, value, fallback, help;
};

struct Args;

// One verb: its name, what follows the name on the command line, a one-line summary (the verb
// list of `attnscope --help`), a paragraph (`attnscope VERB --help`, docs/cli.md), its options
// and its function.
struct Verb {
    std::string name, synopsis, summary, description;
    std::vector<Option> options;
    int (*run)(const Args&);
    const Option* option(const std::string& flag) const;
};

// Every verb, in the order of `attnscope --help` (main.cpp).
const std::vector<const Verb*>& verbs();
// The options before the verb (--threads, --version, --help).
const std::vector<Option>& global_options();
// The help texts made from the records (cmd_help.cpp): the program's, one verb's, and all of it as
// the Markdown of docs/cli.md.
std::string usage_text();
std::string help_of(const Verb& verb);
std::string cli_markdown();

// Options several verbs share, each written once; join() puts lists together into one record's.
std::vector<Option> join(const std::vector<std::vector<Option>>& parts);
Option model_option();
Option revision_option();
// --model, with --revision appended as "@REV" when given.
std::string model_arg(const Args& args);
std::vector<Option> text_options();    // --text T ..., --input FILE
std::vector<Option> capture_option_list(); // run, generate --output: what to capture and how
Option weights_option();
std::vector<Option> importance_option_list(); // analyze, report: --importance, --prune-max-delta

// The arguments after the verb, checked against its record: no unknown option, every option that
// takes a value has one.
struct Args {
    const Verb* verb; // never null
    std::vector<std::string> rest;
    Args(const Verb& v, std::vector<std::string> words); // checks the words against v's record
    // Given on the command line.
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
    // The value given after `flag`, else the record's fallback ("" when it has none).
    std::string get(const std::string& flag) const;
    // Arguments that are neither options nor the value of an option that takes one.
    std::vector<std::string> positional() const;
    // get(flag), which must not be empty.
    std::string require(const std::string& flag) const;
    // get(flag) as an integer or a number in [lo, hi]; `fallback` when it is empty.
    long integer(const std::string& flag, long lo, long hi, long fallback = 0) const;
    double number(const std::string& flag, double lo, double hi, double fallback = 0) const;
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

// The verbs (one file each: the function and its record).
extern const Verb verb_run, verb_analyze, verb_report, verb_plot, verb_view, verb_serve, verb_heads, verb_ablate,
    verb_patch, verb_compare, verb_evolve, verb_generate, verb_convert, verb_tokenize, verb_models, verb_info, verb_hooks, verb_demo,
    verb_help;

} // namespace attnscope::cli
