// attention_data_summary.json read back as an analysis (analysis_from_summary) on arbitrary bytes,
// for the built-in model's shape: what plot, heads and view do with a stored summary.
#include "fuzz_common.h"
#include "io/json.h"
#include "model/config.h"
#include "report/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const attnscope::ModelConfig cfg = attnscope::read_model_config(ATTNSCOPE_TINY_MODEL "/config.json");
    attnscope::fuzz::expect_clean([&] {
        const char* p = reinterpret_cast<const char*>(data);
        attnscope::analysis_from_summary(attnscope::parse_json(p, p + size, "summary"), cfg);
    });
    return 0;
}
