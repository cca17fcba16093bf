// The tokenizer pipeline of Hugging Face's fast tokenizers, interpreted from a tokenizer.json's own
// description (or a description built from GGUF, SentencePiece or llama2.c files). The stages are
// one file each (stages.h): added_tokens.cpp, normalizer.cpp, pre_tokenizer.cpp, bpe.cpp; this
// file reads a description into them, runs them in Hugging Face's order, adds what the
// post-processor's template says (BOS), and turns ids back into bytes as the decoder does:
//   1. added tokens are found in the raw text first; the text between them is processed alone;
//   2. the normalizer rewrites each such piece (then normalized added tokens are found in it);
//   3. the pre-tokenizer cuts it into words;  4. BPE turns each word into ids;
//   5. the post-processor adds its tokens when special tokens are asked for.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/mmap.h"
#include "core/utf8.h"
#include "io/gguf.h"
#include "io/json.h"
#include "tokenizer/stages.h"
#include "tokenizer/tokenizer_file.h"

#include <glib.h>

#include <filesystem>
#include <unordered_map>

namespace attnscope {

namespace {

bool is_special_name(const std::string& s) {
    return s.size() > 4 && s.rfind("<|", 0) == 0 && s.substr(s.size() - 2) == "|>";
}

} // namespace

struct Tokenizer::Impl {
    std::string source;
    Normalizer normalizer;
    PreTokenizer pre;
    BpeModel bpe;
    AddedTokens added;
    std::vector<std::string> token_bytes;        // id -> its bytes as the decoder writes them
    std::vector<uint8_t> special;                // id -> a special added token
    std::vector<int32_t> prefix_ids, suffix_ids; // what the post-processor adds around a text
    std::vector<std::string> prefix_tokens, suffix_tokens;
    size_t decode_strip = 0; // leading spaces the decoder removes

    void build(const TokenizerFile& f) {
        source = f.source;
        normalizer.read(f.normalizer, f.source + ": normalizer");
        pre.read(f.pre_tokenizer, f.source + ": pre_tokenizer");
        bpe.read(f, pre.byte_level());
        added.read(f.added_tokens, f.source + ": added_tokens");
        int32_t max_id = bpe.max_id;
        for (const auto& a : added.tokens()) {
            bpe.vocab.assign(a.content, a.id); // an added token's string names it, as in Hugging Face
            max_id = std::max(max_id, a.id);
        }
        token_bytes.resize(size_t(max_id + 1));
        special.assign(size_t(max_id + 1), 0);
        for (const auto& a : added.tokens())
            special[size_t(a.id)] = a.special;
        added.finish(!normalizer.empty());
        bpe.finish(f.source);
        read_post(f.post_processor, f.source + ": post_processor");
        std::vector<std::pair<std::string, std::string>> replaces;
        bool dec_fallback = false, dec_bytes = false;
        read_decoder(f.decoder, f.source + ": decoder", replaces, dec_fallback, dec_bytes);
        // every token's bytes, as the decoder writes it alone
        bpe.vocab.for_each([&](std::string_view name, int32_t id) {
            std::string& b = token_bytes[size_t(id)];
            if ((bpe.byte_level || dec_bytes) && vocab_string_to_bytes(name, &b)) return;
            b = name;
            if (dec_fallback && name.size() == 6 && name.rfind("<0x", 0) == 0 && name[5] == '>') {
                const int hi = g_ascii_xdigit_value(name[3]), lo = g_ascii_xdigit_value(name[4]);
                if (hi >= 0 && lo >= 0) {
                    b = std::string(1, char(hi * 16 + lo));
                    return;
                }
            }
            for (const auto& [from, to] : replaces)
                for (size_t at = b.find(from); at != std::string::npos; at = b.find(from, at + to.size()))
                    b.replace(at, from.size(), to);
        });
        for (const auto& a : added.tokens())
            token_bytes[size_t(a.id)] = a.content;
        for (const auto* ids : {&prefix_ids, &suffix_ids})
            for (int32_t id : *ids)
                if (id < 0 || size_t(id) >= token_bytes.size())
                    throw Error(cat(f.source, ": post_processor adds id ", id, ", beyond the vocabulary"));
    }

