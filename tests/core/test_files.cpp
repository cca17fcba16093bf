// AtomicFile: nothing carries its final name before commit, large durable files (which start a
// background disk flush every 32 MB) and streamed files (written by a background thread) arrive
// whole, write errors reach the caller, and an abandoned file leaves no trace.
#include "core/files.h"
#include "test_util.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <sys/resource.h>
#include <thread>
#include <vector>

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

// n_chunks MB of bytes that differ from chunk to chunk
std::vector<char> chunked_bytes(int n_chunks) {
    std::vector<char> bytes(size_t(n_chunks) << 20);
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = char((i >> 20) * 7 + (i & 0xff));
    return bytes;
}

// 1 MB chunks, the odd ones first
void write_out_of_order(AtomicFile& f, const std::vector<char>& bytes) {
    const size_t chunk = size_t(1) << 20, n = bytes.size() / chunk;
    for (int pass = 1; pass >= 0; --pass)
        for (size_t c = size_t(pass); c < n; c += 2)
            f.write_at(c * chunk, bytes.data() + c * chunk, chunk);
}

std::vector<char> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST(AtomicFile, LargeDurableFileArrivesWholeOnlyAtCommit) {
    test::TempDir dir;
    const std::string path = dir.file("big.bin");
    const std::vector<char> bytes = chunked_bytes(70); // past two background flushes
    AtomicFile f(path);
    write_out_of_order(f, bytes);
    f.sync(); // a progress checkpoint in the middle, as the runner does
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    f.commit();
    EXPECT_FALSE(fs::exists(f.temp_path()));
    EXPECT_EQ(read_all(path), bytes);
}

TEST(AtomicFile, NotDurableFileIsTheSame) {
    test::TempDir dir;
    const std::string path = dir.file("big.bin");
    const std::vector<char> bytes = chunked_bytes(40);
    AtomicFile f(path);
    f.set_durable(false);
    write_out_of_order(f, bytes);
    f.commit();
    EXPECT_EQ(read_all(path), bytes);
}

TEST(AtomicFile, StreamedFileArrivesWhole) {
    for (bool durable : {true, false}) {
        test::TempDir dir;
        const std::string path = dir.file("big.bin");
        const std::vector<char> bytes = chunked_bytes(45);
        AtomicFile f(path);
        f.set_durable(durable);
        f.set_streamed();
        // stale bytes first, in pieces that do not line up with the writer's 2 MB buffers (and
        // a 3-byte one), a sync; then, chunk by chunk, stale bytes and right bytes over them, so
        // that pairs wait in the queue together: the file holds the right bytes only if the
        // writer keeps the order of the writes (a last-in-first-out queue fails here)
        const std::vector<char> stale(size_t(1) << 20, char(0x5a));
        f.write_at(0, stale.data(), 3);
        f.write_at(3, stale.data() + 3, stale.size() - 3);
        f.sync();
        const size_t chunk = size_t(1) << 20;
        for (size_t c = 0; c < bytes.size() / chunk; ++c) {
            f.write_at(c * chunk, stale.data(), chunk);
            f.write_at(c * chunk, bytes.data() + c * chunk, chunk);
        }
        EXPECT_FALSE(fs::exists(path));
        f.commit();
        EXPECT_EQ(read_all(path), bytes) << "durable " << durable;
    }
}

TEST(AtomicFile, StreamedSmallWritesFromThreadsArriveWhole) {
    // How a capture writes patterns: pieces far smaller than the writer's 2 MB buffers, from
    // several threads at once, mostly in file order (thread t writes pieces t, t + 4, ...). The
    // writer joins pieces that continue the one being filled; the file must hold every byte.
    test::TempDir dir;
    const std::string path = dir.file("heads.bin");
    std::vector<char> bytes(size_t(20) << 20); // every byte from a generator: a piece in the wrong place shows
    uint32_t x = 1;
    for (char& c : bytes)
        c = char((x = x * 1664525u + 1013904223u) >> 24);
    for (size_t piece : {size_t(64) << 10, size_t(4099)}) {
        AtomicFile f(path);
        f.set_streamed();
        const size_t n_pieces = (bytes.size() + piece - 1) / piece;
        std::vector<std::thread> threads;
        for (size_t t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (size_t i = t; i < n_pieces; i += 4)
                    f.write_at(i * piece, bytes.data() + i * piece, std::min(piece, bytes.size() - i * piece));
            });
        for (auto& th : threads)
            th.join();
        f.commit();
        EXPECT_EQ(read_all(path), bytes) << "pieces of " << piece << " bytes";
    }
}

// A file-size limit makes pwrite fail (EFBIG) past 4 MB: the error must reach the caller,
// plain at the write, streamed at a later call, and never as a file under its final name.
TEST(AtomicFile, WriteErrorReachesTheCaller) {
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = rlim_t(4) << 20;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    for (bool streamed : {false, true}) {
        test::TempDir dir;
        const std::string path = dir.file("big.bin");
        const std::vector<char> bytes = chunked_bytes(12);
        std::string message;
        try {
            AtomicFile f(path);
            if (streamed) f.set_streamed();
            for (size_t c = 0; c < 12; ++c)
                f.write_at(c << 20, bytes.data() + (c << 20), size_t(1) << 20);
            f.commit();
        } catch (const Error& e) {
            message = e.what();
        }
        EXPECT_NE(message.find("big.bin: write failed"), std::string::npos)
            << "streamed " << streamed << ": " << message;
        EXPECT_FALSE(fs::exists(path));
        EXPECT_TRUE(fs::is_empty(dir.str()));
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
}

TEST(AtomicFile, AbandonedFileLeavesNothing) {
    test::TempDir dir;
    const std::string path = dir.file("big.bin");
    std::string temp;
    {
        AtomicFile f(path);
        f.set_streamed();
        write_out_of_order(f, chunked_bytes(40)); // the writer and the flusher are running
        temp = f.temp_path();
        EXPECT_TRUE(fs::exists(temp));
    } // destroyed without commit: an error path
    EXPECT_FALSE(fs::exists(temp));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::is_empty(dir.str()));
}

TEST(AtomicFile, ResumableTemporaryIsKeptWhenAsked) {
    test::TempDir dir;
    const std::string path = dir.file("data.bin");
    {
        AtomicFile f(path, true, false);
        f.write_at(0, "abc", 3);
        f.sync();
        f.keep_temporary();
    }
    EXPECT_TRUE(fs::exists(resumable_temp_path(path)));
    AtomicFile g(path, true, true); // reopened: the bytes so far are kept
    g.write_at(3, "def", 3);
    g.commit();
    const std::vector<char> got = read_all(path);
    EXPECT_EQ(std::string(got.begin(), got.end()), "abcdef");
}
