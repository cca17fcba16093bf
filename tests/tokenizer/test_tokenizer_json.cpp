// The tokenizer.json interpreter, offline: each component on a small hand-written file whose
// expected ids follow from Hugging Face's documented semantics; llama.cpp's test vectors from the
// GGUF vocabularies in tests/data; malformed GGUF and SentencePiece files. Parity with the
// Rust reference on real tokenizers is tests/tokenizer/parity_hf.sh (needs npm).
#include "io/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_file.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::test;
using nlohmann::json;

namespace {

const std::string kVectors = std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/tokenizer-vectors";
const std::string kSp = "\xE2\x96\x81"; // U+2581, SentencePiece's space

// A character-level BPE tokenizer over the given tokens (ids in order), with the given merges
// and components.
Tokenizer make(const std::vector<std::string>& tokens, const std::vector<std::pair<std::string, std::string>>& merges,
               json components = json::object(), json model_extra = json::object()) {
    TokenizerFile f;
    f.source = "test tokenizer.json";
    for (size_t i = 0; i < tokens.size(); ++i)
        f.add_vocab(tokens[i], int64_t(i));
    for (const auto& [a, b] : merges)
        f.add_merge(a, b);
    f.model = {{"type", "BPE"}};
    for (auto& [k, v] : model_extra.items())
        f.model[k] = v;
    if (components.contains("normalizer")) f.normalizer = components["normalizer"];
    if (components.contains("pre_tokenizer")) f.pre_tokenizer = components["pre_tokenizer"];
    if (components.contains("post_processor")) f.post_processor = components["post_processor"];
    if (components.contains("decoder")) f.decoder = components["decoder"];
    if (components.contains("added_tokens")) f.added_tokens = components["added_tokens"];
    return Tokenizer::from_file(std::move(f));
}

std::vector<std::string> pieces(const Tokenizer& t, const std::vector<int32_t>& ids) {
    std::vector<std::string> out;
    for (int32_t id : ids)
        out.push_back(id < 0 ? "?" : t.decode({id}));
    return out;
}

using Strings = std::vector<std::string>;

} // namespace

// Split with each behavior, as Hugging Face's SplitDelimiterBehavior defines it; the BPE has no
// merges, so the words show as the ids of whole-word tokens (ignore_merges looks words up).
TEST(TokenizerJson, SplitBehaviors) {
    const Strings toks = {"a", "b", "-", "a-", "-b", "a--", "--", "--b", "<unk>"};
    auto run = [&](const char* behavior, bool invert = false) {
        json pre = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
        const Tokenizer t = make(toks, {}, {{"pre_tokenizer", pre}}, {{"ignore_merges", true}, {"unk_token", "<unk>"}});
        return pieces(t, t.encode("a--b"));
    };
    EXPECT_EQ(run("Removed"), (Strings{"a", "b"}));
    EXPECT_EQ(run("Isolated"), (Strings{"a", "-", "-", "b"}));
    EXPECT_EQ(run("MergedWithPrevious"), (Strings{"a-", "-", "b"}));
    EXPECT_EQ(run("MergedWithNext"), (Strings{"a", "-", "-b"}));
    EXPECT_EQ(run("Contiguous"), (Strings{"a", "--", "b"}));
    EXPECT_EQ(run("Removed", true), (Strings{"-", "-"}));
}

