// JSON reading with errors that say which file and which field was wrong, and what was found.
#include "io/json.h"

#include "core/error.h"
#include "core/mmap.h"

#include <cmath>

namespace attnscope {

using nlohmann::json;

json parse_json(const char* begin, const char* end, const std::string& label) {
    try {
        return json::parse(begin, end);
    } catch (const json::exception& e) {
        // parse_error, and out_of_range for numbers beyond double (e.g. 1E999): both bad input
        throw Error(cat(label, ": not valid JSON: ", e.what()), "the file may be truncated or not JSON at all");
    }
}

json read_json_file(const std::string& path, size_t max_bytes) {
    MappedFile f(path);
    if (f.size() > max_bytes)
        throw Error(cat(path, ": ", f.size(), " bytes, more than the ", max_bytes, " bytes allowed for a JSON file"));
    const char* p = reinterpret_cast<const char*>(f.data());
    return parse_json(p, p + f.size(), path);
}

namespace {
std::string type_of(const json& v) {
    return v.type_name();
}
} // namespace

int64_t json_int(const json& obj, const char* key, const std::string& label, int64_t lo, int64_t hi) {
    if (!obj.is_object()) throw Error(cat(label, ": expected a JSON object, found ", type_of(obj)));
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        throw Error(cat(label, ": missing required field '", key, "'"), "is this the right file for this model?");
    const json& v = *it;
    int64_t x;
    if (v.is_number_integer()) {
        x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
    } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
               v.get<double>() == std::floor(v.get<double>())) {
        // an integral float (1e3); beyond int64 it is simply out of range (casting it would be UB)
        const double d = v.get<double>();
        x = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : int64_t(d);
    } else {
        throw Error(cat(label, ": field '", key, "' must be an integer, found ", type_of(v), " ", v.dump()));
    }
    if (x < lo || x > hi)
        throw Error(cat(label, ": field '", key, "' = ", x, " is outside the accepted range [", lo, ", ", hi, "]"));
    return x;
}

int64_t json_int_or(const json& obj, const char* key, const std::string& label, int64_t lo, int64_t hi,
                    int64_t fallback) {
    if (!obj.is_object()) throw Error(cat(label, ": expected a JSON object, found ", type_of(obj)));
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    return json_int(obj, key, label, lo, hi);
}

double json_number_or(const json& obj, const char* key, const std::string& label, double fallback) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_number()) throw Error(cat(label, ": field '", key, "' must be a number, found ", type_of(*it)));
    return it->get<double>();
}

std::string json_string_or(const json& obj, const char* key, const std::string& label, const std::string& fallback) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string()) throw Error(cat(label, ": field '", key, "' must be a string, found ", type_of(*it)));
    return it->get<std::string>();
}

bool json_bool_or(const json& obj, const char* key, const std::string& label, bool fallback) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw Error(cat(label, ": field '", key, "' must be true or false, found ", type_of(*it)));
    return it->get<bool>();
}

} // namespace attnscope
