// MappedFile: open + fstat + mmap with errors that name the file. The file descriptor is
// closed right after mapping (the mapping keeps the file alive).
#include "core/mmap.h"

#include "core/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attnscope {

MappedFile::MappedFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(cat(path, ": cannot open: ", std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(cat(path, ": cannot stat: ", std::strerror(err)));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(cat(path, ": not a regular file"));
    }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error(cat(path, ": cannot map ", size_, " bytes: ", std::strerror(err)));
        }
        data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
}

void MappedFile::prefault() const {
#ifdef MADV_POPULATE_READ
    if (data_) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_POPULATE_READ); // Linux 5.14+; else a no-op
#endif
}

void MappedFile::advise(size_t offset, size_t length, Use use) const {
    if (!data_ || offset >= size_ || length == 0) return;
    static const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    const size_t begin = offset / page * page, end = std::min(size_, offset + std::min(length, size_ - offset));
    uint8_t* p = const_cast<uint8_t*>(data_) + begin;
    const size_t n = end - begin;
    switch (use) {
    case Use::soon: ::madvise(p, n, MADV_WILLNEED); break;
    case Use::now:
#ifdef MADV_POPULATE_READ
        ::madvise(p, n, MADV_POPULATE_READ);
#endif
        break;
    // a private read-only mapping never written to: dropping its pages loses nothing
    case Use::done: ::madvise(p, n, MADV_DONTNEED); break;
    }
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

} // namespace attnscope
