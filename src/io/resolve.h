// Where a model named on the command line lives (docs/design.md §7), in this order:
//   1. an existing directory;
//   2. "tiny", the built-in model (the source tree's models/tiny, or the installed copy);
//   3. the Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub,
//      layout models--{org}--{name}/snapshots/{revision}/ with the revision read from refs/main.
//
//   ResolvedModel m = resolve_model("gpt2");   // throws Error listing every place it looked
//   Model::load(m.path);
#pragma once

#include <string>
#include <vector>

namespace attnscope {

struct ResolvedModel {
    std::string name;   // as asked for ("gpt2", "tiny", "./my-model")
    std::string path;   // directory holding config.json
    std::string source; // "directory", "built-in", "hf-cache"
};

ResolvedModel resolve_model(const std::string& name);
// Every model that can be found without a path: the built-in one and the HF cache's.
std::vector<ResolvedModel> list_models();
// The HF hub cache directory in use (may not exist).
std::string hf_hub_cache();

} // namespace attnscope
