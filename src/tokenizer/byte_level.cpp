// Helpers every stage shares: GPT-2's byte symbols (each byte written as a printable character in
// byte-level vocabularies: printable Latin-1 as itself, the other 68 bytes from U+0100 on, in
// byte order), Unicode's White_Space as Hugging Face's tokenizers mean it, and the "type" field
// that names a component.
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/stages.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>

namespace attnscope {

namespace {

struct ByteTables {
    uint32_t to_unicode[256];
    int16_t to_byte[324]; // code point -> byte, -1 if it is not a byte symbol (they are all < U+0144)
    ByteTables() {
        // printable ranges map to themselves; the other 68 bytes to U+0100.. in byte order
        auto printable = [](int b) {
            return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b)
            to_unicode[b] = printable(b) ? uint32_t(b) : next++;
        std::fill(std::begin(to_byte), std::end(to_byte), int16_t(-1));
        for (int b = 0; b < 256; ++b)
            to_byte[to_unicode[b]] = int16_t(b);
    }
};
const ByteTables& byte_tables() {
    static const ByteTables t;
    return t;
}

} // namespace

uint32_t byte_to_unicode(uint8_t b) {
    return byte_tables().to_unicode[b];
}

void append_byte_symbol(std::string& out, uint8_t b) {
    append_utf8(out, byte_tables().to_unicode[b]);
}

bool vocab_string_to_bytes(std::string_view s, std::string* out) {
    const auto& to_byte = byte_tables().to_byte;
    out->clear();
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_length(s, i);
        if (n == 0 || n > 2) return false;
        const uint32_t cp = decode_utf8(s, i, n);
        if (cp >= 324 || to_byte[cp] < 0) return false;
        *out += char(to_byte[cp]);
        i += n;
    }
    return true;
}

bool is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string component_type(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) throw Error(cat(where, ": expected an object, found ", j.type_name()));
    auto it = j.find("type");
    if (it == j.end() || !it->is_string()) throw Error(cat(where, ": missing string field 'type'"));
    return it->get<std::string>();
}

} // namespace attnscope
