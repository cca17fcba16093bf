// attnscope tokenize: prints token ids and tokens of texts with a model's tokenizer.
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

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

} // namespace attnscope::cli
