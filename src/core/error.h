// attnscope::Error — the one exception type the library throws.
//
//   throw Error(cat("tensor '", name, "': expected shape ", shape_str(want), ", found ",
//                   shape_str(got)), "check that the checkpoint matches config.json");
//
// Messages name the file, tensor or argument, what was expected and what was found; the
// optional hint says what the user can do about it. Only the CLI prints and exits.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace attnscope {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& what, std::string hint = {})
        : std::runtime_error(hint.empty() ? what : what + " (hint: " + hint + ")"), hint_(std::move(hint)) {}
    const std::string& hint() const { return hint_; }

  private:
    std::string hint_;
};

// Concatenate anything streamable into one string: cat("layer ", il, " of ", n_layer).
template <typename... Args> std::string cat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

} // namespace attnscope
