// What to capture, where it goes, and how to read it back: the capture directory of
// docs/design.md §5 (schema "attnscope.capture/1").
//
//   CaptureSpec spec = CaptureSpec::parse("weights,q", "0-3", "", DType::f32, cfg);  // checks ranges
//   ... Runner (runner.h) writes a directory with it ...
//   CaptureReader r("results");
//   Captured p = r.read(0, "blocks.3.attn.hook_pattern");   // F32 [H, T, T], f16 widened
//   const SequenceInfo& s = r.sequence(0);                  // text, token ids, display tokens
//
// Files: attention_data_weights.safetensors (attn.hook_pattern), attention_data_inputs
// (ln1.hook_normalized, hook_resid_pre), attention_data_outputs (hook_attn_out), and one
// attention_data_{kind}.safetensors per other kind of hook. Tensors are named seq{S}.{hook}.
#pragma once

#include "engine/hooks.h"
#include "io/safetensors.h"
#include "model/config.h"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

constexpr const char* kCaptureSchema = "attnscope.capture/1";
// What `run --stats-only` writes instead of tensors: the analysis's sums (analysis/statistics.h).
constexpr const char* kStatisticsFile = "statistics.safetensors";

// A captured value: shape and f32 data, row-major.
struct Captured {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

struct CaptureSpec {
    std::vector<std::string> patterns; // hook names or globs, aliases expanded
    std::vector<int> layers;           // empty = all
    std::vector<int> heads;            // empty = all
    DType dtype = DType::f32;
    bool none = false; // "--capture none": run the texts, store no tensor (timing, tokens only)

    // `capture`: comma-separated hook names, globs, or aliases (weights, inputs, outputs, scores,
    // q, k, v, z, resid, mlp, logits); empty means "weights,inputs,outputs"; "none" stores nothing. Layers and heads
    // are lists like "0-3,11", checked against the model. Throws Error naming the argument.
    static CaptureSpec parse(const std::string& capture, const std::string& layers, const std::string& heads,
                             DType dtype, const ModelConfig& cfg);
    HookFilter filter() const;
    // Is (hook, layer) captured?
    bool wants(Hook h, int il) const;
};

// The file a hook kind is stored in ("attention_data_weights.safetensors", ...).
std::string capture_file_for(Hook h);
// Shape a hook's tensor is stored with for a sequence of T tokens (head subset applied).
std::vector<int64_t> captured_shape(Hook h, int64_t T, const ModelConfig& cfg, const std::vector<int>& heads);
// Copy a hook's value into `out` as it is stored: only `heads` of its head dimension (all when
// empty), row-major. Returns the stored shape.
std::vector<int64_t> pack_captured(Hook h, const TensorView& value, const ModelConfig& cfg,
                                   const std::vector<int>& heads, std::vector<float>& out);

// In-memory capture for API users: "seq{S}.{hook name}" -> value.
class ActivationCache {
  public:
    void put(const std::string& key, Captured value) { values_[key] = std::move(value); }
    bool has(const std::string& hook, int seq = 0) const { return values_.count(key(hook, seq)) > 0; }
    // Throws Error naming the hook when it was not captured.
    const Captured& at(const std::string& hook, int seq = 0) const;
    const std::map<std::string, Captured>& all() const { return values_; }
    static std::string key(const std::string& hook, int seq) { return "seq" + std::to_string(seq) + "." + hook; }

