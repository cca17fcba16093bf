// Tokenizer encode on arbitrary bytes (invalid UTF-8 included) with the built-in model's
// vocabulary; encode then decode must give the bytes back.
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const attnscope::Tokenizer tok = attnscope::Tokenizer::load(ATTNSCOPE_TINY_MODEL);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    attnscope::fuzz::expect_clean([&] {
        const auto ids = tok.encode(text);
        if (tok.decode(ids) != text) std::abort(); // byte-level BPE must round-trip every byte string
        tok.encode(text);
        tok.encode(text, {.add_special_tokens = false, .parse_special = false});
    });
    return 0;
}
