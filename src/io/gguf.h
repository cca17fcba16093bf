// Reading the metadata of GGUF files (llama.cpp's model format): the key/value section, which
// carries a model's tokenizer among other things. Tensor data is not read yet.
//
//   GgufMetadata g = read_gguf_metadata("ggml-vocab-llama-spm.gguf");
//   const GgufValue* m = g.find("tokenizer.ggml.model");            // nullptr when absent
//   std::string model = g.string("tokenizer.ggml.model");           // throws naming file and key
//   const std::vector<std::string>& tokens = g.strings("tokenizer.ggml.tokens");
//
// Format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), little-endian: magic "GGUF",
// uint32 version (2 or 3), uint64 tensor count, uint64 key/value count, then per key/value: a
// string key (uint64 length + bytes), a uint32 type and the value. Types 0-12: uint8, int8,
// uint16, int16, uint32, int32, float32, bool, string, array (uint32 element type, uint64 count,
// elements), uint64, int64, float64. Every length and count is checked against the bytes that
// remain before anything is allocated, so a truncated or lying file is refused, never trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attnscope {

enum class GgufType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
    u64 = 10, i64 = 11, f64 = 12,
};
const char* gguf_type_name(GgufType t);

// One value: a scalar (integers and bools in `integer`, floats in `number`, strings in `text`)
// or an array of one element type (integers, numbers or strings; nested arrays are refused).
struct GgufValue {
    GgufType type = GgufType::u8;
    GgufType element = GgufType::u8; // for arrays
    int64_t integer = 0;
    double number = 0;
    std::string text;
    std::vector<int64_t> integers;    // arrays of integer or bool elements
    std::vector<double> numbers;      // arrays of float elements
    std::vector<std::string> strings; // arrays of strings
    size_t size() const;              // element count of an array
};

struct GgufMetadata {
    std::string path;
    uint32_t version = 0;
    uint64_t n_tensors = 0;
    std::map<std::string, GgufValue> values;

    const GgufValue* find(const std::string& key) const;
    // Typed access; throws Error naming the file, the key, the type expected and the type found.
    std::string string(const std::string& key) const;
    int64_t integer(const std::string& key) const;
    const std::vector<std::string>& strings(const std::string& key) const;
    const std::vector<double>& numbers(const std::string& key) const;
    const std::vector<int64_t>& integers(const std::string& key) const;
};

// Limits that keep a hostile file from exhausting memory before it is rejected.
constexpr uint64_t kMaxGgufKeyValues = 1 << 16;
constexpr uint64_t kMaxGgufArray = uint64_t(1) << 24;

// Parse the metadata of a GGUF byte image (`label` names it in errors), or of a file.
GgufMetadata parse_gguf_metadata(const uint8_t* data, size_t size, const std::string& label);
GgufMetadata read_gguf_metadata(const std::string& path);
// True when the file starts with GGUF's magic.
bool is_gguf_file(const std::string& path);

} // namespace attnscope