  private:
    std::map<std::string, Captured> values_;
};

struct SequenceInfo {
    std::string text;
    std::vector<int32_t> token_ids;
    std::vector<std::string> tokens;
    int64_t length = 0;
    bool truncated = false;
    int64_t prompt_length = -1; // generated text (attnscope generate --output): where the prompt ends
};

// One of N contiguous, nearly equal slices of a corpus of `total` texts (attnscope run --shard
// I/N, numbered from 0 as sbatch --array numbers its tasks): texts [first, first + n).
struct ShardInfo {
    int64_t index = -1, count = 0, first = 0, total = 0; // index -1: not a shard
    bool present() const { return index >= 0; }
    int64_t end() const { return (index + 1) * total / count; } // one past its last text
};
// The slice of shard `index` of `count` over `total` texts: [index * total / count,
// (index + 1) * total / count). Throws naming --shard when out of range or when some shard
// would be empty (more shards than texts).
ShardInfo shard_of(int64_t index, int64_t count, int64_t total);
// "I/N" as given to --shard (the one parser of it: the CLI and Python both come here); throws
// naming the argument.
std::pair<int64_t, int64_t> parse_shard(const std::string& spec);
// shard_of(parse_shard(spec), total).
ShardInfo shard_of(const std::string& spec, int64_t total);
// What a sharded corpus's pieces are ordered and checked by: a capture directory's manifest or
// a statistics file's (analysis/statistics.h), with the slice it holds.
struct ShardSource {
    std::string dir;                          // named in errors
    const nlohmann::json* manifest = nullptr; // "model" {"name"}, "capture" {...}
    std::string manifest_text;                // or the same as JSON text (when manifest is null)
    ShardInfo shard;
};
// The positions of `sources` in shard order, checked to be one corpus: every one a shard (or
// none, or a single source: then returned as given), of one model and one capture (the batch size may differ; keys
// in `ignore` of "capture" are not compared), the same N and total, no shard twice and none
// missing. Throws naming the pair at fault or the missing shard.
std::vector<size_t> order_shard_sources(const std::vector<ShardSource>& sources,
                                        const std::vector<std::string>& ignore = {"batch_size"});
// The same for capture readers: the readers in shard order.
class CaptureReader;
std::vector<const CaptureReader*> order_shards(const std::vector<const CaptureReader*>& readers);
// The model dimensions a manifest records ("model" {"dims", "model_type"}); throws naming `path`.
ModelConfig config_from_manifest(const nlohmann::json& manifest, const std::string& path);
// The inverse: "dims" as a manifest records them (n_kv_head only for grouped-query attention).
nlohmann::ordered_json manifest_dims(const ModelConfig& c);
// The manifest's "shard" (none when absent), checked to be the slice `n_sequences` texts make.
ShardInfo shard_from_manifest(const nlohmann::json& manifest, const std::string& path, int64_t n_sequences);

// Reads a capture directory: the manifest is validated, tensor files memory-mapped and read
// one tensor at a time, so memory holds one tensor, not the capture.
class CaptureReader {
  public:
    explicit CaptureReader(const std::string& dir);

    const std::string& dir() const { return dir_; }
    const nlohmann::json& manifest() const { return manifest_; }
    const ModelConfig& config() const { return config_; }
    int64_t n_sequences() const { return int64_t(sequences_.size()); }
    const SequenceInfo& sequence(int64_t s) const;
    // Hook names captured (e.g. "blocks.0.attn.hook_pattern"), in file order, for sequence 0.
    std::vector<std::string> hooks() const;
    const std::vector<int>& heads() const { return heads_; } // empty = all heads
    const ShardInfo& shard() const { return shard_; }          // the corpus slice, when run with --shard
    bool has(int64_t seq, const std::string& hook) const;
    // A copy of the tensor as f32.
    Captured read(int64_t seq, const std::string& hook) const;
    // The tensor as f32 without a copy when stored F32: data points into the mapping (valid while
    // the reader lives); F16 is widened into `storage`. With `index` >= 0, only that slice of the
    // first dimension (one head of [H, T, T]), shape without it: a figure of one head reads 1/H.
    struct View {
        std::vector<int64_t> shape;
        const float* data = nullptr;
    };
    View view(int64_t seq, const std::string& hook, std::vector<float>& storage, int64_t index = -1) const;
    // What identifies this capture's content without reading its tensors: SHA-256 of the
    // manifest's bytes and of each tensor file's name, size and modification time (ns). An
    // analysis stored with this fingerprint is the analysis of this capture; any change to a file
    // (even a rewrite of equal size) changes its modification time and so the fingerprint.
    std::string fingerprint() const;
    // See MappedFile::advise: read a tensor in ahead of use, or drop its pages after use (memory
    // then stays flat however large the capture).
    void advise(int64_t seq, const std::string& hook, MappedFile::Use use) const;

  private:
    std::pair<const SafetensorsFile*, const TensorInfo*> locate(int64_t seq, const std::string& hook) const;
    std::string dir_;
    nlohmann::json manifest_;
    ModelConfig config_;
    std::vector<SequenceInfo> sequences_;
    std::vector<int> heads_;
    ShardInfo shard_;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, size_t> file_of_; // tensor name -> index into files_
};

} // namespace attnscope
