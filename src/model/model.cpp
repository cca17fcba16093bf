// Model loading: the directory layout of a Hugging Face checkpoint, the registry of
// architectures, and the weight loader that checks every tensor's shape before binding it.
// What the weights mean is each architecture's business (gpt2.cpp); this file only finds them.
#include "model/model.h"

#include "core/error.h"
#include "io/json.h"

#include <filesystem>
#include <set>
#include <sstream>

namespace attnscope {

namespace fs = std::filesystem;

const Architecture& gpt2_architecture();                       // gpt2.cpp
const Architecture& gpt_neox_architecture();                   // gpt_neox.cpp
const std::vector<Architecture>& llama_family_architectures(); // llama.cpp: llama, mistral, qwen2, qwen3, olmo, olmo2

namespace {
const std::vector<const Architecture*>& registry() {
    static const std::vector<const Architecture*> archs = [] {
        std::vector<const Architecture*> a = {&gpt2_architecture(), &gpt_neox_architecture()};
        for (const Architecture& member : llama_family_architectures())
            a.push_back(&member);
        return a;
    }();
    return archs;
}
} // namespace

const Architecture* find_architecture(const std::string& model_type) {
    for (const Architecture* a : registry())
        if (a->model_type == model_type) return a;
    return nullptr;
}

std::string supported_architectures() {
    std::string s;
    for (const Architecture* a : registry())
        s += (s.empty() ? "" : ", ") + a->model_type;
    return s;
}

WeightLoader::WeightLoader(Model& model, std::vector<std::shared_ptr<SafetensorsFile>> files)
    : model_(model), files_(std::move(files)) {}

const SafetensorsFile* WeightLoader::file_of(const std::string& name, const TensorInfo** info) const {
    for (const auto& f : files_)
        if (const TensorInfo* t = f->find(name)) {
            *info = t;
            return f.get();
        }
    return nullptr;
}

bool WeightLoader::has(const std::string& name) const {
    const TensorInfo* t;
    return file_of(name, &t) != nullptr;
}

std::vector<std::string> WeightLoader::names() const {
    std::vector<std::string> out;
    for (const auto& f : files_)
        for (const auto& t : f->tensors())
            out.push_back(t.name);
    return out;
}

const TensorInfo* WeightLoader::checked(const std::string& name, const std::vector<int64_t>& shape,
                                        const SafetensorsFile** file) {
    const TensorInfo* t = nullptr;
    const SafetensorsFile* f = file_of(name, &t);
    if (!f)
        throw Error(cat(model_.dir_, ": tensor '", name, "' (expected shape ", shape_str(shape),
                        ") is missing from the checkpoint"),
                    "the weights do not match config.json, or the file is incomplete");
    if (t->shape != shape)
        throw Error(cat(f->path(), ": tensor '", name, "' has shape ", shape_str(t->shape), ", expected ",
                        shape_str(shape), " from config.json"),
                    "the weights do not match config.json");
    const std::string dt = dtype_name(t->dtype);
    if (model_.weights_dtype_.empty())
        model_.weights_dtype_ = dt;
    else if (model_.weights_dtype_ != dt)
        model_.weights_dtype_ = "mixed";
    if (model_.bound_.insert(name).second) model_.n_params_ += t->numel();
    *file = f;
    return t;
}

const float* WeightLoader::get(const std::string& name, const std::vector<int64_t>& shape) {
    const SafetensorsFile* f = nullptr;
    const TensorInfo* t = checked(name, shape, &f);
    std::vector<float> storage;
    const float* p = f->as_f32(*t, storage);
    model_.weight_bytes_ += t->numel() * 4;
    if (!storage.empty()) {
        f->advise(*t, MappedFile::Use::done); // the stored bytes are not read again: off the RSS
        model_.converted_.push_back(std::move(storage));
        return model_.converted_.back().data(); // moving a vector keeps its heap buffer
    }
    model_.reads_mapping_ = true;
    return p;
}

MatrixView WeightLoader::matrix(const std::string& name, int64_t in, int64_t out, bool out_major) {
    const std::vector<int64_t> shape = out_major ? std::vector<int64_t>{out, in} : std::vector<int64_t>{in, out};
    const SafetensorsFile* f = nullptr;
    const TensorInfo* t = checked(name, shape, &f);
    // 16-bit kept as stored when its bytes are 2-byte aligned (they are in any file written with
    // element-aligned offsets), unless the model loads with weights_f32
    const bool half = t->dtype == DType::f16 || t->dtype == DType::bf16;
    if (!half || model_.load_options_.weights_f32 || reinterpret_cast<uintptr_t>(f->raw(*t)) % 2 != 0)
        return {get(name, shape), DType::f32, in, out, out_major};
    model_.weight_bytes_ += t->numel() * 2;
    model_.reads_mapping_ = true;
    return {f->raw(*t), t->dtype, in, out, out_major};
}

MatrixView WeightLoader::lm_head(const std::string& name, const std::string& hint) {
    const ModelConfig& c = model_.config_;
    if (c.tie_word_embeddings) return model_.tok_embd_;
    if (!has(name))
        throw Error(
            cat(model_.dir_, ": config.json leaves tie_word_embeddings false but the checkpoint has no '", name, "'"),
            hint);
    return matrix_out_in(name, c.n_embd, c.vocab_size);
}

std::shared_ptr<const Model> Model::load(const std::string& dir, const LoadOptions& options) {
    if (!fs::is_directory(dir))
        throw Error(cat(dir, ": not a directory"), "pass a Hugging Face model directory holding config.json");
    auto model = std::make_shared<Model>();
    model->dir_ = dir;
    model->load_options_ = options;
    const std::string cfg_path = (fs::path(dir) / "config.json").string();
    if (!fs::exists(cfg_path))
        throw Error(cat(dir, ": no config.json"),
                    "a Hugging Face model directory holds config.json and model.safetensors");
    model->config_ = read_model_config(cfg_path);

    // Weight files: one model.safetensors, or the shards of model.safetensors.index.json.
    std::vector<std::string> paths;
    const fs::path single = fs::path(dir) / "model.safetensors", index = fs::path(dir) / "model.safetensors.index.json";
    if (fs::exists(single)) {
        paths.push_back(single.string());
    } else if (fs::exists(index)) {
        const nlohmann::json j = read_json_file(index.string());
        auto wm = j.find("weight_map");
        if (!j.is_object() || wm == j.end() || !wm->is_object())
            throw Error(cat(index.string(), ": missing object 'weight_map'"));
        std::set<std::string> shards;
        for (const auto& [tensor, file] : wm->items()) {
            if (!file.is_string()) throw Error(cat(index.string(), ": weight_map['", tensor, "'] must be a file name"));
            const std::string f = file.get<std::string>();
            if (f.find('/') != std::string::npos || f == "..")
                throw Error(
                    cat(index.string(), ": shard name '", f, "' must be a plain file name in the model directory"));
            shards.insert(f);
        }
        for (const auto& s : shards)
            paths.push_back((fs::path(dir) / s).string());
    } else {
        const bool has_bin = fs::exists(fs::path(dir) / "pytorch_model.bin");
        throw Error(cat(dir, ": no model.safetensors (or model.safetensors.index.json)"),
                    has_bin
                        ? "only pytorch_model.bin is present; attnscope reads safetensors only (pickle files can run "
                          "code): convert it with safetensors.torch.save_file"
                        : "download the model's safetensors weights into this directory");
    }
    std::vector<std::shared_ptr<SafetensorsFile>> files;
    for (const auto& p : paths)
        files.push_back(std::make_shared<SafetensorsFile>(p));
    model->weight_files_ = paths;
    model->files_ = files;

    WeightLoader loader(*model, files);
    const Architecture* arch = find_architecture(model->config_.model_type);
    arch->bind_weights(*model, loader);
    return model;
}

namespace {
// One line on a block: its order, norm placement, window and rotary settings (docs/models.md).
std::string describe_layer(const ModelConfig& c, const LayerSpec& l) {
    std::string s = l.parallel ? "parallel attention and MLP" : "sequential";
    s += l.norm_placement == NormPlacement::pre    ? ", pre-norm"
         : l.norm_placement == NormPlacement::post ? ", post-norm"
                                                   : ", norms before and after";
    if (l.sliding_window > 0) s += cat(", sliding window ", l.sliding_window);
    if (c.positions == PositionKind::rotary) {
        s += cat(", rotary theta ", l.rope.theta);
        if (l.rotary_dim != c.d_head) s += cat(" on ", l.rotary_dim, " of ", c.d_head, " dims");
        if (l.rotary_pairs == RotaryPairs::interleaved) s += " (interleaved pairs)";
        if (l.rope.scaling == RopeScaling::llama3) s += ", llama3 scaling";
        if (l.rope.scaling == RopeScaling::linear) s += cat(", linear scaling x", l.rope.factor);
    }
    if (l.qk_norm != QkNorm::none) s += l.qk_norm == QkNorm::per_head ? ", q/k norms per head" : ", q/k norms";
    if (l.clip_qkv > 0) s += cat(", q/k/v clipped at ", l.clip_qkv);
    s += cat(", MLP ", l.mlp == MlpKind::gated ? "gated " : "", activation_name(l.activation));
    return s;
}

} // namespace

std::string Model::summary() const {
    const ModelConfig& c = config_;
    std::ostringstream os;
    os << "model:        " << dir_ << "\n"
       << "architecture: " << c.model_type << (c.architecture.empty() ? "" : " (" + c.architecture + ")") << "\n"
       << "layers:       " << c.n_layer << "\n"
       << "heads:        " << c.n_head << " x " << c.d_head << " (head width)"
       << (c.n_kv_head != c.n_head ? cat(", ", c.n_kv_head, " key/value heads (grouped-query)") : "") << "\n"
       << "width:        " << c.n_embd << " (MLP " << c.n_inner << ")\n"
       << "vocabulary:   " << c.vocab_size << "\n"
       << "context:      " << c.n_positions << " positions"
       << (c.positions == PositionKind::rotary ? " (rotary)" : " (learned position table)") << "\n";
    // one line when every block is alike, else one per run of alike blocks
    for (int il = 0; il < c.n_layer;) {
        int end = il + 1;
        while (end < c.n_layer && c.layer(end) == c.layer(il))
            ++end;
        os << (il == 0 && end == c.n_layer ? "blocks:       " : cat("blocks ", il, "-", end - 1, ":   "))
           << describe_layer(c, c.layer(il)) << "\n";
        il = end;
    }
    os << (c.norm == NormKind::rms_norm ? "RMS norm:     eps " : "layer norm:   eps ") << c.ln_eps << "\n"
       << "parameters:   " << n_params_
       << (lm_head_tied() ? " (lm_head tied to the embedding)" : " (with a separate lm_head)") << "\n"
       << "weights:      " << weights_dtype_ << " in " << weight_files_.size() << " file(s), "
       << cat(weight_bytes_ / 1000000, " MB in memory")
       << (load_options_.weights_f32 || weights_dtype_ == "F32" ? "" : " (16-bit matrices as stored, widened per tile)")
       << "\n";
    return os.str();
}

} // namespace attnscope
