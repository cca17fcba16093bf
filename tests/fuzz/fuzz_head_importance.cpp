// head_importance.json (attnscope ablate's output, read back by analyze --importance) on arbitrary
// bytes: parsed, validated, and attached to an analysis of the built-in model's shape, whose
// recommendations and summary are then rebuilt from it.
#include "analysis/analyzer.h"
#include "fuzz_common.h"
#include "intervene/ablate.h"
#include "io/json.h"
#include "model/config.h"
#include "report/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const attnscope::ModelConfig cfg = attnscope::read_model_config(ATTNSCOPE_TINY_MODEL "/config.json");
    attnscope::fuzz::expect_clean([&] {
        const char* p = reinterpret_cast<const char*>(data);
        const attnscope::HeadImportance imp =
            attnscope::head_importance_from_json(attnscope::parse_json(p, p + size, "importance"), "importance");
        attnscope::AnalysisResult r;
        r.config = cfg;
        r.layers.resize(size_t(cfg.n_layer));
        r.redundant.push_back({1, 0, 2, 0.01});
        attnscope::attach_importance(r, imp, "importance", 0.05);
        attnscope::summary_json(r).dump();
    });
    return 0;
}
