// SentencePiece tokenizer.model (protobuf) and llama2.c tokenizer.bin files made into tokenizers,
// then encoding and decoding a fixed text with whatever loaded.
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (const char* name : {"tokenizer.model", "tokenizer.bin"}) {
        const std::string path = attnscope::fuzz::write_input(name, data, size);
        attnscope::fuzz::expect_clean([&] {
            const auto tok = attnscope::Tokenizer::load(path);
            const auto ids = tok.encode("Once upon a time, <s> there was \xC3\xA9\xF0\x9F\xA6\x99.");
            tok.decode(ids);
            tok.display(ids);
        });
    }
    return 0;
}
