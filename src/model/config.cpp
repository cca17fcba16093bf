// config.json reading: find model_type, hand the JSON to the registered architecture's parser;
// and the readers the parsers share (rope_scaling, activation names).
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

Activation parse_activation(const std::string& act, const std::string& path, const char* key) {
    // Hugging Face's ACT2FN names: gelu_new, gelu_pytorch_tanh and gelu_fast are the tanh
    // approximation (in float32 the same function), gelu the exact erf form
    if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return Activation::gelu_tanh;
    if (act == "gelu") return Activation::gelu_erf;
    if (act == "relu") return Activation::relu;
    if (act == "silu" || act == "swish") return Activation::silu;
    throw Error(cat(path, ": ", key, " '", act, "' is not supported"),
                "supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu");
}

RopeConfig parse_rope(const nlohmann::json& j, const std::string& path, const char* theta_key, double theta_default) {
    RopeConfig r;
    r.theta = float(json_number_or(j, theta_key, path, theta_default));
    if (!(r.theta > 1)) throw Error(cat(path, ": ", theta_key, " = ", r.theta, " must be above 1"));
    auto it = j.find("rope_scaling");
    if (it == j.end() || it->is_null()) return r;
    if (!it->is_object()) throw Error(cat(path, ": rope_scaling must be an object or null"));
    const nlohmann::json& s = *it;
    // HF names the kind rope_type (older configs: type)
    std::string type = json_string_or(s, "rope_type", path, "");
    if (type.empty()) type = json_string_or(s, "type", path, "default");
    if (type == "default") return r;
    r.factor = float(json_number_or(s, "factor", path, 1.0));
    if (!(r.factor >= 1)) throw Error(cat(path, ": rope_scaling.factor = ", r.factor, " must be at least 1"));
    if (type == "linear") {
        r.scaling = RopeScaling::linear;
    } else if (type == "llama3") {
        r.scaling = RopeScaling::llama3;
        r.low_freq_factor = float(json_number_or(s, "low_freq_factor", path, 1.0));
        r.high_freq_factor = float(json_number_or(s, "high_freq_factor", path, 4.0));
        r.original_max_position_embeddings =
            int(json_int_or(s, "original_max_position_embeddings", path, 1, kMaxPositions, 8192));
        if (!(r.low_freq_factor > 0 && r.high_freq_factor > r.low_freq_factor))
            throw Error(cat(path, ": rope_scaling needs 0 < low_freq_factor < high_freq_factor"));
    } else {
        throw Error(cat(path, ": rope_scaling type '", type, "' is not supported"),
                    "supported: null (none), linear, llama3");
    }
    return r;
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
    if (cfg.layers.size() != size_t(cfg.n_layer)) // a parser's duty, checked once here
        throw Error(cat(path, ": internal: the ", type, " parser described ", cfg.layers.size(), " of ", cfg.n_layer,
                        " layers"));
    cfg.bos_token_id = int(json_int_or(j, "bos_token_id", path, 0, cfg.vocab_size - 1, -1));
    if (auto e = j.find("eos_token_id"); e != j.end() && !e->is_null()) {
        const nlohmann::json list = e->is_array() ? *e : nlohmann::json::array({*e});
        for (const auto& id : list)
            cfg.eos_token_ids.push_back(
                int32_t(json_int(nlohmann::json{{"eos_token_id", id}}, "eos_token_id", path, 0, cfg.vocab_size - 1)));
    }
    if (auto a = j.find("architectures"); a != j.end() && a->is_array() && !a->empty() && (*a)[0].is_string())
        cfg.architecture = (*a)[0].get<std::string>();
    return cfg;
}

} // namespace attnscope
