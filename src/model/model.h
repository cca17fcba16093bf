// Model: config + weights, immutable after loading, safe to share between threads and runs.
//
//   auto model = Model::load("path/to/gpt2");      // config.json + model.safetensors
//   const ModelConfig& c = model->config();
//   const LayerWeights& l0 = model->layer(0);       // l0.attn_qkv: F32 [D, 3D] for GPT-2
//   std::cout << model->summary();
//
// Architectures register a config parser and a weight binder by Hugging Face model_type; adding
// one is one file (gpt2.cpp, llama.cpp). Matrices are memory-mapped without a copy when the
// checkpoint stores aligned F32, F16 or BF16 (16-bit ones widened per tile when used, unless
// LoadOptions::weights_f32); everything else (norms, biases, embeddings) is f32, converted once
// at load when stored otherwise.
#pragma once

#include "io/safetensors.h"
#include "model/config.h"

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace attnscope {

// A weight matrix as stored, row-major: [in, out] (GPT-2's Conv1D) or [out, in] (nn.Linear,
// every Llama-family projection), F32 — or F16/BF16 as the checkpoint stores it, memory-mapped,
// widened to f32 tile by tile when used (exact: every 16-bit value is a float). The product
// x @ W takes any of these (engine's linear()).
struct MatrixView {
    const void* data = nullptr; // null when the model has no such matrix
    DType dtype = DType::f32;   // F32, F16 or BF16
    int64_t in = 0, out = 0;
    bool out_major = false; // true: stored [out, in]
    explicit operator bool() const { return data != nullptr; }
    const float* f32() const { return dtype == DType::f32 ? static_cast<const float*>(data) : nullptr; }
};

// How weights are held in memory.
struct LoadOptions {
    // false: 16-bit matrices stay 16-bit (half the memory; widened per tile in each product);
    // true: widened to f32 once at load (faster when memory allows).
    bool weights_f32 = false;
};

// One transformer block. Absent weights (biases of Llama, a fused QKV where q, k, v are
// separate, LayerNorm biases under RMSNorm, OLMo's parameter-free LayerNorm) are null, never zero
// arrays; which norms a block runs is its LayerSpec's business, not these pointers'.
struct LayerWeights {
    const float* ln1_w = nullptr;      // F32 [D]   the norm before attention (NormPlacement pre)
    const float* ln1_b = nullptr;      // F32 [D]   LayerNorm only
    const float* ln1_post_w = nullptr; // F32 [D] the norm of attention's output (post, pre_and_post)
    const float* ln1_post_b = nullptr; // F32 [D]
    MatrixView attn_qkv;               // [D, 3D]   fused Q|K|V (GPT-2), or:
    MatrixView attn_q, attn_k, attn_v; // [H d, D], [H_kv d, D], [H_kv d, D] (nn.Linear)
    const float* attn_qkv_b = nullptr; // F32 [3D]
    // The fused product's columns go head by head, [q_h | k_h | v_h] for each head h (GPT-NeoX's
    // query_key_value), instead of all q, then all k, then all v (GPT-2's c_attn).
    bool qkv_per_head = false;
    const float* attn_q_b = nullptr;   // F32 [H d]     (Qwen2)
    const float* attn_k_b = nullptr;   // F32 [H_kv d]
    const float* attn_v_b = nullptr;   // F32 [H_kv d]
    const float* q_norm_w = nullptr;   // F32 [d] per-head RMSNorm of q (Qwen3), [H d] whole (OLMo 2)
    const float* k_norm_w = nullptr;   // F32 [d], or [H_kv d]
    MatrixView attn_out;               // [H d -> D]
    const float* attn_out_b = nullptr; // F32 [D]
    const float* ln2_w = nullptr;      // F32 [D]   the norm before the MLP
    const float* ln2_b = nullptr;      // F32 [D]
    const float* ln2_post_w = nullptr; // F32 [D]   the norm of the MLP's output
    const float* ln2_post_b = nullptr; // F32 [D]
    MatrixView mlp_gate;               // [D -> F]  gated MLP only
    MatrixView mlp_in;                 // [D -> F]  c_fc / up_proj
    const float* mlp_in_b = nullptr;   // F32 [F]
    MatrixView mlp_out;                // [F -> D]  c_proj / down_proj
    const float* mlp_out_b = nullptr;  // F32 [D]
};

class Model;

// Looks tensors up by name across the checkpoint's files, checks their shapes and keeps any
// converted storage alive in the model.
class WeightLoader {
  public:
    WeightLoader(Model& model, std::vector<std::shared_ptr<SafetensorsFile>> files);
    bool has(const std::string& name) const;
    // The tensor `name` as f32, which must have shape `shape`; throws naming tensor and file.
    const float* get(const std::string& name, const std::vector<int64_t>& shape);
    // A matrix stored [in, out] (Conv1D) or [out, in] (nn.Linear), shape checked; F16/BF16 kept
    // as stored unless the model loads with weights_f32.
    MatrixView matrix_in_out(const std::string& name, int64_t in, int64_t out) { return matrix(name, in, out, false); }
    MatrixView matrix_out_in(const std::string& name, int64_t in, int64_t out) { return matrix(name, in, out, true); }
    // Names of all tensors in the checkpoint.
    std::vector<std::string> names() const;
    // The LM head [V, D] as config.json's tie_word_embeddings says: the bound embedding, or the
    // tensor `name` (nn.Linear), refused with `hint` when the checkpoint lacks it.
    MatrixView lm_head(const std::string& name, const std::string& hint);

  private:
    MatrixView matrix(const std::string& name, int64_t in, int64_t out, bool out_major);
    // The tensor's entry, found and shape-checked (throws naming tensor and file); notes its dtype.
    const TensorInfo* checked(const std::string& name, const std::vector<int64_t>& shape, const SafetensorsFile** file);
    const SafetensorsFile* file_of(const std::string& name, const TensorInfo** info) const;
    Model& model_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
};

struct Architecture {
    std::string model_type;
    std::function<ModelConfig(const nlohmann::json&, const std::string& path)> parse_config;
    std::function<void(Model&, WeightLoader&)> bind_weights;
};

const Architecture* find_architecture(const std::string& model_type);
std::string supported_architectures();

class Model {
  public:
    // Load a Hugging Face model directory: config.json plus model.safetensors (or the shards
    // listed in model.safetensors.index.json).
    static std::shared_ptr<const Model> load(const std::string& dir, const LoadOptions& options = {});
    // Bytes of weights held: mapped as stored plus converted copies.
    int64_t weight_bytes() const { return weight_bytes_; }
    // Parameters: the elements of every tensor the architecture bound, each counted once (a tied
    // LM head is the embedding), whatever the family.
    int64_t n_params() const { return n_params_; }

    const ModelConfig& config() const { return config_; }
    const std::string& dir() const { return dir_; }
    const LayerWeights& layer(int il) const { return layers_[size_t(il)]; }
    const MatrixView& tok_embd() const { return tok_embd_; } // [V, D]: row t is token t's embedding
    const float* pos_embd() const { return pos_embd_; }      // F32 [P, D]; null with rotary positions
    const float* ln_f_w() const { return ln_f_w_; }          // F32 [D]
    const float* ln_f_b() const { return ln_f_b_; }          // F32 [D]; null under RMSNorm
    const MatrixView& lm_head() const { return lm_head_; }   // [V, D] (the embedding when tied)
    bool lm_head_tied() const { return lm_head_.data == tok_embd_.data; }
    // Storage dtype of the checkpoint's weights ("F32", "BF16", ...; "mixed" if several).
    const std::string& weights_dtype() const { return weights_dtype_; }
    const std::vector<std::string>& weight_files() const { return weight_files_; }
    // Map every weight page now (one call per file) instead of faulting them in during the
    // first forward pass: for callers about to run the model. Nothing when every weight was
    // widened at load (--weights f32): the stored bytes are not read again, and mapping them
    // would put the file's size back on top of the widened copy.
    void prefault() const {
        if (!reads_mapping_) return;
        for (const auto& f : files_)
            f->prefault();
    }

    // Multi-line human-readable summary (architecture, sizes, parameters, files).
    std::string summary() const;

    bool reads_mapping_ = false; // some weight is used in place, from the mapped file

    // Architecture files fill these in through bind_weights.
    ModelConfig config_;
    std::vector<LayerWeights> layers_;
    MatrixView tok_embd_;
    const float* pos_embd_ = nullptr;
    const float* ln_f_w_ = nullptr;
    const float* ln_f_b_ = nullptr;
    MatrixView lm_head_;

  private:
    friend class WeightLoader;
    std::string dir_;
    LoadOptions load_options_;
    int64_t weight_bytes_ = 0;
    int64_t n_params_ = 0;
    std::set<std::string> bound_; // names of the tensors counted in n_params_
    std::string weights_dtype_;
    std::vector<std::string> weight_files_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_; // keep the mappings alive
    std::vector<std::vector<float>> converted_;           // f32 copies of non-F32 tensors
};

} // namespace attnscope
