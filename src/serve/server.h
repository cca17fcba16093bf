// `attnscope serve`: the viewer of attention_view.html as a local web server, for captures of
// any size — every sequence, and each head's full-resolution pattern fetched when it is shown,
// straight from the memory-mapped capture files.
//
//   ViewerServer server("results", {.port = 0});     // binds now: throws if the port is taken
//   printf("open %s\n", server.url().c_str());        // http://127.0.0.1:PORT/?token=...
//   server.run();                                     // until server.stop() (any thread)
//
// Secure by default: it listens on loopback only (another address needs allow_remote), every
// request must carry the random token of the URL (the page sends it in a header) or is answered
// 403, it only reads (GET and HEAD; anything else is 405), it serves generated responses and
// the capture directory's own report files by plain name (no path, no dot file, no symlink),
// and request lines, headers and bodies are bounded. Routes:
//   /                          the viewer page (token in the query string)
//   /api/thumbs?seq=S          every head of sequence S, block-averaged to at most
//                              thumb_cells a side: one byte per cell (viewer's quantisation)
//   /api/pattern?seq=S&layer=L&head=H
//                              one head's pattern, full resolution: the lower triangle, row by
//                              row, as little-endian float32 (T (T + 1) / 2 values)
//   /files/NAME                the capture's report, summary, manifest and figures
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace attnscope {

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 8765;           // 0: any free port
    bool allow_remote = false; // needed to listen on an address that is not loopback
    std::string token;         // empty: 32 random bytes, hex
    int64_t thumb_cells = 64;  // grid thumbnails at most this many cells a side
    std::function<void(const std::string&)> on_notice; // e.g. why a stored analysis is not reused
};

// Whether `host` names a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

class ViewerServer {
  public:
    // Opens the capture (and its analysis: the stored one when it matches, else computed now),
    // then binds host:port. Throws Error naming the capture or the address.
    ViewerServer(const std::string& dir, ServeOptions options = {});
    ~ViewerServer();
    ViewerServer(const ViewerServer&) = delete;
    ViewerServer& operator=(const ViewerServer&) = delete;

    std::string url() const; // with the token
    int port() const;
    const std::string& token() const;
    void run();  // serves until stop(); throws if the listening socket fails
    void stop(); // from any thread

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace attnscope
