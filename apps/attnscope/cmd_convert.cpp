// attnscope convert: converts a checkpoint of another format (llama2.c) into a model directory.
#include "cli.h"

namespace attnscope::cli {

int cmd_convert(const Args& args) {
    const auto pos = args.positional();
    if (args.get("--from") != "llama2c")
        throw Error(cat("convert: --from '", args.get("--from"), "' is not a format this attnscope converts"),
                    "supported: --from llama2c");
    if (pos.size() != 1)
        throw Error("convert: expected one model file",
                    "usage: attnscope convert --from llama2c MODEL.bin --output DIR");
    const Llama2cInfo in = convert_llama2c(pos[0], args.get("--tokenizer"), args.require("--output"));
    std::fprintf(stderr,
                 "attnscope: wrote %s: llama, %d layers, %d heads (%d key/value), width %d, vocabulary %d, "
                 "context %d, %lld parameters\n",
                 args.get("--output").c_str(), in.n_layers, in.n_heads, in.n_kv_heads, in.dim, in.vocab_size,
                 in.seq_len, (long long)in.n_params);
    return 0;
}

extern const Verb verb_convert{
    "convert",
    "--from llama2c MODEL.bin [--tokenizer FILE] --output DIR",
    "another checkpoint format as a Hugging Face directory",
    "Writes a llama2.c checkpoint as a Hugging Face directory (config.json, model.safetensors); the tokenizer "
    "file is copied beside them and written as the tokenizer.json Hugging Face's Llama converter makes of it.",
    {{"--from", "llama2c", "", "the format of MODEL.bin"},
     {"--tokenizer", "FILE", "", "the model's tokenizer: tok.model (SentencePiece) or tok.bin (llama2.c)"},
     {"--output", "DIR", "", "the Hugging Face directory to write"}},
    cmd_convert};

} // namespace attnscope::cli