    void read_post(const nlohmann::json& j, const std::string& where) {
        if (j.is_null()) return;
        const std::string t = component_type(j, where);
        if (t == "Sequence") {
            if (!j.contains("processors") || !j["processors"].is_array())
                throw Error(cat(where, ": Sequence needs an array 'processors'"));
            for (size_t i = 0; i < j["processors"].size(); ++i)
                read_post(j["processors"][i], cat(where, ".processors[", i, "]"));
            return;
        }
        if (t == "ByteLevel") return; // offsets only
        auto pair_of = [&](const char* key) {
            if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][0].is_string() ||
                !j[key][1].is_number_integer())
                throw Error(cat(where, ": ", t, " needs '", key, "' as [token, id]"));
            return std::make_pair(j[key][0].get<std::string>(), j[key][1].get<int32_t>());
        };
        if (t == "BertProcessing" || t == "RobertaProcessing") {
            const auto cls = pair_of("cls"), sep = pair_of("sep");
            prefix_ids.push_back(cls.second), prefix_tokens.push_back(cls.first);
            suffix_ids.push_back(sep.second), suffix_tokens.push_back(sep.first);
            return;
        }
        if (t != "TemplateProcessing")
            throw Error(cat(where, ": post-processor '", t, "' is not supported"),
                        "supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence");
        if (!j.contains("single") || !j["single"].is_array()) throw Error(cat(where, ": TemplateProcessing needs an array 'single'"));
        const nlohmann::json specials = j.value("special_tokens", nlohmann::json::object());
        bool seen_a = false;
        for (const auto& item : j["single"]) {
            if (item.contains("Sequence")) {
                if (item["Sequence"].value("id", "") != "A")
                    throw Error(cat(where, ": single template names sequence ", item["Sequence"].dump(), "; expected A"));
                seen_a = true;
            } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id") &&
                       item["SpecialToken"]["id"].is_string()) {
                const std::string name = item["SpecialToken"]["id"].get<std::string>();
                auto sp = specials.find(name);
                if (sp == specials.end() || !sp->contains("ids") || !(*sp)["ids"].is_array())
                    throw Error(cat(where, ": the template's special token '", name, "' is not in special_tokens"));
                for (const auto& id : (*sp)["ids"]) {
                    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t(1) << 24))
                        throw Error(cat(where, ": special token '", name, "' has id ", id.dump()));
                    (seen_a ? suffix_ids : prefix_ids).push_back(id.get<int32_t>());
                    (seen_a ? suffix_tokens : prefix_tokens).push_back(name);
                }
            } else {
                throw Error(cat(where, ": template item ", item.dump(), " is neither Sequence nor SpecialToken"));
            }
        }
        if (!seen_a) throw Error(cat(where, ": the single template has no $A"));
    }

    // Per-token bytes as the decoder writes them; sequence-level effects (Strip) are kept aside.
    void read_decoder(const nlohmann::json& j, const std::string& where, std::vector<std::pair<std::string, std::string>>& replaces,
                      bool& bytes_fallback, bool& bytes_level) {
        if (j.is_null()) return;
        const std::string t = component_type(j, where);
        if (t == "Sequence") {
            if (!j.contains("decoders") || !j["decoders"].is_array()) throw Error(cat(where, ": Sequence needs an array 'decoders'"));
            for (size_t i = 0; i < j["decoders"].size(); ++i)
                read_decoder(j["decoders"][i], cat(where, ".decoders[", i, "]"), replaces, bytes_fallback, bytes_level);
        } else if (t == "ByteLevel") {
            bytes_level = true;
        } else if (t == "ByteFallback") {
            bytes_fallback = true;
        } else if (t == "Fuse") {
        } else if (t == "Replace") {
            Pattern p = Pattern::read(j.value("pattern", nlohmann::json()), where + ".pattern");
            if (p.regex) throw Error(cat(where, ": a Replace decoder with a regex is not supported"));
            replaces.emplace_back(p.literal, json_string_or(j, "content", where, ""));
        } else if (t == "Strip") {
            if (json_string_or(j, "content", where, " ") != " ") throw Error(cat(where, ": Strip of other than spaces is not supported"));
            decode_strip = size_t(json_int_or(j, "start", where, 0, 1 << 20, 0));
        } else if (t == "Metaspace") {
            std::string r = json_string_or(j, "replacement", where, "\xE2\x96\x81");
            replaces.emplace_back(r, " ");
            std::string scheme = json_string_or(j, "prepend_scheme", where, "");
            if (scheme.empty()) scheme = json_bool_or(j, "add_prefix_space", where, true) ? "always" : "never";
            if (scheme != "never") decode_strip = 1;
        } else {
            throw Error(cat(where, ": decoder '", t, "' is not supported"),
                        "supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace");
        }
    }

    // Normalize, pre-tokenize and BPE one piece of text that holds no (unnormalized) added token.
    void encode_text(std::string_view text, bool first, bool parse_special, std::vector<int32_t>& out) const {
        std::forward_list<std::string> arena; // pieces the steps rewrote (stable addresses)
        std::string_view s = text;
        if (!normalizer.empty()) {
            arena.push_front(normalizer.apply(text));
            s = arena.front();
        }
        auto words = [&](std::string_view t, bool at_start) {
            std::vector<Piece> pieces{{t, at_start}};
            pre.apply(pieces, arena);
            for (const Piece& p : pieces)
                bpe.encode_word(p.text, out);
        };
        if (!added.split_after_normalizing()) {
            words(s, first);
            return;
        }
        added.split(s, true, parse_special, [&](std::string_view piece, int32_t id, size_t at) {
            if (id >= 0) out.push_back(id);
            else if (!piece.empty()) words(piece, first && at == 0);
        });
    }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(TokenizerFile f) {
    auto impl = std::make_unique<Impl>();
    impl->build(f);
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
    return from_file(read_tokenizer_json(path));
}

