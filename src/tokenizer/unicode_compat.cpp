// Lookups in the generated Unicode tables (unicode_tables.inc): a binary search over sorted
// ranges for the normalizer, and PCRE2 class text for a general category (one letter means all
// its two-letter categories, as \p{L} does).
#include "tokenizer/unicode_compat.h"

#include "tokenizer/unicode_tables.inc"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace attnscope {

bool normalizer_unassigned(uint32_t cp) {
    const auto* begin = std::begin(unicode::kNormalizerUnassigned);
    const auto* end = std::end(unicode::kNormalizerUnassigned);
    const auto* it = std::upper_bound(begin, end, cp, [](uint32_t c, const unicode::CodePointRange& r) {
        return c < r.first;
    }); // the first range starting after cp: the one before may hold it
    return it != begin && cp <= std::prev(it)->last;
}

std::string category_additions(std::string_view category) {
    if (category.empty() || category.size() > 2) return {};
    std::string out;
    char buf[40];
    for (const auto& a : unicode::kCategoryAdded) {
        const std::string_view name(a.category);
        if (category.size() == 1 ? name[0] != category[0] : name != category) continue;
        for (int i = 0; i < a.count; ++i) {
            const auto& r = a.ranges[i];
            if (r.first == r.last) std::snprintf(buf, sizeof buf, "\\x{%X}", unsigned(r.first));
            else std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", unsigned(r.first), unsigned(r.last));
            out += buf;
        }
    }
    return out;
}

} // namespace attnscope
