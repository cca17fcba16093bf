// The analysis as the original module's two files: a text report for terminals and a JSON
// summary for programs (schema "attnscope.summary/1", every key in docs/summary-schema.md).
//
//   AnalysisResult r = analyze_captures({&reader});
//   std::cout << report_text(r);                       // sections, aligned tables
//   nlohmann::ordered_json j = summary_json(r);         // j["layers"][0]["heads"][1]["label"]
//   write_report(r, "results");  // results/attention_analysis_report.txt + attention_data_summary.json
//   std::cout << heads_table(r);                        // the taxonomy table alone (attnscope heads)
#pragma once

#include "analysis/analyzer.h"

#include <nlohmann/json.hpp>
#include <string>

namespace attnscope {

constexpr const char* kSummarySchema = "attnscope.summary/1";
constexpr const char* kReportFile = "attention_analysis_report.txt";
constexpr const char* kSummaryFile = "attention_data_summary.json";

std::string report_text(const AnalysisResult& r);
nlohmann::ordered_json summary_json(const AnalysisResult& r);
// One line per head: label, detector scores and the metrics behind the label.
std::string heads_table(const AnalysisResult& r);
// The analysis back from its summary (the inverse of summary_json, exact: numbers are written
// with every digit), for a capture whose config is `cfg`. Throws Error saying what is wrong.
AnalysisResult analysis_from_summary(const nlohmann::json& summary, const ModelConfig& cfg);
// Writes both files into dir (atomically: temporary name, then rename). Returns their paths.
std::vector<std::string> write_report(const AnalysisResult& r, const std::string& dir);

} // namespace attnscope
