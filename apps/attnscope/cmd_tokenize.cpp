// attnscope tokenize: prints token ids and tokens of texts with a model's tokenizer.
#include "cli.h"

namespace attnscope::cli {

int cmd_tokenize(const Args& args) {
    // a tokenizer file or a directory with only tokenizer files is enough here; model names
    // resolve as for any model
    const std::string given = args.get("--tokenizer"), m = args.get("--model");
    if (given.empty() == m.empty())
        throw Error("tokenize: give --tokenizer PATH (tokenizer.json, a folder, or .gguf) or --model M",
                    "attnscope tokenize --tokenizer path/to/tokenizer.json --text \"Hello\"");
    const Tokenizer tok = Tokenizer::load(!given.empty()               ? given
                                          : std::filesystem::exists(m) ? m
                                                                       : resolve_model(m).path);
    std::vector<std::string> texts = args.all("--text");
    const std::string input = args.get("--input");
    if (!input.empty()) {
        if (!texts.empty()) throw Error("tokenize: give --text or --input, not both");
        texts = read_texts(input);
    } else if (texts.empty()) {
        throw Error("tokenize: nothing to tokenize", "give --text \"some text\" or --input FILE");
    }
    const EncodeOptions opts{.add_special_tokens = !args.has("--no-special"),
                             .parse_special = !args.has("--split-special")};
    std::string out;
    for (size_t i = 0; i < texts.size(); ++i) {
        std::vector<int32_t> ids;
        try {
            ids = tok.encode(texts[i], opts);
        } catch (const Error& e) { // say which text: the tokenizer only knows the byte offset
            throw Error(cat("tokenize: text ", i, ": ", e.what()));
        }
        nlohmann::json j = {{"ids", ids}, {"tokens", tok.display(ids)}};
        out = j.dump();
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
}

extern const Verb verb_tokenize{
    "tokenize",
    "(--tokenizer PATH | --model M) (--text T ... | --input FILE) [options]",
    "token ids of texts, exactly as Hugging Face's tokenizer gives them",
    "Prints one JSON object per text, {\"ids\": [...], \"tokens\": [...]}: the ids of Hugging Face's "
    "tokenizer(text). Special tokens written in the text (<|endoftext|>, <s>) are recognised and what the "
    "post-processor adds (Llama's BOS) is added, as in Hugging Face.",
    join({{{"--tokenizer", "PATH", "",
            "a tokenizer.json, a folder with one (or vocab.json + merges.txt), a .gguf, or a llama2.c tokenizer .bin"},
           model_option()},
          text_options(),
          {{"--no-special", "", "", "add no special tokens (add_special_tokens=False)"},
           {"--split-special", "", "", "read special tokens written in the text as plain text"}}}),
    cmd_tokenize};

} // namespace attnscope::cli
