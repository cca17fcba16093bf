// --input files: JSON Lines and plain text.
#include "fuzz_common.h"
#include "io/texts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    attnscope::fuzz::expect_clean([&] { attnscope::read_texts(attnscope::fuzz::write_input("in.jsonl", data, size)); });
    attnscope::fuzz::expect_clean([&] { attnscope::read_texts(attnscope::fuzz::write_input("in.txt", data, size)); });
    return 0;
}
