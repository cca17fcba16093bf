// Helpers shared by the tests: scratch directories, writing bytes, safetensors images.
#pragma once

#include "core/error.h"

#include <cstdint>
#include <cstdio>
#include <sys/wait.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace attnscope::test {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
  public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name =
            std::string("attnscope-") + (info ? info->test_suite_name() + std::string("-") + info->name() : "t");
        for (char& c : name)
            if (c == '/') c = '_';
        static int counter = 0; // several TempDirs in one test get different directories
        path_ = std::filesystem::temp_directory_path() /
                (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string str() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A safetensors image: 8-byte little-endian length, the header text as given, then `data`.
inline std::string safetensors_bytes(const std::string& header, const std::string& data, uint64_t claimed_len = ~0ull) {
    const uint64_t n = claimed_len == ~0ull ? header.size() : claimed_len;
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i)
        out[size_t(i)] = char((n >> (8 * i)) & 0xff);
    return out + header + data;
}

// Expect `fn` to throw attnscope::Error whose message contains every one of `parts`.
template <typename Fn> void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
    try {
        fn();
        ADD_FAILURE() << "expected an attnscope::Error mentioning '" << *parts.begin() << "', nothing was thrown";
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const auto& p : parts)
            EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
    }
}

// A shell command's exit code and its output (stdout and stderr together).
struct ShellResult {
    int code;
    std::string output;
};
inline ShellResult run_shell(const std::string& cmd) {
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    ShellResult r{-1, ""};
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    const int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// Single-quoted for the shell.
inline std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

inline std::string fixture(const std::string& name) {
    return std::string(ATTNSCOPE_FIXTURES) + "/" + name;
}

// n texts of 2..61 words drawn from a small vocabulary (repeats make induction rows): a corpus
// for shard and merge tests.
inline std::vector<std::string> random_corpus(std::mt19937& rng, int n) {
    const std::vector<std::string> words = {"the", "of", "peace", "war", "liberty", "treaty", "harbor", "and", "to"};
    std::vector<std::string> corpus;
    for (int i = 0; i < n; ++i) {
        std::string t;
        const int len = 2 + int(rng() % 60);
        for (int w = 0; w < len; ++w)
            t += (w ? " " : "") + words[rng() % words.size()];
        corpus.push_back(t);
    }
    return corpus;
}

} // namespace attnscope::test
