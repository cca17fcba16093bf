// The byte-level BPE tokenizer, offline: merge order, both file formats, special tokens, any
// bytes, display strings, and a clear Error for every malformed file. Parity with OpenAI's
// encoder on a large corpus is tests/tokenizer/parity.sh (needs npm).
#include "io/texts.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

using namespace attnscope;
using namespace attnscope::test;
using nlohmann::json;

namespace {

std::string sym(uint8_t b) { // the vocabulary string of one byte
    std::string s;
    const uint32_t cp = byte_to_unicode(b);
    if (cp < 0x80)
        s += char(cp);
    else {
        s += char(0xC0 | (cp >> 6));
        s += char(0x80 | (cp & 0x3F));
    }
    return s;
}

// 256 byte tokens (id = byte), then the merges' results in order, then <|endoftext|>.
struct Spec {
    json vocab = json::object();
    std::vector<std::pair<std::string, std::string>> merges;
    int next = 256;
    Spec() {
        for (int b = 0; b < 256; ++b)
            vocab[sym(uint8_t(b))] = b;
    }
    Spec& merge(const std::string& a, const std::string& b) {
        merges.push_back({a, b});
        if (!vocab.contains(a + b)) vocab[a + b] = next++;
        return *this;
    }
    int id(const std::string& t) const { return vocab.at(t).get<int>(); }
    void write_json(const std::string& path, bool pairs = false) const {
        json m = json::array();
        for (auto& [a, b] : merges)
            m.push_back(pairs ? json::array({a, b}) : json(a + " " + b));
        json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}}},
                  {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                  {"decoder", {{"type", "ByteLevel"}}},
                  {"added_tokens", json::array({{{"id", next}, {"content", "<|endoftext|>"}, {"special", true}}})}};
        write_file(path, j.dump());
    }
    void write_vocab_merges(const std::string& vocab_path, const std::string& merges_path) const {
        json v = vocab;
        v["<|endoftext|>"] = next;
        write_file(vocab_path, v.dump());
        std::string m = "#version: 0.2\n";
        for (auto& [a, b] : merges)
            m += a + " " + b + "\n";
        write_file(merges_path, m);
    }
};

const std::string G = "\xC4\xA0"; // 'Ġ', the byte-level symbol of a space

} // namespace

TEST(Tokenizer, MergesApplyByRankNotPosition) {
    TempDir dir;
    Spec s;
    s.merge("b", "c").merge("a", "b"); // "bc" outranks "ab"
    s.write_json(dir.file("tokenizer.json"));
    Tokenizer tok = Tokenizer::load(dir.str());
    EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{'a', s.id("bc")}));
    TempDir dir2;
    Spec r;
    r.merge("a", "b").merge("b", "c");
    r.write_json(dir2.file("tokenizer.json"));
    EXPECT_EQ(Tokenizer::load(dir2.str()).encode("abc"), (std::vector<int32_t>{r.id("ab"), 'c'}));
}

TEST(Tokenizer, RepeatedPairsMergeLeftToRight) {
    TempDir dir;
    Spec s;
    s.merge("a", "a").merge("aa", "aa");
    s.write_json(dir.file("tokenizer.json"));
    Tokenizer tok = Tokenizer::load(dir.str());
    EXPECT_EQ(tok.encode("aaa"), (std::vector<int32_t>{s.id("aa"), 'a'}));
    EXPECT_EQ(tok.encode("aaaaa"), (std::vector<int32_t>{s.id("aaaa"), 'a'}));
    // a very long word stays fast (heap-based merging) and exact
    const auto ids = tok.encode(std::string(100001, 'a'));
    EXPECT_EQ(ids.size(), 25001u);
    EXPECT_EQ(ids.back(), 'a');
}

