// Runner: the original module's TransformerRunner — texts in, a capture directory (or an
// in-memory cache) out.
//
//   RunnerOptions opts;                        // defaults: weights, inputs, outputs; f32; batch 8
//   opts.capture = "weights,q";  opts.layers = "0-3";
//   Runner runner("gpt2", opts);               // a directory, "tiny", or a name in the HF cache
//   PreparedData data = runner.prepare_data({"The cat sat.", "On the mat."}, /*max_length*/ 128);
//   CaptureSummary s = runner.run_with_hooks(data, "results");    // writes results/
//   ActivationCache c = runner.run_with_hooks(data);                // or keeps it in memory
//   const Captured& p = c.at("blocks.0.attn.hook_pattern", /*seq*/ 1);
//   AnalysisResult a = runner.analyze_attention_patterns("results");   // metrics, labels, ...
//
// Texts go through the model in batches (options.batch_size); each captured tensor is written
// as its layer completes, so memory holds one batch's activations whatever the corpus size.
#pragma once

#include "analysis/analyzer.h"
#include "analysis/statistics.h"
#include "api/analyzer_api.h"
#include "capture/capture.h"
#include "engine/forward.h"
#include "generate/generate.h"
#include "intervene/ablate.h"
#include "intervene/patch.h"
#include "io/resolve.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <functional>
#include <optional>

namespace attnscope {

struct Progress {
    int64_t texts_done = 0, texts_total = 0;
    int64_t tokens_done = 0, tokens_total = 0;
    double seconds = 0;
};

struct RunnerOptions {
    std::string capture;      // hook names, globs or aliases; empty = weights,inputs,outputs
    std::string layers;       // "0-3,11"; empty = all
    std::string heads;        // "0,5"; empty = all
    DType dtype = DType::f32; // stored type: f32 or f16
    int batch_size = 8;       // texts per forward pass
    bool force = false;       // write into a non-empty output directory
    bool resume = false;      // continue an interrupted run of the same command
    bool durable = true;      // wait for the data to reach the disk before naming files (false: --no-sync)
    bool weights_f32 = false; // widen 16-bit weights at load (--weights f32) instead of per tile in use
    bool covariance = false;  // --stats-only: keep the hidden states' covariances (effective dimensionality)
    std::function<void(const Progress&)> on_progress; // after each batch
    std::function<void(const std::string&)> on_warning;
    const std::atomic<bool>* cancel = nullptr; // checked between batches (SIGINT)
};

// Tokenized texts, ready to run: prepare_data(texts, max_length).
struct PreparedData {
    std::vector<std::string> texts;
    Batch batch; // one sequence per text, truncated to max_length
    std::vector<bool> truncated;
    int64_t max_length = 0;
    int64_t n_truncated = 0;
    std::vector<int64_t> prompt_lengths; // per sequence, when the texts are generated (else empty)
    ShardInfo shard;                     // the corpus slice these texts are (run --shard), else none
};

// The I-th of N slices ("I/N", as run --shard) of prepared texts, recording the slice.
PreparedData take_shard(PreparedData data, const std::string& spec);

struct CaptureSummary {
    std::string dir;
    int64_t n_sequences = 0, n_tokens = 0, n_tensors = 0, bytes = 0;
    double seconds = 0;
};

class Runner {
  public:
    Runner(const std::string& model, RunnerOptions options = {});

