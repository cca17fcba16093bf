// attnscope hooks: lists a model's hook points with their shapes.
#include "cli.h"

namespace attnscope::cli {

int cmd_hooks(const Args& args) {
    auto model = Model::load(resolve_model(model_arg(args)).path);
    const ModelConfig& c = model->config();
    for (int ih = 0; ih < kHookCount; ++ih) {
        const Hook h = Hook(ih);
        if (!hook_exists(h, c)) continue;
        const std::string name = hook_is_per_layer(h) ? std::string("blocks.{L}.") + hook_suffix(h) : hook_suffix(h);
        std::printf("%-36s %s\n", name.c_str(), hook_shape(c, h).c_str());
    }
    std::printf("(L = 0..%d, T = tokens of the sequence)\n", c.n_layer - 1);
    return 0;
}

extern const Verb verb_hooks{"hooks",
                             "--model M",
                             "every hook point of a model, with its shape",
                             "Lists every hook point of the model (TransformerLens's names: blocks.{L}.attn.hook_pattern, "
                             "...) with the shape of its value for one sequence of T tokens.",
                             {model_option(), revision_option()},
                             cmd_hooks};

} // namespace attnscope::cli
