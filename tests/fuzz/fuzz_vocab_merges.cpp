// vocab.json + merges.txt: the input is split at its first 0 byte into the two files.
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t* cut = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t n1 = cut ? size_t(cut - data) : size;
    const std::string vocab = attnscope::fuzz::write_input("vocab.json", data, n1);
    const std::string merges =
        attnscope::fuzz::write_input("merges.txt", cut ? cut + 1 : data + size, cut ? size - n1 - 1 : 0);
    attnscope::fuzz::expect_clean([&] {
        const auto tok = attnscope::Tokenizer::from_vocab_merges(vocab, merges);
        tok.decode(tok.encode("lower newer wider, the end"));
    });
    return 0;
}
