// GGUF metadata reader. A cursor walks the byte image; every read first checks that the bytes
// exist, and every count is checked against what could still fit in the bytes that remain (each
// element takes at least one byte), so a lying length fails with a clear message instead of a
// huge allocation or a read past the end. Errors name the file, the key and the byte offset.
#include "io/gguf.h"

#include "core/error.h"
#include "core/mmap.h"

#include <cstring>
#include <fstream>

namespace attnscope {

const char* gguf_type_name(GgufType t) {
    static const char* names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32", "float32",
                                  "bool",  "string", "array",  "uint64", "int64", "float64"};
    const auto i = uint32_t(t);
    return i < 13 ? names[i] : "unknown";
}

size_t GgufValue::size() const {
    return integers.size() + numbers.size() + strings.size();
}

namespace {

struct Cursor {
    const uint8_t* data;
    size_t size, pos = 0;
    const std::string& label;
    std::string key; // the key being read, for errors

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(cat(label, ": ", key.empty() ? std::string() : cat("key '", key, "': "), what, " (at byte ", pos,
                        " of ", size, ")"),
                    "the file is truncated or is not a GGUF file");
    }
    void need(uint64_t n) const {
        if (n > size - pos) fail(cat("needs ", n, " more bytes, only ", size - pos, " remain"));
    }
    template <class T> T read() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, data + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    std::string read_string() {
        const uint64_t n = read<uint64_t>();
        if (n > size - pos) fail(cat("a string of ", n, " bytes, only ", size - pos, " remain"));
        std::string s(reinterpret_cast<const char*>(data + pos), size_t(n));
        pos += size_t(n);
        return s;
    }
    GgufType read_type() {
        const uint32_t t = read<uint32_t>();
        if (t > 12) fail(cat("value type ", t, " is not a GGUF type (0-12)"));
        return GgufType(t);
    }
    // A scalar of type t into v (integer / number / text).
    void read_scalar(GgufType t, GgufValue& v) {
        switch (t) {
        case GgufType::u8: v.integer = read<uint8_t>(); break;
        case GgufType::i8: v.integer = read<int8_t>(); break;
        case GgufType::u16: v.integer = read<uint16_t>(); break;
        case GgufType::i16: v.integer = read<int16_t>(); break;
        case GgufType::u32: v.integer = read<uint32_t>(); break;
        case GgufType::i32: v.integer = read<int32_t>(); break;
        case GgufType::boolean: {
            const uint8_t b = read<uint8_t>();
            if (b > 1) fail(cat("a bool must be 0 or 1, found ", int(b)));
            v.integer = b;
            break;
        }
        case GgufType::u64: {
            const uint64_t x = read<uint64_t>();
            if (x > uint64_t(INT64_MAX)) fail(cat("uint64 value ", x, " is beyond what attnscope reads (2^63 - 1)"));
            v.integer = int64_t(x);
            break;
        }
        case GgufType::i64: v.integer = read<int64_t>(); break;
        case GgufType::f32: v.number = read<float>(); break;
        case GgufType::f64: v.number = read<double>(); break;
        case GgufType::string: v.text = read_string(); break;
        case GgufType::array: fail("nested arrays are not supported");
        }
    }
    GgufValue read_value(GgufType t) {
        GgufValue v;
        v.type = t;
        if (t != GgufType::array) {
            read_scalar(t, v);
            return v;
        }
        v.element = read_type();
        if (v.element == GgufType::array) fail("nested arrays are not supported");
        const uint64_t n = read<uint64_t>();
        const uint64_t min_bytes = v.element == GgufType::string ? 8 : 1; // per element, at least
        if (n > kMaxGgufArray) fail(cat("an array of ", n, " elements (at most ", kMaxGgufArray, " are read)"));
        if (n * min_bytes > size - pos) fail(cat("an array of ", n, " elements cannot fit in the ", size - pos, " bytes that remain"));
        GgufValue e;
        if (v.element == GgufType::string) {
            v.strings.reserve(size_t(n));
            for (uint64_t i = 0; i < n; ++i)
                v.strings.push_back(read_string());
        } else if (v.element == GgufType::f32 || v.element == GgufType::f64) {
            v.numbers.reserve(size_t(n));
            for (uint64_t i = 0; i < n; ++i) {
                read_scalar(v.element, e);
                v.numbers.push_back(e.number);
            }
        } else {
            v.integers.reserve(size_t(n));
            for (uint64_t i = 0; i < n; ++i) {
                read_scalar(v.element, e);
                v.integers.push_back(e.integer);
            }
        }
        return v;
    }
};

} // namespace

