// Shared by the libFuzzer targets: each target writes the input where the parser expects a file
// and calls the parser. attnscope::Error is the expected answer to bad input; anything else (a
// crash, a sanitizer report, another exception type, a hang) is a finding.
#pragma once

#include "core/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace attnscope::fuzz {

// A per-process scratch directory on tmpfs when there is one.
inline const std::string& scratch() {
    static const std::string dir = [] {
        const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
        std::string d = base + "/attnscope-fuzz-" + std::to_string(::getpid());
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = scratch() + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}

// Run fn; swallow attnscope::Error (the parser refused the input, as it should).
template <typename Fn> void expect_clean(Fn&& fn) {
    try {
        fn();
    } catch (const Error&) {
    }
}

} // namespace attnscope::fuzz
