// safetensors header and ranges: SafetensorsFile on arbitrary bytes, then every tensor read.
#include "fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = attnscope::fuzz::write_input("x.safetensors", data, size);
    attnscope::fuzz::expect_clean([&] {
        attnscope::SafetensorsFile f(path);
        std::vector<float> storage;
        for (const auto& t : f.tensors())
            attnscope::fuzz::expect_clean([&] { f.as_f32(t, storage); });
    });
    return 0;
}
