// Model name resolution. Nothing is downloaded: a model is found where the user (or Python's
// huggingface_hub) already put it, and the error for a missing one lists each place tried.
#include "io/resolve.h"

#include "core/error.h"

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

// The snapshot directory of one cached repository, or empty.
fs::path snapshot_of(const fs::path& repo) {
    std::ifstream ref(repo / "refs" / "main");
    std::string rev;
    if (ref && std::getline(ref, rev) && !rev.empty() && rev.find('/') == std::string::npos) {
        const fs::path snap = repo / "snapshots" / rev;
        if (is_model_dir(snap)) return snap;
    }
    // no refs/main (e.g. downloaded by revision): take the newest snapshot that has a config
    fs::path best;
    fs::file_time_type best_time{};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(repo / "snapshots", ec)) {
        if (!is_model_dir(e.path())) continue;
        const auto t = fs::last_write_time(e.path(), ec);
        if (best.empty() || t > best_time) best = e.path(), best_time = t;
    }
    return best;
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

ResolvedModel resolve_model(const std::string& name) {
    if (name.empty())
        throw Error("--model: empty model name", "give a directory, 'tiny', or a Hugging Face name like gpt2");
    std::vector<std::string> looked;
    std::error_code ec;
    if (fs::is_directory(name, ec)) {
        if (!is_model_dir(name))
            throw Error(cat(name, ": a directory, but without config.json"),
                        "a model directory holds config.json, model.safetensors and the tokenizer files");
        return {name, name, "directory"};
    }
    looked.push_back(cat("directory '", name, "' (does not exist)"));
    if (name == "tiny") {
        for (const auto& d : builtin_dirs()) {
            if (is_model_dir(d)) return {name, fs::weakly_canonical(d).string(), "built-in"};
            looked.push_back(cat("built-in model at ", d.string()));
        }
    }
    const fs::path cache = hf_hub_cache();
    if (name.find("..") == std::string::npos)
        for (const auto& folder : cache_folders(name)) {
            const fs::path snap = snapshot_of(cache / folder);
            if (!snap.empty()) return {name, snap.string(), "hf-cache"};
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
            out.push_back({"tiny", fs::weakly_canonical(d).string(), "built-in"});
            break;
        }
    std::error_code ec;
    const fs::path cache = hf_hub_cache();
    for (const auto& e : fs::directory_iterator(cache, ec)) {
        const std::string folder = e.path().filename().string();
        if (folder.rfind("models--", 0) != 0) continue;
        const fs::path snap = snapshot_of(e.path());
        if (snap.empty()) continue;
        std::string name = folder.substr(8);
        if (auto p = name.find("--"); p != std::string::npos) name.replace(p, 2, "/");
        out.push_back({name, snap.string(), "hf-cache"});
    }
    return out;
}

} // namespace attnscope