TEST(Tokenizer, PreTokenizationSplitsLikeGpt2) {
    TempDir dir;
    Spec s;
    s.merge(G, "t").merge("h", "e").merge(G + "t", "he").merge("'", "s");
    s.write_json(dir.file("tokenizer.json"));
    Tokenizer tok = Tokenizer::load(dir.str());
    // " the" is one word (space joins the letters that follow); "'s" is a contraction
    EXPECT_EQ(tok.encode(" the"), (std::vector<int32_t>{s.id(G + "the")}));
    EXPECT_EQ(tok.encode("it's"), (std::vector<int32_t>{'i', 't', s.id("'s")}));
    // "a  the": the first space stays alone (\s+(?!\S)), the second joins "the"
    EXPECT_EQ(tok.encode("a  the"), (std::vector<int32_t>{'a', ' ', s.id(G + "the")}));
    EXPECT_EQ(tok.encode(""), std::vector<int32_t>{});
}

TEST(Tokenizer, BothFileFormatsAndMergeSpellingsAgree) {
    TempDir a, b, c;
    Spec s;
    s.merge(G, "t").merge("h", "e").merge(G + "t", "he").merge("i", "n").merge(G, "in");
    s.write_json(a.file("tokenizer.json"));
    s.write_json(b.file("tokenizer.json"), /*pairs=*/true);
    s.write_vocab_merges(c.file("vocab.json"), c.file("merges.txt"));
    Tokenizer ta = Tokenizer::load(a.str()), tb = Tokenizer::load(b.str()), tc = Tokenizer::load(c.str());
    EXPECT_NE(tc.source().find("merges.txt"), std::string::npos);
    for (const std::string& text : read_texts(std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/tokenizer/stress.jsonl")) {
        const auto ids = ta.encode(text);
        EXPECT_EQ(tb.encode(text), ids) << text;
        EXPECT_EQ(tc.encode(text), ids) << text;
        EXPECT_EQ(ta.decode(ids), text) << "decode(encode(x)) must give x back";
    }
    // tokenizer.json wins when both formats are present
    s.write_vocab_merges(a.file("vocab.json"), a.file("merges.txt"));
    EXPECT_NE(Tokenizer::load(a.str()).source().find("tokenizer.json"), std::string::npos);
}

// As Hugging Face: special tokens written in the text are recognised unless asked not to.
TEST(Tokenizer, SpecialTokensInTheText) {
    TempDir dir;
    Spec s;
    s.write_json(dir.file("tokenizer.json"));
    Tokenizer tok = Tokenizer::load(dir.str());
    const int eot = s.next;
    EXPECT_EQ(tok.encode("x<|endoftext|>y"), (std::vector<int32_t>{'x', eot, 'y'}));
    const auto plain = tok.encode("x<|endoftext|>y", {.parse_special = false});
    EXPECT_EQ(plain.size(), 15u); // every character a byte token: the marker is plain text
    EXPECT_TRUE(tok.is_special(eot));
    EXPECT_FALSE(tok.is_special('x'));
    EXPECT_EQ(tok.decode({'x', eot}), "x<|endoftext|>");
    EXPECT_EQ(tok.display(eot), "<|endoftext|>");
    EXPECT_EQ(tok.token_id("<|endoftext|>"), eot);
}

TEST(Tokenizer, AnyBytesAreAccepted) {
    TempDir dir;
    Spec s;
    s.merge("a", "b");
    s.write_json(dir.file("tokenizer.json"));
    Tokenizer tok = Tokenizer::load(dir.str());
    const std::string bad = "ab\xff\xfe ab\xc3 \xe2\x82 x\xed\xa0\x80"; // stray, truncated, surrogate
    const auto ids = tok.encode(bad);
    EXPECT_EQ(tok.decode(ids), bad);
    EXPECT_EQ(ids[0], s.id("ab"));
    EXPECT_EQ(ids[1], 0xff);
    EXPECT_EQ(ids[2], 0xfe);
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += char(b);
    EXPECT_EQ(tok.decode(tok.encode(all)), all);
}

TEST(Tokenizer, DisplayStringsAreReadable) {
    TempDir dir;
    Spec s;
    s.merge(G, "t");
    s.write_json(dir.file("tokenizer.json"));
    Tokenizer tok = Tokenizer::load(dir.str());
    EXPECT_EQ(tok.display(s.id(G + "t")), " t");
    EXPECT_EQ(tok.display('\n'), "\\n");
    EXPECT_EQ(tok.display('\t'), "\\t");
    EXPECT_EQ(tok.display(0x00), "\\x00");
    EXPECT_EQ(tok.display(0xff), "\\xff"); // a lone byte that is not UTF-8
    EXPECT_EQ(tok.display(tok.encode("é")), (std::vector<std::string>{"\\xc3", "\\xa9"}));
    expect_error([&] { tok.decode({100000}); }, {"token id 100000"});
}

TEST(TokenizerBad, MalformedFiles) {
    TempDir dir;
    write_file(dir.file("tokenizer.json"), "{\"model\": ");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "not valid JSON"});
    write_file(dir.file("tokenizer.json"), R"({"model": {"type": "WordPiece", "vocab": {}}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "'WordPiece'", "expected 'BPE'"});
    write_file(dir.file("tokenizer.json"),
               R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "pre_tokenizer", "'Whitespace'", "not supported"});
    write_file(dir.file("tokenizer.json"),
               R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "Precompiled"}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "normalizer", "'Precompiled'", "not supported"});
    write_file(dir.file("tokenizer.json"),
               R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "'(a'", "does not compile"});
    write_file(dir.file("tokenizer.json"),
               R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {}}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "post_processor", "'<s>'", "special_tokens"});
    write_file(dir.file("tokenizer.json"), R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "merge 0", "two strings"});
    write_file(dir.file("tokenizer.json"), R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "continuing_subword_prefix": "##"}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "continuing_subword_prefix", "not supported"});
    write_file(dir.file("tokenizer.json"), R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"id": "x"}]})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "added_tokens", "integer 'id'"});
    write_file(dir.file("tokenizer.json"),
               R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "no token for byte"});
    write_file(dir.file("tokenizer.json"), R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "'a'", "integer"});
    write_file(dir.file("tokenizer.json"), R"([1, 2])");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "JSON object"});

    Spec s;
    s.merges.push_back({"q", "zz"}); // names a token that does not exist
    s.write_json(dir.file("tokenizer.json"));
    expect_error([&] { Tokenizer::load(dir.str()); }, {"tokenizer.json", "merge 0", "'zz'", "not in the vocabulary"});
    std::filesystem::remove(dir.file("tokenizer.json"));
    s.write_vocab_merges(dir.file("vocab.json"), dir.file("merges.txt"));
    expect_error([&] { Tokenizer::load(dir.str()); }, {"merges.txt", "line 2", "'zz'"});
    write_file(dir.file("merges.txt"), "#version: 0.2\nab\n");
    expect_error([&] { Tokenizer::load(dir.str()); }, {"merges.txt", "line 2", "two tokens"});
    std::filesystem::remove(dir.file("merges.txt"));
    expect_error([&] { Tokenizer::load(dir.str()); }, {dir.str(), "no tokenizer.json"});
}

