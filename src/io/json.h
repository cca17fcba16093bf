// JSON files and typed field access with errors that name the file and the field.
//
//   nlohmann::json cfg = read_json_file(dir + "/config.json");
//   int64_t n_layer = json_int(cfg, "n_layer", path, 1, 4096);   // throws Error if missing/out of range
//
// nlohmann/json does the parsing; this file only turns its failures into attnscope::Error.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace attnscope {

// Parse a JSON document; `label` names its origin in errors (a file path, "header of X").
nlohmann::json parse_json(const char* begin, const char* end, const std::string& label);
// Read and parse a file (refusing files above max_bytes).
nlohmann::json read_json_file(const std::string& path, size_t max_bytes = size_t(64) << 20);

// Required integer field within [lo, hi].
int64_t json_int(const nlohmann::json& obj, const char* key, const std::string& label, int64_t lo, int64_t hi);
// Optional integer field (null or absent gives `fallback`).
int64_t json_int_or(const nlohmann::json& obj, const char* key, const std::string& label, int64_t lo, int64_t hi,
                    int64_t fallback);
double json_number_or(const nlohmann::json& obj, const char* key, const std::string& label, double fallback);
std::string json_string_or(const nlohmann::json& obj, const char* key, const std::string& label,
                           const std::string& fallback);
bool json_bool_or(const nlohmann::json& obj, const char* key, const std::string& label, bool fallback);

} // namespace attnscope