Tokenizer Tokenizer::from_gguf(const std::string& path) {
    return from_file(tokenizer_file_from_gguf(path));
}

Tokenizer Tokenizer::from_vocab_merges(const std::string& vocab_path, const std::string& merges_path) {
    // GPT-2's two files say what tokenizer.json says of GPT-2: byte-level BPE with its pattern
    TokenizerFile f;
    f.source = vocab_path + " + " + merges_path;
    const nlohmann::json v = read_json_file(vocab_path);
    if (!v.is_object()) throw Error(cat(vocab_path, ": expected a JSON object {token: id}, found ", v.type_name()));
    for (const auto& [tok, id] : v.items()) {
        if (!id.is_number_integer())
            throw Error(cat(vocab_path, ": '", tok, "' must map to an integer id, found ", id.type_name()));
        f.add_vocab(tok, id.get<int64_t>());
        if (is_special_name(tok))
            f.added_tokens.push_back({{"id", id}, {"content", tok}, {"special", true}, {"normalized", false}});
    }
    std::unordered_map<std::string, bool> known;
    for (size_t i = 0; i < f.n_vocab(); ++i)
        known.emplace(f.vocab_tokens[i], true);
    MappedFile m(merges_path);
    const std::string_view text(reinterpret_cast<const char*>(m.data()), m.size());
    size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string line(text.substr(pos, eol - pos));
        pos = eol + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
        const std::string where = cat(merges_path, ": line ", line_no);
        const size_t sp = line.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() || line.find(' ', sp + 1) != std::string::npos)
            throw Error(cat(where, ": '", line.substr(0, 80), "' is not two tokens separated by one space"));
        std::string a = line.substr(0, sp), b = line.substr(sp + 1);
        for (const std::string& t : {a, b, a + b})
            if (!known.count(t))
                throw Error(cat(where, ": merge '", line, "' names '", t, "', which is not in the vocabulary"),
                            "the merges and the vocabulary come from different tokenizers");
        f.add_merge(a, b);
    }
    f.model = {{"type", "BPE"}};
    f.pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    f.decoder = {{"type", "ByteLevel"}};
    return from_file(std::move(f));
}

