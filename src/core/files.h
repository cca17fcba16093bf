// Files written so that nothing half-done ever carries a final name.
//
//   AtomicFile f("out/manifest.json");        // opens "out/.manifest.json.tmp-<pid>"
//   f.write_at(0, text.data(), text.size());
//   f.commit();                               // fsync, then rename to "out/manifest.json"
//   // if commit() is never reached (error, exception), the destructor removes the temporary
//
//   write_file_atomic("out/x.json", text);    // the same in one call
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace attnscope {

class AtomicFile {
  public:
    explicit AtomicFile(std::string final_path);
    // A temporary with a fixed name (".<name>.tmp-resumable"), opened without truncation when
    // `reopen` is set: for runs that can be resumed after an interruption.
    AtomicFile(std::string final_path, bool resumable, bool reopen);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Write n bytes at offset; throws Error naming the final path (disk full, I/O error, ...).
    // Streamed, the bytes are copied and written later: an error surfaces at a later call.
    void write_at(uint64_t offset, const void* data, size_t n);
    // Before the first write, for large outputs: write_at copies into one of a few reused
    // buffers and returns; a background thread writes them (waiting for a free buffer when the
    // disk is behind keeps memory bounded: 8 MB per file). The copy into the page cache, whose
    // fresh pages are slow to come by, then overlaps the caller's computation.
    void set_streamed();
    void commit();
    // Flush written data to disk (fdatasync), so that progress recorded afterwards is true.
    void sync();
    // Leave the temporary in place when destroyed without commit (it can be resumed).
    void keep_temporary() { keep_ = true; }
    // Durable (the default): large writes start their write-back to disk at once and, every
    // 32 MB, a background thread flushes the disk, so the disk works while the program computes
    // and commit() finds little left to wait for; commit() and sync() return when the data is on disk.
    // Not durable: no waiting; a killed or failed run still leaves no file that looks whole,
    // only a power failure soon after commit can lose data already renamed into place.
    void set_durable(bool durable) { durable_ = durable; }
    const std::string& path() const { return final_; }
    const std::string& temp_path() const { return temp_; }

  private:
    class Flusher;
    class Writer;
    void write_now(uint64_t offset, const char* p, size_t n);
    std::string final_, temp_;
    int fd_ = -1;
    bool committed_ = false, keep_ = false, durable_ = true;
    size_t unsynced_ = 0;              // bytes written since write-back was last started
    size_t unflushed_ = 0;             // bytes written since the background flush was last asked for
    std::unique_ptr<Flusher> flusher_; // started by the first 32 MB of a durable file
    std::unique_ptr<Writer> writer_;   // set_streamed()
};

void write_file_atomic(const std::string& path, const std::string& contents);

// Temporary names all contain this marker (".tmp-"), so tools and tests can recognise them.
constexpr const char* kTempMarker = ".tmp-";
// The fixed temporary name of a resumable file.
std::string resumable_temp_path(const std::string& final_path);

} // namespace attnscope
