// Error helpers: adding context to an error as it travels up (file name, then tensor name).
#include "core/error.h"

namespace attnscope {

void rethrow_with_context(const Error& e, const std::string& context) {
    std::string what = e.what();
    // keep the hint where it was: at the end of the message, added once by the constructor
    const std::string& hint = e.hint();
    if (!hint.empty()) {
        const std::string suffix = " (hint: " + hint + ")";
        if (what.size() >= suffix.size() && what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0)
            what.resize(what.size() - suffix.size());
    }
    throw Error(context + what, hint);
}

} // namespace attnscope