TEST(Texts, JsonLinesAndPlainLines) {
    TempDir dir;
    write_file(dir.file("in.jsonl"), "{\"text\": \"one\"}\n\n{\"text\": \"two\\nlines\", \"id\": 3}\r\n");
    EXPECT_EQ(read_texts(dir.file("in.jsonl")), (std::vector<std::string>{"one", "two\nlines"}));
    write_file(dir.file("in.txt"), "first line\n\nsecond {not json}\n");
    EXPECT_EQ(read_texts(dir.file("in.txt")), (std::vector<std::string>{"first line", "second {not json}"}));
    write_file(dir.file("bad.jsonl"), "{\"text\": \"ok\"}\n{\"text\": 5}\n");
    expect_error([&] { read_texts(dir.file("bad.jsonl")); }, {"bad.jsonl:2", "\"text\""});
    write_file(dir.file("bad2.jsonl"), "{\"text\": \"ok\"}\nnot json\n");
    expect_error([&] { read_texts(dir.file("bad2.jsonl")); }, {"bad2.jsonl:2", "not valid JSON"});
    write_file(dir.file("bin.txt"), "fine\nbad \xff byte\n");
    expect_error([&] { read_texts(dir.file("bin.txt")); }, {"bin.txt:2", "not valid UTF-8", "byte 5"});
    expect_error([&] { read_texts(dir.file("missing.txt")); }, {"missing.txt", "cannot open"});
}
