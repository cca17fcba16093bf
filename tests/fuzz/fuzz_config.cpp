// config.json: read_model_config on arbitrary bytes.
#include "fuzz_common.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = attnscope::fuzz::write_input("config.json", data, size);
    attnscope::fuzz::expect_clean([&] { attnscope::read_model_config(path); });
    return 0;
}
