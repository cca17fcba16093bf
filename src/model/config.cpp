// config.json reading: find model_type, hand the JSON to the registered architecture's parser.
#include "model/config.h"

#include "core/error.h"
#include "io/json.h"
#include "model/model.h"

namespace attnscope {

const char* activation_name(Activation a) {
    switch (a) {
    case Activation::gelu_tanh: return "gelu_new";
    case Activation::gelu_erf: return "gelu";
    case Activation::relu: return "relu";
    case Activation::silu: return "silu";
    }
    return "?";
}

int64_t ModelConfig::n_params() const {
    const int64_t D = n_embd, F = n_inner, Q = q_width(), KV = kv_width();
    if (positions == PositionKind::learned && norm == NormKind::layer_norm && mlp == MlpKind::plain) // GPT-2
        return int64_t(vocab_size) * D + int64_t(n_positions) * D +
               n_layer * (2 * D + (D * 3 * D + 3 * D) + (D * D + D) + 2 * D + (D * F + F) + (F * D + D)) + 2 * D;
    // norms, q k v o projections (biases not counted), q/k norms, MLP, final norm, embedding (+ head)
    const int64_t per_layer = 2 * D + D * (Q + 2 * KV) + Q * D + (qk_norm ? 2 * d_head : 0) +
                              (mlp == MlpKind::gated ? 3 : 2) * D * F;
    return int64_t(vocab_size) * D * (tie_word_embeddings ? 1 : 2) + n_layer * per_layer + D;
}

ModelConfig read_model_config(const std::string& path) {
    const nlohmann::json j = read_json_file(path);
    if (!j.is_object()) throw Error(cat(path, ": expected a JSON object, found ", j.type_name()));
    const std::string type = json_string_or(j, "model_type", path, "");
    if (type.empty())
        throw Error(cat(path, ": missing required field 'model_type'"),
                    "a Hugging Face config.json names its architecture, e.g. \"model_type\": \"gpt2\"");
    const Architecture* arch = find_architecture(type);
    if (!arch)
        throw Error(cat(path, ": model_type '", type, "' is not supported; supported: ", supported_architectures()));
    ModelConfig cfg = arch->parse_config(j, path);
    cfg.model_type = type;
    cfg.bos_token_id = int(json_int_or(j, "bos_token_id", path, 0, cfg.vocab_size - 1, -1));
    if (auto e = j.find("eos_token_id"); e != j.end() && !e->is_null()) {
        const nlohmann::json list = e->is_array() ? *e : nlohmann::json::array({*e});
        for (const auto& id : list)
            cfg.eos_token_ids.push_back(int32_t(json_int(nlohmann::json{{"eos_token_id", id}}, "eos_token_id", path, 0,
                                                         cfg.vocab_size - 1)));
    }
    if (auto a = j.find("architectures"); a != j.end() && a->is_array() && !a->empty() && (*a)[0].is_string())
        cfg.architecture = (*a)[0].get<std::string>();
    return cfg;
}

} // namespace attnscope
