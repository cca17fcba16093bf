// attnscope models: lists the models attnscope can find: the built-in one and those in the Hugging Face cache.
#include "cli.h"

namespace attnscope::cli {

int cmd_models(const Args&) {
    const auto found = list_models();
    if (found.empty())
        std::printf("no models found (built-in model missing; Hugging Face cache %s is empty)\n",
                    hf_hub_cache().c_str());
    for (const auto& m : found) {
        std::printf("%-28s %-9s %s\n", m.name.c_str(), m.source.c_str(), m.path.c_str());
        if (m.revisions.size() > 1 || (m.revisions.size() == 1 && m.revisions[0].rfind("main=", 0) != 0)) {
            std::string list; // e.g. "main=1a2b3c4, step0=..., step1000=..."
            for (const auto& r : m.revisions)
                list += (list.empty() ? "" : ", ") + r;
            std::printf("%-28s revisions (%zu): %s\n", "", m.revisions.size(), list.c_str());
        }
    }
    return 0;
}

extern const Verb verb_models{"models",
                              "",
                              "list the models found without a path",
                              "Lists the built-in model and the models in the Hugging Face cache ($HF_HUB_CACHE, "
                              "$HF_HOME/hub or ~/.cache/huggingface/hub), with where each is, and the revisions "
                              "cached for each (REF=COMMIT; pick one with --model NAME@REF or --revision REF).",
                              {},
                              cmd_models};

} // namespace attnscope::cli
