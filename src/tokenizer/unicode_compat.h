// Where the Unicode versions of GLib and PCRE2 differ from those of Hugging Face's `tokenizers`
// (found by the differential fuzzer, issue #31; tables from tools/unicode/make_tables.py).
//
//   if (normalizer_unassigned(cp)) ...          // NFC must leave cp alone, as the reference does
//   std::string extra = category_additions("L"); // "\x{..}-\x{..}..." for a PCRE2 class
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope {

// A code point assigned after Unicode 9.0: the reference's normalizer treats it as unassigned
// (a starter that neither decomposes nor composes).
bool normalizer_unassigned(uint32_t cp);

// The code points of a general category ("L", "Lu", "N", ...) that PCRE2 10.42 does not know
// (assigned after Unicode 14.0, up to 16.0), as the body of a PCRE2 character class; empty when none, or when
// the category is not a general category.
std::string category_additions(std::string_view category);

} // namespace attnscope