// \s is Unicode's White_Space, as in Hugging Face's regex engine: U+0085 is whitespace, U+FEFF
// and U+180E are not (PCRE2's own \s takes U+180E, JavaScript's U+FEFF).
TEST(TokenizerJson, WhitespaceMeansWhiteSpace) {
    const Strings toks = {"<unk>", "a", "\xC2\x85", "\xEF\xBB\xBF", "\xE1\xA0\x8E", "\xC2\xA0", "\xE3\x80\x80"};
    json pre = {{"type", "Split"}, {"pattern", {{"Regex", "\\s"}}}, {"behavior", "Removed"}};
    const Tokenizer t = make(toks, {}, {{"pre_tokenizer", pre}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(t.encode("a\xC2\x85" "a"), (std::vector<int32_t>{1, 1}));             // U+0085 removed
    EXPECT_EQ(t.encode("a\xEF\xBB\xBF" "a"), (std::vector<int32_t>{1, 3, 1}));      // U+FEFF kept
    EXPECT_EQ(t.encode("a\xE1\xA0\x8E" "a"), (std::vector<int32_t>{1, 4, 1}));      // U+180E kept
    EXPECT_EQ(t.encode("a\xC2\xA0" "a\xE3\x80\x80"), (std::vector<int32_t>{1, 1})); // NBSP, U+3000 removed
    json pre2 = {{"type", "Split"}, {"pattern", {{"Regex", "[^\\s]+"}}}, {"behavior", "Removed"}};
    const Tokenizer t2 = make(toks, {}, {{"pre_tokenizer", pre2}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(t2.encode("a\xC2\x85" "a"), (std::vector<int32_t>{2})); // \s inside a class too
}

// SentencePiece style: Prepend + Replace normalizer, character symbols, byte fallback for unknown
// characters, unk fused when there is no byte token, BOS from the template, decoder strip.
TEST(TokenizerJson, SentencePieceStyle) {
    Strings toks = {"<unk>", "<s>", "</s>", kSp, "h", "i", kSp + "h", kSp + "hi"};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        toks.push_back(name);
    }
    json comps = json::object();
    comps["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]})");
    comps["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})");
    comps["decoder"] = json::parse(R"({"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})");
    comps["added_tokens"] = json::parse(R"([{"id": 0, "content": "<unk>", "special": true, "normalized": false},
        {"id": 1, "content": "<s>", "special": true, "normalized": false},
        {"id": 2, "content": "</s>", "special": true, "normalized": false}])");
    const std::vector<std::pair<std::string, std::string>> merges = {{kSp, "h"}, {kSp + "h", "i"}};
    const Tokenizer t = make(toks, merges, comps, {{"unk_token", "<unk>"}, {"byte_fallback", true}, {"fuse_unk", true}});
    const int32_t x0A = 8 + 0x0A, xC3 = 8 + 0xC3, xA9 = 8 + 0xA9;
    EXPECT_EQ(t.encode("hi hi"), (std::vector<int32_t>{1, 7, 7}));
    EXPECT_EQ(t.encode("hi hi", {.add_special_tokens = false}), (std::vector<int32_t>{7, 7}));
    EXPECT_EQ(t.encode(""), (std::vector<int32_t>{1}));                 // Prepend leaves empty text empty
    EXPECT_EQ(t.encode("h\n\xC3\xA9"), (std::vector<int32_t>{1, 6, x0A, xC3, xA9})); // byte fallback
    EXPECT_EQ(t.decode(t.encode("hi h\n\xC3\xA9", {.add_special_tokens = false})), "hi h\n\xC3\xA9"); // strip of "▁"
    // the normalizer applies to each piece between added tokens: "▁" before each
    EXPECT_EQ(t.encode("hi</s>hi", {.add_special_tokens = false}), (std::vector<int32_t>{7, 2, 7}));
    EXPECT_EQ(t.added_special_tokens(), (Strings{"<s>"}));
    EXPECT_EQ(t.display(x0A), "\\n");
    EXPECT_EQ(t.display(7), " hi");
    // without byte tokens, unknown characters become one fused <unk>
    const Tokenizer u = make({"<unk>", "h"}, {}, {}, {{"unk_token", "<unk>"}, {"fuse_unk", true}});
    EXPECT_EQ(u.encode("hxyzh"), (std::vector<int32_t>{1, 0, 1}));
    const Tokenizer v = make({"<unk>", "h"}, {}, {}, {{"unk_token", "<unk>"}, {"fuse_unk", false}});
    EXPECT_EQ(v.encode("hxyzh"), (std::vector<int32_t>{1, 0, 0, 0, 1}));
}

// Metaspace (prepend_scheme first: only at the start of the text, not after an added token),
// Digits, NFC/NFKC normalizers, added tokens with lstrip/rstrip, ignore_merges.
TEST(TokenizerJson, MetaspaceDigitsUnicodeAndAddedTokens) {
    const Strings toks = {"<unk>", kSp + "a", "a", kSp, "1", "2", "<x>", "\xC3\xA9", "e", "\xCC\x81", "fi", "b"};
    json meta = {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", "first"}, {"split", true}};
    json added = {{{"id", 6}, {"content", "<x>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}, {"normalized", false}}};
    const Tokenizer t = make(toks, {{kSp, "a"}}, {{"pre_tokenizer", meta}, {"added_tokens", added}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(t.encode("a a"), (std::vector<int32_t>{1, 1}));
    EXPECT_EQ(t.encode("a <x>  a"), (std::vector<int32_t>{1, 6, 2})); // spaces taken by the token; no "▁" after it
    json digits = {{"type", "Digits"}, {"individual_digits", true}};
    const Tokenizer d = make({"<unk>", "1", "2", "12", "a"}, {{"1", "2"}}, {{"pre_tokenizer", digits}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(d.encode("12a12"), (std::vector<int32_t>{1, 2, 4, 1, 2}));
    const Tokenizer d2 = make({"<unk>", "1", "2", "12", "a"}, {{"1", "2"}}, {}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(d2.encode("12a12"), (std::vector<int32_t>{3, 4, 3}));
    const Tokenizer nfc = make(toks, {}, {{"normalizer", {{"type", "NFC"}}}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(nfc.encode("e\xCC\x81"), (std::vector<int32_t>{7})); // e + combining acute -> é
    const Tokenizer nfd = make(toks, {}, {{"normalizer", {{"type", "NFD"}}}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(nfd.encode("\xC3\xA9"), (std::vector<int32_t>{8, 9}));
    const Tokenizer nfkc = make(toks, {}, {{"normalizer", {{"type", "NFKC"}}}}, {{"unk_token", "<unk>"}, {"ignore_merges", true}});
    EXPECT_EQ(nfkc.encode("\xEF\xAC\x81"), (std::vector<int32_t>{10})); // the ligature U+FB01 -> "fi"
}

// Found by the differential fuzzer (issue #31, tests/tokenizer/fuzz_regressions.jsonl): GLib stops
// at a NUL byte, so NFC (and Lowercase) cut "a\0b" to "a"; GLib's NFC reorders combining marks
// newer than Unicode 9.0, which the reference's normalizer does not know; PCRE2 10.42 reads letters
// and digits newer than Unicode 14.0 as unassigned, which Oniguruma (Unicode 16.0) does not.
TEST(TokenizerJson, NulBytesAndNewerCodePointsAsTheReferenceReadsThem) {
    const std::string nul("a\0b", 3);
    const Strings toks = {"<unk>", "a", std::string(1, '\0'), "b"};
    for (const char* kind : {"NFC", "NFKC", "NFD", "NFKD", "Lowercase"}) {
        const Tokenizer t = make(toks, {}, {{"normalizer", {{"type", kind}}}}, {{"unk_token", "<unk>"}});
        EXPECT_EQ(t.encode(nul), (std::vector<int32_t>{1, 2, 3})) << kind;
        const std::vector<int32_t> ids = t.encode(nul + "\xC3\xA9" + nul); // nothing after a NUL dropped
        ASSERT_GE(ids.size(), 7u) << kind;
        EXPECT_EQ(std::vector<int32_t>(ids.end() - 3, ids.end()), (std::vector<int32_t>{1, 2, 3})) << kind;
    }
    // U+1E136 (Unicode 12, combining class 230) then U+0335 (class 1): Unicode's NFC swaps them, the
    // reference's (Unicode 9.0) leaves them; likewise U+1ACE (14.0, 230) before U+0F37 (220).
    const std::string late_mark = "\xF0\x9E\x84\xB6", overlay = "\xCC\xB5", insular_t = "\xE1\xAB\x8E", tibetan = "\xE0\xBC\xB7";
    const Tokenizer nfc = make({"<unk>", late_mark, overlay, insular_t, tibetan}, {}, {{"normalizer", {{"type", "NFC"}}}},
                               {{"unk_token", "<unk>"}});
    EXPECT_EQ(nfc.encode(late_mark + overlay), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(nfc.encode(insular_t + tibetan), (std::vector<int32_t>{3, 4}));
    EXPECT_EQ(nfc.encode(overlay + "\xCC\x81" + late_mark), (std::vector<int32_t>{2, 0, 1})); // known marks still normalize
    // Split on \p{L}+ / \p{N}: U+1E060 (Lm, 15.0), U+1E5F7 (Nd, Ol Onal, 16.0), U+10940 (Sidetic, 17.0:
    // unassigned to the reference too). Removed matches: what is left is what is not a letter or digit.
    const std::string lm15 = "\xF0\x9E\x81\xA0", nd16 = "\xF0\x9E\x97\xB7", lo17 = "\xF0\x90\xA5\x80";
    json split = {{"type", "Split"}, {"pattern", {{"Regex", "[\\p{L}\\p{N}]+"}}}, {"behavior", "Removed"}};
    const Tokenizer re = make({"<unk>", lo17, "["}, {}, {{"pre_tokenizer", split}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(re.encode(lm15 + "[" + nd16 + lo17 + "a"), (std::vector<int32_t>{2, 1}));
    json not_letters = {{"type", "Split"}, {"pattern", {{"Regex", "\\P{L}+"}}}, {"behavior", "Removed"}};
    const Tokenizer re2 = make({"<unk>", lm15, "a"}, {}, {{"pre_tokenizer", not_letters}}, {{"unk_token", "<unk>"}});
    EXPECT_EQ(re2.encode(lm15 + "1[" + lo17 + "a"), (std::vector<int32_t>{1, 2}));
}

// Llama 3 has vocabulary entries no merge reaches: ignore_merges takes a word found whole.
TEST(TokenizerJson, IgnoreMerges) {
    const Strings toks = {"a", "b", "c", "ab", "abc"};
    const Tokenizer with = make(toks, {{"a", "b"}}, {}, {{"ignore_merges", true}});
    const Tokenizer without = make(toks, {{"a", "b"}}, {}, {{"ignore_merges", false}});
    EXPECT_EQ(with.encode("abc"), (std::vector<int32_t>{4}));
    EXPECT_EQ(without.encode("abc"), (std::vector<int32_t>{3, 2}));
}

namespace {

// llama.cpp's vectors: texts separated by "\n__ggml_vocab_test__\n", ids one line per text.
void check_vectors(const std::string& gguf, size_t expected_texts) {
    const Tokenizer tok = Tokenizer::load(gguf);
    std::ifstream in(gguf + ".inp"), out(gguf + ".out");
    std::stringstream a, b;
    a << in.rdbuf();
    b << out.rdbuf();
    std::string inp = a.str();
    std::vector<std::string> texts;
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t pos = 0; pos < inp.size();) {
        size_t at = inp.find(sep, pos);
        if (at == std::string::npos) at = inp.size();
        texts.push_back(inp.substr(pos, at - pos));
        pos = at + sep.size();
    }
    std::vector<std::vector<int32_t>> want;
    std::string line;
    while (std::getline(b, line)) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        for (int32_t v; ls >> v;)
            ids.push_back(v);
        want.push_back(ids);
    }
    ASSERT_EQ(texts.size(), expected_texts);
    ASSERT_EQ(want.size(), texts.size());
    size_t same = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        // the vectors are Hugging Face's encode(text, add_special_tokens=False)
        const auto got = tok.encode(texts[i], {.add_special_tokens = false});
        EXPECT_EQ(got, want[i]) << "text " << i << ": " << json(texts[i]).dump();
        same += got == want[i];
    }
    std::printf("[ vectors ] %s: %zu/%zu texts identical\n", gguf.c_str(), same, texts.size());
}

} // namespace

TEST(TokenizerGguf, LlamaCppVectorsLlamaSentencePiece) {
    check_vectors(kVectors + "/ggml-vocab-llama-spm.gguf", 46);
}

TEST(TokenizerGguf, LlamaCppVectorsGpt2) {
    check_vectors(kVectors + "/ggml-vocab-gpt-2.gguf", 46);
}

TEST(TokenizerGguf, LlamaAddsBosAndDecodes) {
    const std::string gguf = kVectors + "/ggml-vocab-llama-spm.gguf";
    const Tokenizer tok = Tokenizer::load(gguf);
    EXPECT_EQ(tok.encode("Hello world"), (std::vector<int32_t>{1, 15043, 3186}));
    EXPECT_EQ(tok.decode(tok.encode("Hello world", {.add_special_tokens = false})), "Hello world");
    EXPECT_EQ(tok.added_special_tokens(), (Strings{"<s>"}));
    EXPECT_EQ(tok.encode("<s>"), (std::vector<int32_t>{1, 1}));
}

namespace {

// A GGUF byte image with the given key/values (strings, arrays of strings, uint32).
struct GgufBuilder {
    std::string bytes;
    uint64_t n = 0;
    template <class T> void put(T v) { bytes.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void str(const std::string& s) {
        put<uint64_t>(s.size());
        bytes += s;
    }
    void kv_string(const std::string& k, const std::string& v) {
        str(k), put<uint32_t>(8), str(v), ++n;
    }
    void kv_strings(const std::string& k, const std::vector<std::string>& v) {
        str(k), put<uint32_t>(9), put<uint32_t>(8), put<uint64_t>(v.size());
        for (auto& s : v)
            str(s);
        ++n;
    }
    std::string image() const {
        std::string h = "GGUF";
        auto p = [&](auto v) { h.append(reinterpret_cast<const char*>(&v), sizeof v); };
        p(uint32_t(3)), p(uint64_t(0)), p(n);
        return h + bytes;
    }
};

} // namespace

TEST(TokenizerGgufBad, TruncatedAndLyingFilesAreRefused) {
    GgufBuilder g;
    g.kv_string("tokenizer.ggml.model", "gpt2");
    std::vector<std::string> toks;
    for (int b = 0; b < 256; ++b) {
        std::string s;
        const uint32_t cp = byte_to_unicode(uint8_t(b));
        if (cp < 0x80) s += char(cp);
        else s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
        toks.push_back(s);
    }
    toks.push_back("ab");
    g.kv_strings("tokenizer.ggml.tokens", toks);
    g.kv_strings("tokenizer.ggml.merges", {"a b"});
    const std::string good = g.image();
    TempDir dir;
    write_file(dir.file("ok.gguf"), good);
    const Tokenizer t = Tokenizer::load(dir.file("ok.gguf"));
    EXPECT_EQ(t.encode("abc"), (std::vector<int32_t>{256, 'c'})); // token ids are the bytes here
    // every truncation is refused, naming the file
    for (size_t cut : {size_t(3), size_t(10), size_t(30), good.size() / 2, good.size() - 1}) {
        write_file(dir.file("cut.gguf"), good.substr(0, cut));
        expect_error([&] { Tokenizer::load(dir.file("cut.gguf")); }, {"cut.gguf"});
    }
    // a count that cannot fit
    std::string lying = good;
    const size_t at = lying.find("tokenizer.ggml.tokens") + std::strlen("tokenizer.ggml.tokens") + 8;
    const uint64_t huge = uint64_t(1) << 40;
    std::memcpy(&lying[at], &huge, 8);
    write_file(dir.file("lying.gguf"), lying);
    expect_error([&] { Tokenizer::load(dir.file("lying.gguf")); }, {"lying.gguf", "tokenizer.ggml.tokens", "elements"});
    // wrong types and unknown models
    GgufBuilder w;
    w.kv_strings("tokenizer.ggml.model", {"gpt2"});
    write_file(dir.file("type.gguf"), w.image());
    expect_error([&] { Tokenizer::load(dir.file("type.gguf")); }, {"type.gguf", "tokenizer.ggml.model", "a string", "array"});
    GgufBuilder u;
    u.kv_string("tokenizer.ggml.model", "bert");
    write_file(dir.file("bert.gguf"), u.image());
    expect_error([&] { Tokenizer::load(dir.file("bert.gguf")); }, {"bert.gguf", "'bert'", "not supported"});
    GgufBuilder m;
    m.kv_string("tokenizer.ggml.model", "gpt2");
    m.kv_strings("tokenizer.ggml.tokens", toks);
    m.kv_strings("tokenizer.ggml.merges", {"a zz"});
    write_file(dir.file("merge.gguf"), m.image());
    expect_error([&] { Tokenizer::load(dir.file("merge.gguf")); }, {"merge.gguf", "'zz'", "not in the vocabulary"});
}

TEST(TokenizerSentencePiece, ModelAndLlama2cFilesAgree) {
    const std::string dir = std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/stories260K";
    const Tokenizer a = Tokenizer::load(dir + "/tok512.model"), b = Tokenizer::load(dir + "/tok512.bin");
    const std::string text = "Once upon a time, there was a little girl named Lily. She loved to play outside.\n\"Hi!\" 123";
    EXPECT_EQ(a.encode(text), b.encode(text));
    EXPECT_EQ(a.decode(a.encode(text, {.add_special_tokens = false})), text);
    TempDir t;
    write_file(t.file("bad.model"), std::string("\x0a\xff\xff\xff\xff\x0f", 6));
    expect_error([&] { Tokenizer::load(t.file("bad.model")); }, {"bad.model", "remain"});
    write_file(t.file("bad.bin"), std::string("\x07\x00\x00\x00\x00\x00\x00\x00\xff\x00\x00\x00", 12));
    expect_error([&] { Tokenizer::load(t.file("bad.bin")); }, {"bad.bin", "token 0", "length"});
}
