// Reading the texts a user wants to run: JSON Lines ({"text": ...} per line) or plain text
// (one text per line), chosen by the file name (".jsonl" means JSON Lines).
//
//   std::vector<std::string> texts = read_texts("corpus.jsonl");   // Error names file:line
//
// Blank lines are skipped. Every text must be valid UTF-8 (JSON requires it; plain files are
// checked), so a binary file given by mistake is refused with the line where it went wrong.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

std::vector<std::string> read_texts(const std::string& path);

} // namespace attnscope
