// The capture session: one run of prepared texts through a model, batch by batch, into a capture
// directory (the writers live here) or into another sink (a stats-only run's sums, api/runner.cpp).
// It owns what every such run shares: batching and progress, cancelling between batches, the
// fingerprint that says two runs are the same run, the progress file that lets an interrupted run
// resume to the same bytes, the manifest, and shard slicing.
//
//   CaptureSession session({model, tokenizer, resolved}, data, spec, {.batch_size = 8});
//   CaptureSummary s = session.capture("results");             // a capture directory
//   ActivationCache c = session.capture();                      // or in memory
//
//   // another sink: run_batch runs the forward pass its own way, save makes the batches so far
//   // durable before the progress file names them
//   const std::string fp = session.fingerprint("stats-only");
//   const int64_t start = session.resume_point(dir, fp);
//   session.run(sink, {dir, kStatisticsSchema, fp, "the sums of "}, start);
#pragma once

#include "capture/capture.h"
#include "engine/forward.h"
#include "io/resolve.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

// The progress file of a run in progress (removed when it completes).
constexpr const char* kResumeFile = ".attnscope-resume.json";
// A stats-only run's sums so far, beside the progress file (a whole statistics file).
constexpr const char* kStatisticsCheckpoint = ".attnscope-statistics-checkpoint.safetensors";

struct Progress {
    int64_t texts_done = 0, texts_total = 0;
    int64_t tokens_done = 0, tokens_total = 0;
    double seconds = 0;
};

// Tokenized texts, ready to run (Runner::prepare_data).
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

// The model a session runs, and what its manifest says of it.
struct SessionModel {
    const Model& model;
    const Tokenizer& tokenizer;
    const ResolvedModel& resolved;
};

struct SessionOptions {
    int batch_size = 8;  // texts per forward pass
    bool force = false;  // write into a non-empty directory (replacing attnscope's own files)
    bool resume = false; // continue an interrupted run of the same command
    bool durable = true; // wait for the data to reach the disk before naming files (false: --no-sync)
    std::function<void(const Progress&)> on_progress; // after each batch
    const std::atomic<bool>* cancel = nullptr;        // checked between batches (SIGINT)
};

// What a session fills, batch by batch.
struct SessionSink {
    // Run sequences [first, first + batch.n_seq()) of the data through the model.
    std::function<void(int64_t first, const Batch& batch)> run_batch;
    // Put what the first `batches` batches produced safely on disk: the progress file will say so.
    std::function<void(int64_t batches)> save;
    // Optional: the shortest time between two saves, given `every` (ATTNSCOPE_CHECKPOINT_SECONDS,
    // else 2 s); `every` when not set.
    std::function<double(double every)> save_interval;
    // Optional: the run failed after a save; keep what was saved, for --resume.
    std::function<void()> keep_saved;
};

// Where a session records its progress: the directory (none: no records), the progress file's
// schema, the run's fingerprint, and how an error names what is kept ("" or "the sums of ").
struct SessionRecords {
    std::string dir;
    const char* schema = kCaptureSchema;
    std::string fingerprint;
    std::string kept;
};

class CaptureSession {
  public:
    CaptureSession(SessionModel model, const PreparedData& data, const CaptureSpec& spec, SessionOptions options);

    int64_t n_batches() const;
    // What makes two runs the same run: the weights, every token, how they are captured, `extra`.
    std::string fingerprint(const std::string& extra) const;
    // The batch an interrupted run in `dir` continues from (options.resume), once its progress
    // file is checked to be this run's; without resume, 0, and a directory holding an interrupted
    // run is refused unless options.force.
    int64_t resume_point(const std::string& dir, const std::string& fingerprint) const;
    // Every batch from `start_batch` into the sink, with progress shown and, when records.dir is
    // set, recorded every few seconds (the sink saves first); an error after a record keeps what
    // was saved and says how to resume. The progress file is left in place: the caller removes it
    // once its own outputs are complete.
    void run(const SessionSink& sink, const SessionRecords& records, int64_t start_batch) const;
    // The sink saves, then the progress file says `batches` are done.
    void record(const SessionSink& sink, const SessionRecords& records, int64_t batches) const;
    // Calls fn(first sequence, batch) for the batches from `start_batch`, with progress and cancel.
    void for_each_batch(const std::function<void(int64_t, const Batch&)>& fn, int64_t start_batch = 0) const;

    // The full capture into `dir` (docs/design.md §5): created if needed; files appear under their
    // final names only when complete, manifest.json last; an interrupted run keeps its partial
    // files and options.resume continues it to the same bytes.
    CaptureSummary capture(const std::string& dir) const;
    // The same values, in memory.
    ActivationCache capture() const;

    // The manifest without its sequences (they are streamed by write_manifest); `files`: each
    // tensor file with its hook suffixes.
    nlohmann::ordered_json manifest(const std::vector<std::pair<std::string, std::vector<std::string>>>& files) const;
    // Write head + the sequences to `path` (atomically); returns the bytes written.
    int64_t write_manifest(const std::string& path, const nlohmann::ordered_json& head) const;

    const PreparedData& data() const { return data_; }
    const CaptureSpec& spec() const { return spec_; }
    const SessionOptions& options() const { return options_; }
    const Model& model() const { return model_.model; }

  private:
    SessionModel model_;
    const PreparedData& data_;
    CaptureSpec spec_;
    SessionOptions options_;
};

// The progress file of a run in `dir` (dir/kResumeFile).
std::string progress_file(const std::string& dir);

// sha256 of a file, cached in ~/.cache/attnscope/sha256.json by path, size and modification time.
std::string cached_sha256(const std::string& path);

} // namespace attnscope