    const Model& model() const { return *model_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    const ResolvedModel& resolved() const { return resolved_; }

    // Tokenize, truncate to max_length (0 = the model's n_positions; warns once, naming how many
    // texts were cut), refuse empty texts.
    PreparedData prepare_data(std::vector<std::string> texts, int64_t max_length = 0) const;
    // One sequence of token ids, e.g. a prompt and its continuation from generate(): the manifest
    // records prompt_length (where the prompt ends; -1: not generated text) and the viewer marks it.
    PreparedData prepare_ids(std::vector<int32_t> ids, int64_t prompt_length = -1) const;
    // Ablate heads (attnscope ablate): the next-token loss on the texts with each target's
    // hook_z replaced, against the clean loss (intervene/ablate.h).
    HeadImportance ablate(const PreparedData& data, const AblateOptions& options) const;
    // Activation patching (attnscope patch): the texts tokenized as run does; `answer` and `wrong`
    // must each be one token (encoded without added special tokens), or both empty for the loss
    // metric (--metric loss: the clean text's next-token loss, intervene/patch.h).
    PatchResult patch(const std::string& clean, const std::string& corrupt, const std::string& answer,
                      const std::string& wrong, PatchWhat what = PatchWhat::z,
                      const std::function<void(int64_t, int64_t)>& on_progress = {}) const;
    // Decode with a KV cache from `prompt` (attnscope generate); on_token sees each new id.
    GenerateResult generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                            const std::function<void(int32_t)>& on_token = {}) const;
    // Capture into `dir` (created if needed). Files appear under their final names only when complete;
    // manifest.json is written last. Progress is recorded after every batch: an interrupted run
    // (error, Ctrl-C, kill) keeps its partial files (".<file>.tmp-resumable") and
    // ".attnscope-resume.json", and options.resume continues it after the last completed batch,
    // giving the same bytes as an uninterrupted run.
    CaptureSummary run_with_hooks(const PreparedData& data, const std::string& dir) const;
    // Capture into memory.
    ActivationCache run_with_hooks(const PreparedData& data) const;

    // --stats-only: per-head statistics computed while the forward pass runs, from each attention
    // row as it is made, so no [H, T, T] tensor exists (memory O(L H T), not O(L H T^2)); plus
    // hidden-state statistics from the attention inputs and outputs. Heads and layers follow
    // options.layers / options.heads. Unless dir is empty, writes statistics.safetensors (the
    // sums: shards merge with analyze, analysis/statistics.h), the report and the summary; the
    // sums so far are checkpointed, so an interrupted run continues with options.resume.
    // `covariance`: keep the hidden states' covariances (effective dimensionality) whatever
    // options.covariance says (the Python package passes it per call).
    AnalysisResult run_stats_only(const PreparedData& data, const std::string& dir = "") const {
        return run_stats_only(data, dir, options_.covariance);
    }
    AnalysisResult run_stats_only(const PreparedData& data, const std::string& dir, bool covariance) const;
    // Analyse a capture directory (AttentionDataAnalyzer(dir).analyze()); writes nothing.
    AnalysisResult analyze_attention_patterns(const std::string& dir) const;
    // Run this model on repeated random-token blocks and analyse its heads (attnscope heads --model).
    AnalysisResult probe_heads(const ProbeOptions& options = {}, AnalysisOptions analysis = {}) const;

  private:
    CaptureSpec spec() const;
    // What makes two runs the same run: the weights, every token, how they are captured, `extra`.
    std::string run_fingerprint(const PreparedData& data, const CaptureSpec& spec, const std::string& extra) const;
    nlohmann::ordered_json manifest(const PreparedData& data, const CaptureSpec& spec,
                                    const std::vector<std::pair<std::string, std::vector<std::string>>>& files) const;
    int64_t write_manifest(const std::string& path, const nlohmann::ordered_json& head, const PreparedData& data) const;
    RunnerOptions options_;
    ResolvedModel resolved_;
    std::shared_ptr<const Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
};

// The progress file of a capture in progress (removed when the capture completes).
constexpr const char* kResumeFile = ".attnscope-resume.json";
// A stats-only run's sums so far, beside the progress file (a whole statistics file).
constexpr const char* kStatisticsCheckpoint = ".attnscope-statistics-checkpoint.safetensors";

// sha256 of a file, cached in ~/.cache/attnscope/sha256.json by path, size and modification time.
std::string cached_sha256(const std::string& path);

} // namespace attnscope
