// Model name resolution. Nothing is downloaded: a model is found where the user (or Python's
// huggingface_hub) already put it, and the error for a missing one lists each place tried.
#include "io/resolve.h"

#include "core/error.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace attnscope {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// Candidate locations of the built-in tiny model, most specific first.
std::vector<fs::path> builtin_dirs() {
    std::vector<fs::path> out;
    if (auto e = env("ATTNSCOPE_MODELS"); !e.empty()) out.push_back(fs::path(e) / "tiny");
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        out.push_back(exe.parent_path() / ".." / "share" / "attnscope" / "models" / "tiny"); // installed
        out.push_back(exe.parent_path() / "models" / "tiny");
    }
#ifdef ATTNSCOPE_SOURCE_MODELS
    out.push_back(fs::path(ATTNSCOPE_SOURCE_MODELS) / "tiny"); // the source tree, for the build tree
#endif
    return out;
}

bool is_model_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p / "config.json", ec);
}

// The refs of one cached repository: file refs/REF holds the commit REF resolved to when it was
// downloaded ("main", "step1000", "pr/1"), sorted by name.
std::vector<std::pair<std::string, std::string>> refs_of(const fs::path& repo) {
    std::vector<std::pair<std::string, std::string>> out;
    std::error_code ec;
    const fs::path refs = repo / "refs";
    for (auto it = fs::recursive_directory_iterator(refs, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        std::ifstream f(it->path());
        std::string commit;
        if (f && std::getline(f, commit) && !commit.empty() && commit.find('/') == std::string::npos)
            out.emplace_back(fs::relative(it->path(), refs, ec).generic_string(), commit);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The snapshot of repo for `revision` (empty: refs/main, else the newest snapshot with a config),
// filling m.path, m.revision and m.commit; false when the repository has no usable snapshot.
bool resolve_snapshot(const fs::path& repo, const std::string& name, const std::string& revision,
                      ResolvedModel& m) {
    std::error_code ec;
    if (!fs::is_directory(repo / "snapshots", ec)) return false;
    const auto refs = refs_of(repo);
    auto found = [&](const std::string& rev, const std::string& commit) {
        m = {name, (repo / "snapshots" / commit).string(), "hf-cache", rev, commit, {}};
        return true;
    };
    const std::string want = revision.empty() ? "main" : revision;
    for (const auto& [ref, commit] : refs)
        if (ref == want) {
            if (is_model_dir(repo / "snapshots" / commit)) return found(ref, commit);
            throw Error(cat("model '", name, "' revision '", ref, "': refs/", ref, " names commit ", commit,
                            ", whose snapshot in ", repo.string(), " is missing or has no config.json"),
                        "the download was interrupted: fetch that revision again");
        }
    std::vector<std::string> snapshots;
    for (const auto& e : fs::directory_iterator(repo / "snapshots", ec))
        if (is_model_dir(e.path())) snapshots.push_back(e.path().filename().string());
    std::sort(snapshots.begin(), snapshots.end());
    if (revision.empty()) { // no refs/main (e.g. downloaded by revision): the newest snapshot
        fs::path best;
        fs::file_time_type best_time{};
        for (const auto& c : snapshots) {
            const auto t = fs::last_write_time(repo / "snapshots" / c, ec);
            if (best.empty() || t > best_time) best = c, best_time = t;
        }
        return !best.empty() && found("", best.string());
    }
    // a commit hash, or an unambiguous prefix of one (at least 4 hex digits)
    std::vector<std::string> matches;
    const bool hex = revision.size() >= 4 && revision.find_first_not_of("0123456789abcdef") == std::string::npos;
    for (const auto& c : snapshots)
        if (hex && c.rfind(revision, 0) == 0) matches.push_back(c);
    if (matches.size() == 1) {
        for (const auto& [ref, commit] : refs) // name the commit by a ref when one points at it
            if (commit == matches[0]) return found(ref, commit);
        return found(revision, matches[0]);
    }
    std::string present;
    for (const auto& [ref, commit] : refs)
        present += cat(present.empty() ? "" : ", ", ref, " (", commit.substr(0, 7), ")");
    for (const auto& c : snapshots)
        if (std::none_of(refs.begin(), refs.end(), [&](const auto& r) { return r.second == c; }))
            present += cat(present.empty() ? "" : ", ", c.substr(0, 7));
    if (matches.size() > 1)
        throw Error(cat("model '", name, "': revision '", revision, "' is the prefix of ", matches.size(),
                        " commits (", matches[0].substr(0, 12), ", ", matches[1].substr(0, 12), ", ...)"),
                    "give more digits of the commit hash");
    throw Error(cat("model '", name, "' has no revision '", revision, "' in the Hugging Face cache (", repo.string(),
                    "); present: ", present.empty() ? "none" : present),
                cat("download it once with Python (huggingface_hub.snapshot_download('", name, "', revision='",
                    revision, "'))"));
}

// Cache folder names to try for a model name: "org/name" -> models--org--name; a bare name also
// under the organisations that now host the GPT-2 family on the hub.
std::vector<std::string> cache_folders(const std::string& name) {
    std::string folded = name;
    for (size_t p; (p = folded.find('/')) != std::string::npos;)
        folded.replace(p, 1, "--");
    std::vector<std::string> out = {"models--" + folded};
    if (name.find('/') == std::string::npos)
        for (const char* org : {"openai-community", "distilbert"})
            out.push_back(std::string("models--") + org + "--" + name);
    return out;
}

} // namespace

std::string hf_hub_cache() {
    if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
    if (auto v = env("HF_HOME"); !v.empty()) return (fs::path(v) / "hub").string();
    const std::string home = env("HOME");
    return (fs::path(home.empty() ? "/root" : home) / ".cache" / "huggingface" / "hub").string();
}

ResolvedModel resolve_model(const std::string& asked, const std::string& revision_arg) {
    if (asked.empty())
        throw Error("--model: empty model name", "give a directory, 'tiny', or a Hugging Face name like gpt2");
    std::vector<std::string> looked;
    std::error_code ec;
    auto no_revision = [&](const std::string& what) {
        if (!revision_arg.empty())
            throw Error(cat("--revision ", revision_arg, ": '", asked, "' is ", what,
                            "; revisions select Hugging Face cache entries"),
                        "drop the revision, or name the model as it is cached (e.g. EleutherAI/pythia-70m)");
    };
    if (fs::is_directory(asked, ec)) {
        if (!is_model_dir(asked))
            throw Error(cat(asked, ": a directory, but without config.json"),
                        "a model directory holds config.json, model.safetensors and the tokenizer files");
        no_revision("a directory");
        return {asked, asked, "directory", "", "", {}};
    }
    // NAME@REV
    std::string name = asked, revision = revision_arg;
    if (const size_t at = asked.rfind('@'); at != std::string::npos && at > 0) {
        name = asked.substr(0, at);
        const std::string rev = asked.substr(at + 1);
        if (rev.empty()) throw Error(cat("--model ", asked, ": nothing after '@'"), "write NAME@REVISION, e.g. @step1000");
        if (!revision.empty() && revision != rev)
            throw Error(cat("--model ", asked, " names revision '", rev, "' but --revision says '", revision, "'"),
                        "give the revision once");
        revision = rev;
    }
    if (revision.find("..") != std::string::npos || revision.rfind('/', 0) == 0)
        throw Error(cat("revision '", revision, "': not a branch, tag or commit name"));
    looked.push_back(cat("directory '", name, "' (does not exist)"));
    if (name == "tiny") {
        for (const auto& d : builtin_dirs()) {
            if (is_model_dir(d)) {
                if (!revision.empty()) throw Error(cat("model 'tiny' (built in) has no revisions; asked for '", revision, "'"));
                return {name, fs::weakly_canonical(d).string(), "built-in", "", "", {}};
            }
            looked.push_back(cat("built-in model at ", d.string()));
        }
    }
    const fs::path cache = hf_hub_cache();
    if (name.find("..") == std::string::npos)
        for (const auto& folder : cache_folders(name)) {
            ResolvedModel m;
            if (resolve_snapshot(cache / folder, name, revision, m)) return m;
            looked.push_back(cat("Hugging Face cache ", (cache / folder).string()));
        }
    std::string where;
    for (const auto& l : looked)
        where += (where.empty() ? "" : "; ") + l;
    throw Error(cat("model '", name, "' not found; looked in: ", where),
                cat("download it once with Python (huggingface_hub.snapshot_download('", name,
                    "')), or pass the directory that holds config.json; 'attnscope models' lists what is available"));
}

std::vector<ResolvedModel> list_models() {
    std::vector<ResolvedModel> out;
    for (const auto& d : builtin_dirs())
        if (is_model_dir(d)) {
            out.push_back({"tiny", fs::weakly_canonical(d).string(), "built-in", "", "", {}});
            break;
        }
    std::error_code ec;
    const fs::path cache = hf_hub_cache();
    std::vector<fs::path> repos;
    for (const auto& e : fs::directory_iterator(cache, ec))
        if (e.path().filename().string().rfind("models--", 0) == 0) repos.push_back(e.path());
    std::sort(repos.begin(), repos.end());
    for (const auto& repo : repos) {
        std::string name = repo.filename().string().substr(8);
        if (auto p = name.find("--"); p != std::string::npos) name.replace(p, 2, "/");
        ResolvedModel m;
        try {
            if (!resolve_snapshot(repo, name, "", m)) continue;
        } catch (const Error&) { // refs/main names a missing snapshot: listed, not resolvable
            continue;
        }
        for (const auto& [ref, commit] : refs_of(repo))
            m.revisions.push_back(cat(ref, "=", commit.substr(0, 7)));
        out.push_back(m);
    }
    return out;
}

} // namespace attnscope
