// attnscope info: prints a model's configuration.
#include "cli.h"

namespace attnscope::cli {

int cmd_info(const Args& args) {
    auto model = Model::load(resolve_model(model_arg(args)).path);
    std::fputs(model->summary().c_str(), stdout);
    return 0;
}

extern const Verb verb_info{"info",
                            "--model M",
                            "a model's summary: architecture, sizes, parameters, weights",
                            "Prints a model's summary: its family, layers, heads, widths, vocabulary, context, "
                            "parameters and how its weights are stored.",
                            {model_option(), revision_option()},
                            cmd_info};

} // namespace attnscope::cli
