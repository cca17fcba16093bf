// llama2.c -> Hugging Face: validate the header against the file size, then lay the tensors out
// under Llama's names ([out, in], as llama2.c stores them too), permuting wq and wk rows from
// interleaved to half-split rotary order, and write config.json last-but-one and the weights
// through the streaming safetensors writer (temporary name until complete).
#include "convert/llama2c.h"

#include "core/error.h"
#include "core/files.h"
#include "core/mmap.h"
#include "io/safetensors_writer.h"
#include "tokenizer/tokenizer_file.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>

namespace attnscope {

Llama2cInfo read_llama2c_header(const uint8_t* data, size_t size, const std::string& label) {
    if (size < 28) throw Error(cat(label, ": ", size, " bytes, too short for a llama2.c header (28 bytes)"));
    int32_t h[7];
    std::memcpy(h, data, sizeof h);
    if (uint32_t(h[0]) == 0x616b3432u)
        throw Error(cat(label, ": a llama2.c file of the newer versioned format (magic 'ak42')"),
                    "export it with llama2.c's export.py --version 0 (the legacy format)");
    Llama2cInfo in;
    in.dim = h[0], in.hidden_dim = h[1], in.n_layers = h[2], in.n_heads = h[3], in.n_kv_heads = h[4];
    in.shared_classifier = h[5] > 0;
    in.vocab_size = h[5] > 0 ? h[5] : (h[5] == INT32_MIN ? 0 : -h[5]);
    in.seq_len = h[6];
    auto check = [&](const char* what, int64_t v, int64_t lo, int64_t hi) {
        if (v < lo || v > hi)
            throw Error(cat(label, ": header field ", what, " = ", v, " is outside ", lo, "..", hi),
                        "is this a llama2.c model file?");
    };
    check("dim", in.dim, 2, 1 << 16);
    check("hidden_dim", in.hidden_dim, 1, 1 << 18);
    check("n_layers", in.n_layers, 1, 1024);
    check("n_heads", in.n_heads, 1, 1024);
    check("n_kv_heads", in.n_kv_heads, 1, in.n_heads);
    check("vocab_size", in.vocab_size, 1, 1 << 22);
    check("seq_len", in.seq_len, 1, 1 << 20);
    if (in.dim % in.n_heads != 0 || (in.dim / in.n_heads) % 2 != 0 || in.n_heads % in.n_kv_heads != 0)
        throw Error(cat(label, ": dim = ", in.dim, ", n_heads = ", in.n_heads, ", n_kv_heads = ", in.n_kv_heads,
                        " do not give an even head width shared by whole groups of heads"));
    const int64_t D = in.dim, F = in.hidden_dim, L = in.n_layers, V = in.vocab_size, hs = D / in.n_heads;
    const int64_t KV = hs * in.n_kv_heads;
    in.n_params = V * D + L * (2 * D + D * D + 2 * D * KV + D * D + 3 * D * F) + D + (in.shared_classifier ? 0 : V * D);
    const int64_t floats = in.n_params + int64_t(in.seq_len) * hs; // + the two rotary tables
    const uint64_t want = 28 + uint64_t(floats) * 4;
    if (size != want)
        throw Error(cat(label, ": the header describes ", want, " bytes (", floats, " floats after 28 bytes), the file has ",
                        size),
                    "the file is truncated, or its header does not match its weights");
    return in;
}

Llama2cInfo convert_llama2c(const std::string& bin, const std::string& tokenizer, const std::string& out_dir) {
    namespace fs = std::filesystem;
    const MappedFile file(bin);
    const Llama2cInfo in = read_llama2c_header(file.data(), file.size(), bin);
    if (fs::exists(fs::path(out_dir) / "config.json"))
        throw Error(cat(out_dir, ": already holds a config.json"), "choose a new --output directory");
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) throw Error(cat(out_dir, ": cannot create the directory: ", ec.message()));

    const int64_t D = in.dim, F = in.hidden_dim, L = in.n_layers, V = in.vocab_size, H = in.n_heads;
    const int64_t Hkv = in.n_kv_heads, hs = D / H, KV = Hkv * hs;
    const float* p = reinterpret_cast<const float*>(file.data() + 28); // 4-byte aligned: mmap + 28
    auto take = [&](int64_t n) {
        const float* t = p;
        p += n;
        return t;
    };
    const float* emb = take(V * D);
    const float* rms_att = take(L * D);
    const float* wq = take(L * D * D);
    const float* wk = take(L * KV * D);
    const float* wv = take(L * KV * D);
    const float* wo = take(L * D * D);
    const float* rms_ffn = take(L * D);
    const float* w1 = take(L * F * D);
    const float* w2 = take(L * D * F);
    const float* w3 = take(L * F * D);
    const float* rms_final = take(D);
    take(int64_t(in.seq_len) * hs); // freq_cis_real and _imag: Hugging Face computes its own
    const float* wcls = in.shared_classifier ? emb : take(V * D);