GgufMetadata parse_gguf_metadata(const uint8_t* data, size_t size, const std::string& label) {
    Cursor c{data, size, 0, label, {}};
    GgufMetadata g;
    g.path = label;
    if (size < 4 || std::memcmp(data, "GGUF", 4) != 0)
        throw Error(cat(label, ": not a GGUF file (the first 4 bytes are not 'GGUF')"),
                    "give a .gguf file from llama.cpp, or a tokenizer.json");
    c.pos = 4;
    g.version = c.read<uint32_t>();
    if (g.version != 2 && g.version != 3)
        throw Error(cat(label, ": GGUF version ", g.version, " is not supported; expected 2 or 3"),
                    "convert the file with a recent llama.cpp");
    g.n_tensors = c.read<uint64_t>();
    const uint64_t n_kv = c.read<uint64_t>();
    if (n_kv > kMaxGgufKeyValues) c.fail(cat(n_kv, " key/value pairs (at most ", kMaxGgufKeyValues, " are read)"));
    for (uint64_t i = 0; i < n_kv; ++i) {
        c.key.clear();
        std::string key = c.read_string();
        c.key = key;
        const GgufType t = c.read_type();
        GgufValue v = c.read_value(t);
        if (!g.values.emplace(key, std::move(v)).second) c.fail("the key appears twice");
    }
    return g;
}

GgufMetadata read_gguf_metadata(const std::string& path) {
    MappedFile f(path);
    return parse_gguf_metadata(f.data(), f.size(), path);
}

bool is_gguf_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

const GgufValue* GgufMetadata::find(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
}

namespace {
const GgufValue& typed(const GgufMetadata& g, const std::string& key, bool array, const char* expected,
                       bool (*ok)(GgufType)) {
    const GgufValue* v = g.find(key);
    if (!v) throw Error(cat(g.path, ": missing key '", key, "'"), "is this GGUF file's tokenizer complete?");
    const GgufType t = array ? v->element : v->type;
    if ((v->type == GgufType::array) != array || !ok(t))
        throw Error(cat(g.path, ": key '", key, "' should be ", expected, ", found ",
                        v->type == GgufType::array ? cat("an array of ", gguf_type_name(v->element))
                                                   : std::string(gguf_type_name(v->type))));
    return *v;
}
bool is_int(GgufType t) {
    return t != GgufType::string && t != GgufType::array && t != GgufType::f32 && t != GgufType::f64;
}
bool is_float(GgufType t) {
    return t == GgufType::f32 || t == GgufType::f64;
}
bool is_string(GgufType t) {
    return t == GgufType::string;
}
} // namespace

std::string GgufMetadata::string(const std::string& key) const {
    return typed(*this, key, false, "a string", is_string).text;
}
int64_t GgufMetadata::integer(const std::string& key) const {
    return typed(*this, key, false, "an integer", is_int).integer;
}
const std::vector<std::string>& GgufMetadata::strings(const std::string& key) const {
    return typed(*this, key, true, "an array of strings", is_string).strings;
}
const std::vector<double>& GgufMetadata::numbers(const std::string& key) const {
    return typed(*this, key, true, "an array of floats", is_float).numbers;
}
const std::vector<int64_t>& GgufMetadata::integers(const std::string& key) const {
    return typed(*this, key, true, "an array of integers", is_int).integers;
}

} // namespace attnscope
