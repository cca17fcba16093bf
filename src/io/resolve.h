// Where a model named on the command line lives (docs/design.md §7), in this order:
//   1. an existing directory;
//   2. "tiny", the built-in model (the source tree's models/tiny, or the installed copy);
//   3. the Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub,
//      layout models--{org}--{name}/snapshots/{commit}/, the commit read from refs/main — or, for
//      "NAME@REV" (or a revision argument), from refs/REV (a branch such as Pythia's step1000, or a
//      tag), else REV is a prefix of one snapshot's commit hash.
//
//   ResolvedModel m = resolve_model("gpt2");   // throws Error listing every place it looked
//   Model::load(m.path);
//   resolve_model("EleutherAI/pythia-70m@step1000").commit;   // the snapshot it resolved to
#pragma once

#include <string>
#include <vector>

namespace attnscope {

struct ResolvedModel {
    std::string name;     // as asked for, without "@REV" ("gpt2", "tiny", "./my-model")
    std::string path;     // directory holding config.json
    std::string source;   // "directory", "built-in", "hf-cache"
    std::string revision; // hf-cache: the revision asked for, "main" by default ("" when no refs/main)
    std::string commit;   // hf-cache: the snapshot (commit hash) it resolved to
    std::vector<std::string> revisions; // list_models only: the cache entry's refs, "REF=COMMIT7"
};

// `name` may end in "@REV"; `revision` (when not empty) says the same, and must agree with it.
// An unknown revision is refused in one line listing the ones present.
ResolvedModel resolve_model(const std::string& name, const std::string& revision = "");
// Every model that can be found without a path: the built-in one and the HF cache's.
std::vector<ResolvedModel> list_models();
// The HF hub cache directory in use (may not exist).
std::string hf_hub_cache();

} // namespace attnscope
