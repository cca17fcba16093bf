// UTF-8 validation, shared by the text readers and the tokenizer.
//
//   size_t n = utf8_length(s, i);       // bytes of the valid sequence at s[i], 0 if invalid there
//   size_t bad = find_invalid_utf8(s);  // first invalid byte, or npos
//   append_utf8(out, 0x2581);           // appends "\xE2\x96\x81"
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope {

// Length (1-4) of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid there
// (stray continuation byte, truncated sequence, overlong form, surrogate, beyond U+10FFFF).
size_t utf8_length(std::string_view s, size_t i);
// Byte offset of the first invalid UTF-8 sequence in s, or npos if s is valid.
size_t find_invalid_utf8(std::string_view s);
// Append code point cp (<= U+10FFFF) as UTF-8.
void append_utf8(std::string& out, uint32_t cp);
// The code point of the valid n-byte sequence at s[i] (n from utf8_length).
uint32_t decode_utf8(std::string_view s, size_t i, size_t n);

} // namespace attnscope
