// comparison_view.html: two captures' matched heads side by side on the same text.
//
//   Comparison c = compare_captures({"run-a", "run-b"});
//   write_comparison_view(c, /*pair*/ 0, "comparison/comparison_view.html", /*texts*/ 3);
//
// Self-contained (no request of any kind), like attention_view.html; see compare_view.cpp.
#pragma once

#include "analysis/compare.h"

#include <string>

namespace attnscope {

// Writes the page for pair `pair` of `c` with its first `max_sequences` texts; returns its bytes.
int64_t write_comparison_view(const Comparison& c, size_t pair, const std::string& path, int max_sequences = 3);

} // namespace attnscope
