// Runs of a corpus's shards for the shard tests (test_capture.cpp, test_statistics.cpp): the
// built-in model on the slice `shard` of `corpus` (all when not a shard), as a capture or, with
// stats_only, as statistics.
#pragma once

#include "api/runner.h"

#include <string>
#include <vector>

namespace attnscope::test {

inline std::string tiny() {
    return std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";
}

// Run the slice `shard` of `corpus` (all when not present) into `out`: stats-only or a capture.
inline void run_part(const std::vector<std::string>& corpus, const std::string& out, ShardInfo shard, int batch,
                     bool stats_only, bool covariance = false, const std::string& layers = "") {
    RunnerOptions o;
    o.batch_size = batch;
    o.covariance = covariance;
    o.layers = layers;
    Runner runner(tiny(), o);
    std::vector<std::string> texts = corpus;
    if (shard.present()) texts = std::vector<std::string>(corpus.begin() + shard.first, corpus.begin() + shard.end());
    PreparedData d = runner.prepare_data(texts);
    d.shard = shard;
    if (stats_only)
        runner.run_stats_only(d, out);
    else
        runner.run_with_hooks(d, out);
}

} // namespace attnscope::test
