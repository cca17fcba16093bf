// llama2.c checkpoints: read_llama2c_header on arbitrary bytes, and when a header agrees with the
// input's size, the whole conversion into a fresh directory.
#include "convert/llama2c.h"
#include "fuzz_common.h"

#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    attnscope::fuzz::expect_clean([&] {
        attnscope::read_llama2c_header(data, size, "model.bin");
        const std::string path = attnscope::fuzz::write_input("model.bin", data, size);
        const std::string out = path + ".converted";
        std::filesystem::remove_all(out);
        attnscope::convert_llama2c(path, "", out);
    });
    return 0;
}
