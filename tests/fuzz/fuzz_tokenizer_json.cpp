// tokenizer.json: loading, then encoding and decoding a fixed text with whatever loaded.
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = attnscope::fuzz::write_input("tokenizer.json", data, size);
    attnscope::fuzz::expect_clean([&] {
        const auto tok = attnscope::Tokenizer::from_tokenizer_json(path);
        const auto ids = tok.encode("Hello world, it's 2026!\n\tThe end.");
        tok.decode(ids);
        tok.display(ids);
    });
    return 0;
}
