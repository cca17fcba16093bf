// GGUF tokenizers: the metadata reader, then the vocabulary made into a tokenizer, then encoding
// and decoding a fixed text with whatever loaded.
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = attnscope::fuzz::write_input("vocab.gguf", data, size);
    attnscope::fuzz::expect_clean([&] {
        const auto tok = attnscope::Tokenizer::from_gguf(path);
        const auto ids = tok.encode("Hello world, it's 2026! <s>\n\t\xC3\xA9\xF0\x9F\xA6\x99 end.");
        tok.decode(ids);
        tok.display(ids);
    });
    return 0;
}
