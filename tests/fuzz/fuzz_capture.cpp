// A capture directory: the input is split at its first 0 byte into manifest.json and the weights
// file; CaptureReader opens it and the analysis reads every tensor it names.
#include "api/analyzer_api.h"
#include "fuzz_common.h"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t* cut = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t n1 = cut ? size_t(cut - data) : size;
    attnscope::fuzz::write_input("manifest.json", data, n1);
    attnscope::fuzz::write_input("attention_data_weights.safetensors", cut ? cut + 1 : data + size,
                                 cut ? size - n1 - 1 : 0);
    attnscope::fuzz::expect_clean([&] {
        attnscope::AttentionDataAnalyzer an(attnscope::fuzz::scratch());
        an.analyze();
    });
    return 0;
}
