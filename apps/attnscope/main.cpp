// The attnscope command-line program: the list of verbs (each one's record and function live in
// cmd_<verb>.cpp), the global options, and dispatch; any exception becomes one line on stderr
// and a non-zero exit code. No analysis happens here.
#include "cli.h"

#include <malloc.h>

using namespace attnscope;
using namespace attnscope::cli;

namespace attnscope::cli {

const std::vector<const Verb*>& verbs() {
    static const std::vector<const Verb*> list = {
        &verb_run,     &verb_analyze, &verb_report,   &verb_plot,     &verb_view,     &verb_serve,
        &verb_heads,   &verb_ablate,  &verb_patch,    &verb_compare,  &verb_evolve,  &verb_generate, &verb_convert,
        &verb_tokenize, &verb_models, &verb_info,     &verb_hooks,    &verb_demo,     &verb_help};
    return list;
}

const std::vector<Option>& global_options() {
    static const std::vector<Option> list = {
        {"--threads", "N", "0", "threads for matrix products and attention; 0: all cores"},
        {"--version", "", "", "print the version and exit"},
        {"--help", "", "", "the list of commands (-h too); after a command, that command's help"}};
    return list;
}

} // namespace attnscope::cli

namespace {

int run(int argc, char** argv) {
    std::vector<std::string> rest;
    bool help = false;
    int threads = 0;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--version") {
            std::printf("attnscope %s\n", version());
            return 0;
        }
        if (a == "-h" || a == "--help") {
            help = true;
            continue;
        }
        if (a == "--threads") {
            if (i + 1 >= argc) throw Error("--threads: missing value", "e.g. --threads 4");
            const std::string v = argv[++i];
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end || n < 0 || n > 4096)
                throw Error(cat("--threads: expected a number of threads from 0 (all cores) to 4096, found '", v, "'"));
            threads = int(n);
            continue;
        }
        if (command.empty() && a.rfind("-", 0) != 0)
            command = a;
        else
            rest.push_back(a);
    }
    set_num_threads(threads);
    if (command.empty()) {
        std::fputs(usage_text().c_str(), help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const auto& list = verbs();
    const auto it = std::find_if(list.begin(), list.end(), [&](const Verb* v) { return command == v->name; });
    if (it == list.end()) throw Error(cat("unknown command '", command, "'"), "attnscope --help lists the commands");
    if (help) {
        std::fputs(help_of(**it).c_str(), stdout);
        return 0;
    }
    return (*it)->run(Args(**it, std::move(rest)));
}

} // namespace

int main(int argc, char** argv) {
    // A fixed mmap threshold: glibc otherwise raises it after each large free, and long runs then
    // keep freed buffers in the heap, so peak memory creeps up with the number of texts.
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    try {
        return run(argc, argv);
    } catch (const Error& e) {
        if (::isatty(2)) std::fputc('\n', stderr); // leave a progress bar's line
        std::fprintf(stderr, "attnscope: error: %s\n", e.what());
        return g_interrupted ? 130 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "attnscope: internal error: %s\n", e.what());
        return 3;
    }
}
