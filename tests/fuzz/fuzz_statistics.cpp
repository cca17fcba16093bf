// A stats-only part's statistics.safetensors (run --stats-only, merged by analyze) on arbitrary
// bytes: the header and manifest are validated, the sums loaded and checked, then turned into an
// analysis and its summary, as `analyze` of a stats-only directory does.
#include "analysis/statistics.h"
#include "fuzz_common.h"
#include "report/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    attnscope::fuzz::write_input(attnscope::kStatisticsFile, data, size);
    attnscope::fuzz::expect_clean([&] {
        const attnscope::StatisticsFile f(attnscope::fuzz::scratch());
        attnscope::analyze_parts({}, {&f}, {});
        attnscope::summary_json(f.load().finish()).dump();
    });
    return 0;
}
