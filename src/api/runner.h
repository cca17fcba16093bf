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
// as its layer completes, so memory holds one batch's activations whatever the corpus size. The
// batch loop, resume, manifest and writers are the capture session's (capture/session.h), which
// run_with_hooks and run_stats_only drive.
#pragma once

#include "analysis/analyzer.h"
#include "analysis/statistics.h"
#include "api/analyzer_api.h"
#include "capture/capture.h"
#include "capture/session.h"
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
    bool loss = false;        // --stats-only: also measure the model's next-token loss on the texts
    std::function<void(const Progress&)> on_progress; // after each batch
    std::function<void(const std::string&)> on_warning;
    const std::atomic<bool>* cancel = nullptr; // checked between batches (SIGINT)
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
    // Several sequences of token ids, each checked as prepare_ids checks one.
    PreparedData prepare_sequences(std::vector<std::vector<int32_t>> seqs) const;
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
    // manifest.json is written last. Progress is recorded every few seconds: an interrupted run
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
    // `covariance`: keep the hidden states' covariances (effective dimensionality), and `loss`:
    // measure the next-token loss on the texts, whatever options.covariance and options.loss say
    // (the Python package passes them per call).
    AnalysisResult run_stats_only(const PreparedData& data, const std::string& dir = "") const {
        return run_stats_only(data, dir, options_.covariance, options_.loss);
    }
    AnalysisResult run_stats_only(const PreparedData& data, const std::string& dir, bool covariance, bool loss) const;
    // Analyse a capture directory (AttentionDataAnalyzer(dir).analyze()); writes nothing.
    AnalysisResult analyze_attention_patterns(const std::string& dir) const;
    // Run this model on repeated random-token blocks and analyse its heads (attnscope heads --model).
    AnalysisResult probe_heads(const ProbeOptions& options = {}, AnalysisOptions analysis = {}) const;

  private:
    CaptureSpec spec() const;
    // The capture session (capture/session.h) of `data` with this runner's model and options.
    CaptureSession session(const PreparedData& data) const;
    RunnerOptions options_;
    ResolvedModel resolved_;
    std::shared_ptr<const Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
};

} // namespace attnscope
