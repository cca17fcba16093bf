// What mapping a model file costs, apart from attnscope: `attnscope run` maps the weights and
// asks the kernel to map every page at once (MADV_POPULATE_READ, src/core/mmap.cpp), and the
// process unmaps them at exit. Both cost per page-cache folio, so they depend on how the file
// sits in the page cache, which depends on the file's history: the model of session 6's runs
// was cached in small folios (populate 68-72 ms for 498 MB, munmap 38 ms); read back from disk,
// ext4 on Linux 6.18 caches it in large ones (3-4 ms, 1 ms). This probe maps FILE, populates
// it, unmaps it, and prints the two times and, when /proc/kpageflags is readable (root), how
// many folios the first 20,000 pages form.
//
//   build/bench/bench_map_probe FILE [--evict]
//
// --evict first drops FILE from the page cache (fdatasync + POSIX_FADV_DONTNEED) and reads it
// back with 16 MB reads, as bench/e2e.py does before its runs; nothing in FILE changes.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Folio heads among the first pages of a mapping: page-flag bits 15 (compound head) and 16
// (compound tail) of /proc/kpageflags, for each page's frame from /proc/self/pagemap.
bool count_folios(const uint8_t* base, size_t pages, size_t& heads, size_t& tails, size_t& small) {
    const int pm = ::open("/proc/self/pagemap", O_RDONLY), kf = ::open("/proc/kpageflags", O_RDONLY);
    bool ok = pm >= 0 && kf >= 0;
    heads = tails = small = 0;
    const uint64_t first = uint64_t(reinterpret_cast<uintptr_t>(base)) / 4096;
    for (size_t i = 0; ok && i < pages; ++i) {
        uint64_t entry = 0, flags = 0;
        ok = ::pread(pm, &entry, 8, off_t((first + i) * 8)) == 8;
        const uint64_t pfn = entry & ((uint64_t(1) << 55) - 1);
        ok = ok && pfn != 0 && ::pread(kf, &flags, 8, off_t(pfn * 8)) == 8;
        if (!ok) break;
        if (flags >> 15 & 1)
            ++heads;
        else if (flags >> 16 & 1)
            ++tails;
        else
            ++small;
    }
    if (pm >= 0) ::close(pm);
    if (kf >= 0) ::close(kf);
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_map_probe FILE [--evict]\n");
        return 2;
    }
    const std::string path = argv[1];
    const bool evict = argc > 2 && std::strcmp(argv[2], "--evict") == 0;
    const int fd = ::open(path.c_str(), O_RDONLY);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size == 0) {
        std::fprintf(stderr, "bench_map_probe: cannot open %s: %s\n", path.c_str(), std::strerror(errno));
        return 1;
    }
    const size_t size = size_t(st.st_size);
    if (evict) {
        ::fdatasync(fd); // dirty pages cannot be dropped
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        std::vector<char> buf(size_t(16) << 20);
        const double t0 = now();
        while (::read(fd, buf.data(), buf.size()) > 0) {
        }
        std::printf("evicted and read back: %.3f s\n", now() - t0);
    }
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        std::fprintf(stderr, "bench_map_probe: cannot map %s: %s\n", path.c_str(), std::strerror(errno));
        return 1;
    }
    const double t0 = now();
    ::madvise(p, size, MADV_POPULATE_READ);
    const double t1 = now();
    size_t heads = 0, tails = 0, small = 0;
    const size_t probe_pages = std::min<size_t>(20000, size / 4096);
    const bool counted = count_folios(static_cast<const uint8_t*>(p), probe_pages, heads, tails, small);
    const double t2 = now();
    ::munmap(p, size);
    const double t3 = now();
    ::close(fd);
    std::printf("%s: %.0f MB; populate %.1f ms, munmap %.1f ms\n", path.c_str(), double(size) / 1e6, (t1 - t0) * 1e3,
                (t3 - t2) * 1e3);
    if (counted)
        std::printf("first %zu pages: %zu large folios (heads) + %zu pages inside them, %zu single pages\n",
                    probe_pages, heads, tails, small);
    else
        std::printf("folio sizes: /proc/kpageflags not readable (needs root)\n");
    return 0;
}