Tokenizer Tokenizer::load(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    if (fs::is_regular_file(p)) {
        if (is_gguf_file(path)) return from_gguf(path);
        if (p.extension() == ".bin") return from_file(sentencepiece_tokenizer(read_llama2c_tokenizer(path), path));
        if (p.extension() == ".model") return from_file(sentencepiece_tokenizer(read_sentencepiece_model(path), path));
        return from_tokenizer_json(path);
    }
    if (fs::exists(p / "tokenizer.json")) return from_tokenizer_json((p / "tokenizer.json").string());
    if (fs::exists(p / "vocab.json") && fs::exists(p / "merges.txt"))
        return from_vocab_merges((p / "vocab.json").string(), (p / "merges.txt").string());
    if (fs::exists(p / "tokenizer.model")) {
        const std::string model = (p / "tokenizer.model").string();
        return from_file(sentencepiece_tokenizer(read_sentencepiece_model(model), model));
    }
    if (fs::exists(p / "tokenizer.bin")) {
        const std::string bin = (p / "tokenizer.bin").string();
        return from_file(sentencepiece_tokenizer(read_llama2c_tokenizer(bin), bin));
    }
    throw Error(cat(path, ": no tokenizer.json, no vocab.json + merges.txt, no tokenizer.model, no tokenizer.bin"),
                "a model directory needs its tokenizer files (from the same Hugging Face repository), or give "
                "--tokenizer FILE (tokenizer.json or .gguf)");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
    const Impl& m = *impl_;
    std::vector<int32_t> out;
    if (options.add_special_tokens) out = m.prefix_ids;
    m.added.split(text, false, options.parse_special, [&](std::string_view piece, int32_t id, size_t at) {
        if (id >= 0) out.push_back(id);
        else m.encode_text(piece, at == 0, options.parse_special, out);
    });
    if (options.add_special_tokens) out.insert(out.end(), m.suffix_ids.begin(), m.suffix_ids.end());
    return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) {
        if (id < 0 || size_t(id) >= impl_->token_bytes.size())
            throw Error(
                cat("decode: token id ", id, " is outside the vocabulary [0, ", impl_->token_bytes.size(), ")"));
        out += impl_->token_bytes[size_t(id)];
    }
    size_t strip = 0;
    while (strip < impl_->decode_strip && strip < out.size() && out[strip] == ' ')
        ++strip;
    return out.substr(strip);
}

std::string Tokenizer::display(int32_t id) const {
    if (id < 0 || size_t(id) >= impl_->token_bytes.size()) return cat("<", id, "?>");
    const std::string& b = impl_->token_bytes[size_t(id)];
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (size_t i = 0; i < b.size();) {
        const auto c = uint8_t(b[i]);
        const size_t n = utf8_length(b, i);
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\r')
            out += "\\r";
        else if (n == 0 || c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out.append(b, i, n);
            i += n;
            continue;
        }
        ++i;
    }
    return out;
}

std::vector<std::string> Tokenizer::display(const std::vector<int32_t>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int32_t id : ids)
        out.push_back(display(id));
    return out;
}

int32_t Tokenizer::vocab_size() const {
    return int32_t(impl_->token_bytes.size());
}

std::optional<int32_t> Tokenizer::token_id(const std::string& token) const {
    const int32_t* id = impl_->bpe.vocab.find(token);
    if (!id) return std::nullopt;
    return *id;
}

bool Tokenizer::is_special(int32_t id) const {
    return id >= 0 && size_t(id) < impl_->special.size() && impl_->special[size_t(id)];
}

std::vector<std::string> Tokenizer::added_special_tokens() const {
    std::vector<std::string> out = impl_->prefix_tokens;
    out.insert(out.end(), impl_->suffix_tokens.begin(), impl_->suffix_tokens.end());
    return out;
}

const std::string& Tokenizer::source() const {
    return impl_->source;
}

} // namespace attnscope
