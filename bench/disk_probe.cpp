// What writing a capture costs on this machine, apart from attnscope: the floor under the
// capture overhead of issue #9. In one run, in a directory on the disk under test:
//   1. page cache: pwrite MB megabytes into a new file (4 MB pieces), warm source buffer;
//   2. the same, then fsync: how long the final fsync waits;
//   3. the same with fdatasync every 32 MB on a second thread (what AtomicFile does for
//      durable files): how long the final fsync waits then;
//   4. O_DIRECT writes of the same bytes from one reused buffer (no page cache);
//   5. a compute load (the engine's matmul 1024 x 768 x 3072, all threads, ~1 s) alone, and while a
//      second process-like thread writes MB megabytes (buffered + fsync, then O_DIRECT): how much
//      disk traffic slows the computation on this virtual machine.
//
//   build/bench/bench_disk_probe DIR [MB]      (default 189: the 8 x 128 GPT-2-small capture)
#include "engine/kernels.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr size_t kPiece = size_t(4) << 20;

struct Aligned {
    char* p;
    explicit Aligned(size_t n) : p(static_cast<char*>(std::aligned_alloc(4096, n))) { std::memset(p, 1, n); }
    ~Aligned() { std::free(p); }
};

void die(const std::string& what) {
    std::fprintf(stderr, "disk_probe: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

// Writes `bytes` into path; returns {seconds writing, seconds in the final fsync (or 0)}.
std::pair<double, double> write_file(const std::string& path, size_t bytes, bool direct, bool final_fsync,
                                     bool flush_behind) {
    static Aligned buf(kPiece);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0) die("open " + path + (direct ? " with O_DIRECT" : ""));
    std::atomic<bool> stop{false};
    std::atomic<size_t> written{0};
    std::thread flusher;
    if (flush_behind)
        flusher = std::thread([&] {
            size_t flushed = 0;
            while (!stop) {
                if (written - flushed >= (size_t(32) << 20)) {
                    flushed = written;
                    ::fdatasync(fd);
                } else {
                    std::this_thread::sleep_for(std::chrono::milliseconds(2));
                }
            }
        });
    const double t0 = now();
    for (size_t off = 0; off < bytes; off += kPiece) {
        if (::pwrite(fd, buf.p, kPiece, off_t(off)) != ssize_t(kPiece)) die("pwrite " + path);
        written += kPiece;
    }
    stop = true;
    if (flusher.joinable()) flusher.join();
    const double t1 = now();
    if (final_fsync && ::fsync(fd) != 0) die("fsync " + path);
    const double t2 = now();
    ::close(fd);
    ::unlink(path.c_str());
    return {t1 - t0, t2 - t1};
}

// Seconds for `reps` products of 1024 x 768 x 3072.
double compute(int reps) {
    static std::vector<float> a(1024 * 768, 0.5f), b(768 * 3072, 0.25f), c(1024 * 3072);
    const double t0 = now();
    for (int r = 0; r < reps; ++r)
        attnscope::matmul(a.data(), b.data(), nullptr, c.data(), 1024, 768, 3072);
    return now() - t0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_disk_probe DIR [MB]\n");
        return 2;
    }
    const std::string file = std::string(argv[1]) + "/.disk_probe.tmp";
    const size_t mb = argc > 2 ? size_t(std::atol(argv[2])) : 189, bytes = ((mb << 20) + kPiece - 1) / kPiece * kPiece;
    std::printf("writing %zu MB in %s\n", bytes >> 20, argv[1]);
    auto rate = [&](double s) { return double(bytes) / s / 1e9; };
    std::pair<double, double> r = write_file(file, bytes, false, false, false);
    std::printf("1. page cache, no fsync:           write %.3f s (%.2f GB/s)\n", r.first, rate(r.first));
    ::sync();
    r = write_file(file, bytes, false, true, false);
    std::printf("2. page cache, fsync at the end:   write %.3f s, final fsync %.3f s\n", r.first, r.second);
    ::sync();
    r = write_file(file, bytes, false, true, true);
    std::printf("3. + fdatasync every 32 MB behind: write %.3f s, final fsync %.3f s\n", r.first, r.second);
    ::sync();
    r = write_file(file, bytes, true, true, false);
    std::printf("4. O_DIRECT:                       write %.3f s (%.2f GB/s), final fsync %.3f s\n", r.first,
                rate(r.first), r.second);
    ::sync();

    compute(2); // warm up
    int reps = 1;
    while (compute(reps) < 0.5)
        reps *= 2;
    const double alone = compute(reps);
    const double flop = 2.0 * 1024 * 768 * 3072 * reps;
    std::printf("5. compute alone:                  %.3f s (%.0f GFLOP/s)\n", alone, flop / alone / 1e9);
    for (bool direct : {false, true}) {
        std::atomic<bool> busy{true};
        std::thread writer([&] {
            while (busy)
                write_file(file, bytes, direct, true, false);
        });
        const double loaded = compute(reps);
        busy = false;
        writer.join();
        std::printf("   while %s writes run: %.3f s (%.2fx slower)\n",
                    direct ? "O_DIRECT          " : "page cache + fsync", loaded, loaded / alone);
    }
    return 0;
}