    SafetensorsWriter w((fs::path(out_dir) / "model.safetensors").string(), DType::f32,
                        {{"format", "pt"}, {"source", "llama2.c: " + fs::path(bin).filename().string()}});
    struct Item {
        const float* data;
        int64_t rows, cols;
        int64_t permute_heads; // > 0: interleaved rotary rows -> half-split, per head
    };
    std::vector<Item> items;
    auto add = [&](const std::string& name, const float* data, int64_t rows, int64_t cols, int64_t permute = 0) {
        w.declare(name, cols > 0 ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{rows});
        items.push_back({data, rows, cols, permute});
    };
    add("model.embed_tokens.weight", emb, V, D);
    for (int64_t il = 0; il < L; ++il) {
        const std::string n = "model.layers." + std::to_string(il) + ".";
        add(n + "input_layernorm.weight", rms_att + il * D, D, 0);
        add(n + "self_attn.q_proj.weight", wq + il * D * D, D, D, H);
        add(n + "self_attn.k_proj.weight", wk + il * KV * D, KV, D, Hkv);
        add(n + "self_attn.v_proj.weight", wv + il * KV * D, KV, D);
        add(n + "self_attn.o_proj.weight", wo + il * D * D, D, D);
        add(n + "post_attention_layernorm.weight", rms_ffn + il * D, D, 0);
        add(n + "mlp.gate_proj.weight", w1 + il * F * D, F, D);
        add(n + "mlp.down_proj.weight", w2 + il * D * F, D, F);
        add(n + "mlp.up_proj.weight", w3 + il * F * D, F, D);
    }
    add("model.norm.weight", rms_final, D, 0);
    if (!in.shared_classifier) add("lm_head.weight", wcls, V, D);
    w.begin();
    std::vector<float> rows;
    for (size_t k = 0; k < items.size(); ++k) {
        const Item& it = items[k];
        const int64_t cols = std::max<int64_t>(it.cols, 1);
        if (it.permute_heads == 0) {
            w.write_part(k, 0, it.data, it.rows * cols);
            continue;
        }
        // head h's row 2i goes to row i, row 2i + 1 to row i + hs/2
        rows.resize(size_t(it.rows * cols));
        for (int64_t h = 0; h < it.permute_heads; ++h)
            for (int64_t i = 0; i < hs / 2; ++i)
                for (int64_t half = 0; half < 2; ++half) {
                    const float* src = it.data + (h * hs + 2 * i + half) * cols;
                    std::copy(src, src + cols, rows.data() + (h * hs + i + half * hs / 2) * cols);
                }
        w.write_part(k, 0, rows.data(), it.rows * cols);
    }
    w.finish();

    // BOS 1, EOS 2 as in llama2.c's tokenizers (run.c starts from 1 and stops at 1 or 2)
    const nlohmann::ordered_json cfg = {{"model_type", "llama"},
                                        {"architectures", {"LlamaForCausalLM"}},
                                        {"hidden_size", D},
                                        {"intermediate_size", F},
                                        {"num_hidden_layers", L},
                                        {"num_attention_heads", H},
                                        {"num_key_value_heads", Hkv},
                                        {"vocab_size", V},
                                        {"max_position_embeddings", in.seq_len},
                                        {"rms_norm_eps", 1e-5},
                                        {"rope_theta", 10000.0},
                                        {"hidden_act", "silu"},
                                        {"tie_word_embeddings", in.shared_classifier},
                                        {"bos_token_id", 1},
                                        {"eos_token_id", 2},
                                        {"torch_dtype", "float32"},
                                        {"converted_from", "llama2.c " + fs::path(bin).filename().string()}};
    if (!tokenizer.empty()) {
        const std::string ext = fs::path(tokenizer).extension().string();
        if (ext != ".model" && ext != ".bin")
            throw Error(cat(tokenizer, ": expected a SentencePiece .model or a llama2.c tokenizer .bin"));
        const fs::path dest = fs::path(out_dir) / ("tokenizer" + ext);
        fs::copy_file(tokenizer, dest, fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error(cat(tokenizer, ": cannot copy into ", out_dir, ": ", ec.message()));
        fs::permissions(dest, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
        // and as the tokenizer.json Hugging Face's Llama converter makes of it
        const SentencePieceVocab v = ext == ".model" ? read_sentencepiece_model(tokenizer) : read_llama2c_tokenizer(tokenizer);
        if (int64_t(v.pieces.size()) != in.vocab_size)
            throw Error(cat(tokenizer, ": ", v.pieces.size(), " tokens, the model's vocabulary has ", in.vocab_size),
                        "give the tokenizer the model was trained with");
        write_tokenizer_json(sentencepiece_tokenizer(v, tokenizer), (fs::path(out_dir) / "tokenizer.json").string());
    }
    write_file_atomic((fs::path(out_dir) / "config.json").string(), cfg.dump(2) + "\n");
    return in;
}

} // namespace attnscope
