// AtomicFile: a hidden temporary next to the final name, written with pwrite (large writes
// start their write-back at once), fsynced and renamed on commit. rename(2) within one directory is atomic, so a reader
// (or a user after a crash) sees either no file or the complete one.
#include "core/files.h"

#include "core/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace attnscope {

AtomicFile::AtomicFile(std::string final_path) : AtomicFile(std::move(final_path), false, false) {}

std::string resumable_temp_path(const std::string& final_path) {
    const std::filesystem::path p(final_path);
    return (p.parent_path() / ("." + p.filename().string() + kTempMarker + "resumable")).string();
}

AtomicFile::AtomicFile(std::string final_path, bool resumable, bool reopen) : final_(std::move(final_path)) {
    const std::filesystem::path p(final_);
    temp_ = resumable
                ? resumable_temp_path(final_)
                : (p.parent_path() / ("." + p.filename().string() + kTempMarker + std::to_string(::getpid()))).string();
    // reopening never creates: a missing partial file must not pass for an empty one
    fd_ = ::open(temp_.c_str(), reopen ? (O_WRONLY | O_CLOEXEC) : (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC), 0644);
    if (fd_ < 0)
        throw Error(cat(final_, ": cannot ", reopen ? "reopen " : "create ", temp_, ": ", std::strerror(errno)),
                    reopen ? "the interrupted run's partial files must still be there"
                           : "is the output directory writable?");
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !keep_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::sync() {
    if (durable_ && ::fdatasync(fd_) != 0) throw Error(cat(final_, ": cannot flush to disk: ", std::strerror(errno)));
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t n) {
    const auto* p = static_cast<const char*>(data);
    const size_t size0 = n;
    while (n > 0) {
        const ssize_t w = ::pwrite(fd_, p, n, off_t(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            throw Error(cat(final_, ": write failed: ", std::strerror(errno)),
                        errno == ENOSPC ? "the disk is full: free space or write elsewhere" : "");
        }
        p += w, n -= size_t(w), offset += uint64_t(w);
    }
    // Every few MB, start writing the file's dirty pages back (without waiting for them): the
    // disk then works alongside the computation, and the fsync at commit finds little left to
    // do. Advisory; errors surface at fsync.
    constexpr size_t kWriteBehind = size_t(4) << 20;
    unsynced_ += size0;
    if (durable_ && unsynced_ >= kWriteBehind) {
        ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
        unsynced_ = 0;
    }
}

void AtomicFile::commit() {
    if (durable_ && ::fsync(fd_) != 0) throw Error(cat(final_, ": cannot flush to disk: ", std::strerror(errno)));
    if (::close(fd_) != 0) {
        fd_ = -1;
        throw Error(cat(final_, ": close failed: ", std::strerror(errno)));
    }
    fd_ = -1;
    if (::rename(temp_.c_str(), final_.c_str()) != 0)
        throw Error(cat(final_, ": cannot rename into place: ", std::strerror(errno)));
    committed_ = true;
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    AtomicFile f(path);
    f.write_at(0, contents.data(), contents.size());
    f.commit();
}

} // namespace attnscope
