// The attnscope command-line program: parses arguments, calls the library, and turns any
// exception into one line on stderr and a non-zero exit code. No analysis happens here.
#include <attnscope/attnscope.h>

#include "io/texts.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace attnscope;

namespace {

const char* kUsage = R"(attnscope — capture and analyze attention in transformer language models

usage: attnscope [--threads N] <command> [options]

commands:
  info --model DIR     print a model's summary (architecture, sizes, parameters, weights)
  hooks --model DIR    list every hook point of the model, with its shape
  tokenize --model DIR (--text T ... | --input FILE) [--special]
                       one JSON object per text: {"ids": [...], "tokens": [...]}; FILE is JSON
                       Lines ({"text": ...} per line) if it ends in .jsonl, else one text per line;
                       --special recognises special tokens such as <|endoftext|> in the text
  help                 this text

options:
  --threads N          threads for matrix products and attention (default: all cores)
  --version            print the version and exit
  -h, --help           this text

Models are Hugging Face GPT-2 checkpoint directories (config.json + model.safetensors).
Coming with later issues: run, analyze, plot, view, report, heads, demo, tokenize, models.
)";

struct Args {
    std::vector<std::string> rest;
    bool has(const std::string& flag) const {
        for (const auto& a : rest)
            if (a == flag) return true;
        return false;
    }
    // Every value given after `flag` up to the next option (--text a b --text c -> a, b, c).
    std::vector<std::string> all(const std::string& flag) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < rest.size(); ++i)
            if (rest[i] == flag)
                for (size_t k = i + 1; k < rest.size() && rest[k].rfind("--", 0) != 0; ++k)
                    out.push_back(rest[k]);
        return out;
    }
    std::string get(const std::string& flag) const {
        for (size_t i = 0; i + 1 < rest.size(); ++i)
            if (rest[i] == flag) return rest[i + 1];
        return {};
    }
    std::string require(const std::string& flag, const std::string& command) const {
        std::string v = get(flag);
        if (v.empty())
            throw Error(cat(command, ": missing ", flag), cat("usage: attnscope ", command, " ", flag, " DIR"));
        return v;
    }
};

std::string hook_shape(const ModelConfig& c, Hook h) {
    const std::string T = "T", D = std::to_string(c.n_embd), H = std::to_string(c.n_head), d = std::to_string(c.d_head);
    switch (h) {
    case Hook::q:
    case Hook::k:
    case Hook::v:
    case Hook::z: return "[T, " + H + ", " + d + "]";
    case Hook::attn_scores:
    case Hook::pattern: return "[" + H + ", T, T]";
    case Hook::mlp_pre:
    case Hook::mlp_post: return "[T, " + std::to_string(c.n_inner) + "]";
    case Hook::logits: return "[T, " + std::to_string(c.vocab_size) + "]";
    default: return "[T, " + D + "]";
    }
}

int run(int argc, char** argv) {
    Args args;
    int threads = 0;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--version") {
            std::printf("attnscope %s\n", version());
            return 0;
        }
        if (a == "-h" || a == "--help" || a == "help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (a == "--threads") {
            if (i + 1 >= argc) throw Error("--threads: missing value", "e.g. --threads 4");
            const std::string v = argv[++i];
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end || n < 0 || n > 4096)
                throw Error(cat("--threads: expected a number of threads from 0 (all cores) to 4096, found '", v, "'"));
            threads = int(n);
            continue;
        }
        if (command.empty() && a.rfind("-", 0) != 0)
            command = a;
        else
            args.rest.push_back(a);
    }
    set_num_threads(threads);
    if (command.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    if (command == "info") {
        auto model = Model::load(args.require("--model", "info"));
        std::fputs(model->summary().c_str(), stdout);
        return 0;
    }
    if (command == "hooks") {
        auto model = Model::load(args.require("--model", "hooks"));
        const ModelConfig& c = model->config();
        for (int ih = 0; ih < kHookCount; ++ih) {
            const Hook h = Hook(ih);
            const std::string name =
                hook_is_per_layer(h) ? std::string("blocks.{L}.") + hook_suffix(h) : hook_suffix(h);
            std::printf("%-34s %s\n", name.c_str(), hook_shape(c, h).c_str());
        }
        std::printf("(L = 0..%d, T = tokens of the sequence)\n", c.n_layer - 1);
        return 0;
    }
    if (command == "tokenize") {
        const Tokenizer tok = Tokenizer::load(args.require("--model", "tokenize"));
        std::vector<std::string> texts = args.all("--text");
        const std::string input = args.get("--input");
        if (!input.empty()) {
            if (!texts.empty()) throw Error("tokenize: give --text or --input, not both");
            texts = read_texts(input);
        } else if (texts.empty()) {
            throw Error("tokenize: nothing to tokenize", "give --text \"some text\" or --input FILE");
        }
        const EncodeOptions opts{.allow_special = args.has("--special")};
        std::string out;
        for (const auto& t : texts) {
            const std::vector<int32_t> ids = tok.encode(t, opts);
            nlohmann::json j = {{"ids", ids}, {"tokens", tok.display(ids)}};
            out = j.dump();
            out += '\n';
            std::fwrite(out.data(), 1, out.size(), stdout);
        }
        return 0;
    }
    throw Error(cat("unknown command '", command, "'"), "attnscope --help lists the commands");
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const Error& e) {
        std::fprintf(stderr, "attnscope: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "attnscope: internal error: %s\n", e.what());
        return 3;
    }
}
