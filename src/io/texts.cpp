// Text input files: JSON Lines or plain lines, validated line by line with errors that say
// which line of which file is wrong and what was expected there.
#include "io/texts.h"

#include "core/error.h"
#include "core/mmap.h"
#include "core/utf8.h"
#include "io/json.h"

namespace attnscope {

std::vector<std::string> read_texts(const std::string& path) {
    MappedFile f(path);
    const std::string_view all(reinterpret_cast<const char*>(f.data()), f.size());
    const bool jsonl = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
    std::vector<std::string> texts;
    size_t pos = 0, line_no = 0;
    while (pos < all.size()) {
        size_t eol = all.find('\n', pos);
        if (eol == std::string_view::npos) eol = all.size();
        std::string_view line = all.substr(pos, eol - pos);
        pos = eol + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        const std::string where = cat(path, ":", line_no);
        if (const size_t bad = find_invalid_utf8(line); bad != std::string_view::npos)
            throw Error(cat(where, ": not valid UTF-8 (byte ", bad + 1, " of the line)"),
                        "save the file as UTF-8; is it a text file at all?");
        if (!jsonl) {
            texts.emplace_back(line);
            continue;
        }
        const nlohmann::json j = parse_json(line.data(), line.data() + line.size(), where);
        if (!j.is_object()) throw Error(cat(where, ": expected a JSON object {\"text\": ...}, found ", j.type_name()));
        auto t = j.find("text");
        if (t == j.end() || !t->is_string())
            throw Error(cat(where, ": expected a string field \"text\""),
                        "each line is one object like {\"text\": \"...\"}");
        texts.push_back(t->get<std::string>());
    }
    return texts;
}

} // namespace attnscope
