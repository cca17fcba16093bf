// attnscope info: prints a model's configuration.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_info(const Args& args) {
    auto model = Model::load(resolve_model(args.require("--model", "info")).path);
    std::fputs(model->summary().c_str(), stdout);
    return 0;
}

} // namespace attnscope::cli
