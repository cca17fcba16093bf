// AtomicFile: a hidden temporary next to the final name, written with pwrite (large writes
// start their write-back at once, and a background thread flushes the disk as they go),
// fsynced and renamed on commit. rename(2) within one directory is atomic, so a reader (or a
// user after a crash) sees either no file or the complete one.
#include "core/files.h"

#include "core/error.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace attnscope {

// Flushes a file to disk (fdatasync) on request, on its own thread. Starting write-back
// (sync_file_range) is not enough: on this project's virtual machines the disk's own flush,
// which only fdatasync asks for, costs as much as the writing, and a 189 MB capture's final
// fsync waited 0.25 s for it. Asked every 32 MB, the flushes overlap the computation and the
// final fsync finds almost nothing left. Requests coalesce; an error is kept for commit().
class AtomicFile::Flusher {
  public:
    explicit Flusher(int fd) : fd_(fd), thread_([this] { run(); }) {}
    ~Flusher() {
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join(); // waits for a flush in progress: the fd is closed after this
    }
    void request() {
        {
            std::lock_guard<std::mutex> lk(m_);
            wanted_ = true;
        }
        cv_.notify_all();
    }
    int error() {
        std::lock_guard<std::mutex> lk(m_);
        return error_;
    }

  private:
    void run() {
        std::unique_lock<std::mutex> lk(m_);
        for (;;) {
            cv_.wait(lk, [&] { return stop_ || wanted_; });
            if (stop_) return;
            wanted_ = false;
            lk.unlock();
            const int err = ::fdatasync(fd_) == 0 ? 0 : errno;
            lk.lock();
            if (err && !error_) error_ = err;
        }
    }
    const int fd_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false, wanted_ = false;
    int error_ = 0;
    std::thread thread_; // last: started once the rest is ready
};

// The background writer of a streamed file: the caller copies each write into one of kBuffers
// reused buffers of kPiece bytes and queues it; this thread writes the queue in order through
// write_now (write-back and flushes as for any file). A write that continues the piece being
// filled goes on in the same buffer, so small writes in file order (one attention head at a time,
// from several threads) still reach the file in 2 MB pwrites and do not take a buffer each. The
// first error is kept and rethrown by the caller's next write, sync or commit; after it nothing
// more is written.
class AtomicFile::Writer {
  public:
    explicit Writer(AtomicFile& file) : file_(file), thread_([this] { run(); }) {}
    ~Writer() {
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true; // drops what is queued: commit drains first, an abandoned file is removed
        }
        cv_.notify_all();
        thread_.join();
    }
    // Safe from several threads at once; writes to overlapping ranges land in call order.
    void write(uint64_t offset, const char* p, size_t n) {
        std::unique_lock<std::mutex> lk(m_);
        while (n > 0) {
            if (error_) std::rethrow_exception(error_);
            if (open_.buf >= 0 && offset == open_.offset + open_.n) { // continues the open piece
                const size_t take = std::min(n, kPiece - open_.n);
                std::memcpy(buffers_[size_t(open_.buf)].get() + open_.n, p, take);
                open_.n += take;
                p += take, n -= take, offset += take;
                if (open_.n == kPiece) close_open();
                continue;
            }
            close_open(); // a write elsewhere: what is open goes first, so the order holds
            if (free_.empty() && n_buffers_ < kBuffers) { // made when first needed
                buffers_[size_t(n_buffers_)].reset(new char[kPiece]);
                free_.push_back(n_buffers_++);
            }
            if (free_.empty()) { // all queued: wait, then look again (another caller may have
                cv_.wait(lk);    // opened a piece meanwhile)
                continue;
            }
            open_ = {offset, 0, free_.back()};
            free_.pop_back();
        }
    }
    // Wait until every write so far is in the file.
    void drain() {
        std::unique_lock<std::mutex> lk(m_);
        close_open();
        cv_.wait(lk, [&] { return (queue_.empty() && !busy_) || error_; });
        if (error_) std::rethrow_exception(error_);
    }

  private:
    static constexpr size_t kPiece = size_t(2) << 20;
    static constexpr int kBuffers = 4;
    struct Piece {
        uint64_t offset = 0;
        size_t n = 0;
        int buf = -1; // -1: no buffer (open_: nothing is being filled)
    };
    // Queue the piece being filled, if any (m_ held).
    void close_open() {
        if (open_.buf < 0) return;
        if (open_.n > 0)
            queue_.push_back(open_);
        else
            free_.push_back(open_.buf);
        open_ = {};
        cv_.notify_all();
    }
    void run() {
        std::unique_lock<std::mutex> lk(m_);
        for (;;) {
            cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
            if (stop_) return;
            const Piece pc = queue_.front();
            queue_.pop_front();
            busy_ = true;
            const bool failed = bool(error_);
            lk.unlock();
            std::exception_ptr err;
            if (!failed) try {
                    file_.write_now(pc.offset, buffers_[size_t(pc.buf)].get(), pc.n);
                } catch (...) {
                    err = std::current_exception();
                }
            lk.lock();
            busy_ = false;
            free_.push_back(pc.buf);
            if (err && !error_) error_ = err;
            cv_.notify_all();
        }
    }
    AtomicFile& file_;
    // a buffer belongs to one side at a time: free (the caller's) or queued (this thread's)
    std::array<std::unique_ptr<char[]>, kBuffers> buffers_;
    std::mutex m_; // guards everything below
    std::condition_variable cv_;
    int n_buffers_ = 0;
    std::vector<int> free_;
    std::deque<Piece> queue_;
    Piece open_; // being filled by callers: not yet queued
    bool stop_ = false, busy_ = false;
    std::exception_ptr error_;
    std::thread thread_; // last: started once the rest is ready
};

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
    writer_.reset();
    flusher_.reset();
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !keep_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::set_streamed() {
    if (!writer_) writer_ = std::make_unique<Writer>(*this);
}

void AtomicFile::sync() {
    if (writer_) writer_->drain();
    if (durable_ && ::fdatasync(fd_) != 0) throw Error(cat(final_, ": cannot flush to disk: ", std::strerror(errno)));
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t n) {
    if (writer_) return writer_->write(offset, static_cast<const char*>(data), n);
    write_now(offset, static_cast<const char*>(data), n);
}

void AtomicFile::write_now(uint64_t offset, const char* p, size_t n) {
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
    // Durable files: every 4 MB, start writing the dirty pages back (advisory, without waiting;
    // errors surface at fsync), and every 32 MB ask the Flusher for a disk flush, so the disk
    // works alongside the computation and the fsync at commit finds little left to do.
    constexpr size_t kWriteBehind = size_t(4) << 20, kFlushBehind = size_t(32) << 20;
    if (!durable_) return;
    unsynced_ += size0;
    unflushed_ += size0;
    if (unsynced_ >= kWriteBehind) {
        ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
        unsynced_ = 0;
    }
    if (unflushed_ >= kFlushBehind) {
        if (!flusher_) flusher_ = std::make_unique<Flusher>(fd_);
        flusher_->request();
        unflushed_ = 0;
    }
}

void AtomicFile::commit() {
    if (writer_) {
        writer_->drain();
        writer_.reset();
    }
    if (flusher_) {
        const int err = flusher_->error();
        flusher_.reset();
        if (err) throw Error(cat(final_, ": cannot flush to disk: ", std::strerror(err)));
    }
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
