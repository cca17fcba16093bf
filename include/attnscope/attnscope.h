// attnscope — capture and analyze attention in transformer language models.
//
//   #include <attnscope/attnscope.h>
//   using namespace attnscope;
//
//   auto model = Model::load("path/to/gpt2");            // HF directory: config.json + model.safetensors
//   Batch batch = Batch::from_sequences({{464, 3290, 318, 257}});
//
//   HookSet hooks;                                         // what to see, by TransformerLens name
//   hooks.add(HookFilter::parse("blocks.*.attn.hook_pattern", "", ""),
//             [](const HookContext& ctx, TensorView pattern) {   // F32 [H, T, T]
//                 printf("%s: head 0 attends %.3f to token 0 from the last row\n", ctx.name.c_str(),
//                        pattern.at(0, pattern.ne[1] - 1, 0));
//             });
//   RunState state;
//   forward(*model, batch, hooks, state);
//
// Everything throws attnscope::Error with a message that names the file, tensor or argument.
// The original module's API (docs/design.md §7): Runner (prepare_data, run_with_hooks,
// analyze_attention_patterns), AttentionDataAnalyzer (analyze, create_comprehensive_report).
#pragma once

#include "capture/capture.h"
#include "analysis/analyzer.h"
#include "analysis/compare.h"
#include "analysis/evolve.h"
#include "api/analyzer_api.h"
#include "api/runner.h"
#include "report/report.h"
#include "serve/server.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "engine/forward.h"
#include "engine/hooks.h"
#include "generate/generate.h"
#include "intervene/ablate.h"
#include "intervene/patch.h"
#include "convert/llama2c.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace attnscope {

// The library's version, "MAJOR.MINOR.PATCH".
inline const char* version() {
    return ATTNSCOPE_VERSION;
}

} // namespace attnscope
