// The viewer server: cpp-httplib (Debian's libcpp-httplib) answers on its thread pool; every
// request passes one gate (token, method, size) before a route runs; routes only read — the
// capture through CaptureReader views of its memory-mapped files (one head at a time), the
// viewer page from the same template and data as attention_view.html, and the capture
// directory's own report files by plain name. Nothing here runs a command or opens a path taken
// from a request. Grid thumbnails of a sequence are computed once and kept (a few recent ones).
#include "serve/server.h"

#include "api/analyzer_api.h"
#include "core/error.h"
#include "render/viewer.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <deque>
#include <future>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

namespace attnscope {

namespace {

std::string random_token() {
    uint8_t b[32];
    size_t got = 0;
    while (got < sizeof b) {
        const ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw Error(cat("serve: cannot draw a random token: ", std::strerror(errno)));
        }
        got += size_t(n);
    }
    static const char* hex = "0123456789abcdef";
    std::string t;
    for (uint8_t x : b)
        t += hex[x >> 4], t += hex[x & 15];
    return t;
}

// Equal strings, in time that does not depend on where they differ.
bool same_secret(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned diff = 0;
    for (size_t k = 0; k < a.size(); ++k)
        diff |= unsigned(uint8_t(a[k]) ^ uint8_t(b[k]));
    return diff == 0;
}

// A non-negative decimal integer below `limit`, or -1.
int64_t parse_index(const std::string& s, int64_t limit) {
    if (s.empty() || s.size() > 12) return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v < limit ? v : -1;
}

void text_reply(httplib::Response& res, int status, const std::string& body) {
    res.status = status;
    res.set_content(body + "\n", "text/plain; charset=utf-8");
}

// The capture's own files the server may hand out, by extension.
const char* content_type_of(const std::string& name) {
    static const std::pair<const char*, const char*> types[] = {
        {".txt", "text/plain; charset=utf-8"}, {".json", "application/json"}, {".png", "image/png"},
        {".svg", "image/svg+xml"}};
    for (const auto& [ext, type] : types)
        if (name.size() > std::strlen(ext) && name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0)
            return type;
    return nullptr;
}

} // namespace

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host == "::1") return true;
    in_addr a{};
    return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

struct ViewerServer::Impl {
    std::string dir;
    ServeOptions opt;
    std::unique_ptr<CaptureReader> cap;
    AnalysisResult analysis;
    ViewerLayout layout;
    std::string page; // the viewer page, data in place
    httplib::Server http;
    int port = 0;
    int listen_fd = -1;

    // Grid thumbnails by sequence, made once: the first request for a sequence computes them
    // and any other request for it waits for that result. The 16 most recent are kept.
    using Thumbs = std::shared_future<std::shared_ptr<const std::string>>;
    std::mutex thumbs_mutex;
    std::deque<std::pair<int64_t, Thumbs>> thumbs; // most recent first
    std::thread warm; // makes the first sequences' thumbnails before anyone asks
    std::atomic<bool> stopping{false};

    std::shared_ptr<const std::string> thumbs_of(int64_t s) {
        std::promise<std::shared_ptr<const std::string>> made;
        Thumbs result;
        bool mine = false;
        {
            std::lock_guard<std::mutex> lock(thumbs_mutex);
            for (const auto& [seq, t] : thumbs)
                if (seq == s) result = t; // made, or being made by another request
            if (!result.valid()) {
                result = made.get_future().share();
                mine = true;
                thumbs.emplace_front(s, result);
                if (thumbs.size() > 16) thumbs.pop_back(); // at most 16 sequences' thumbnails in memory
            }
        }
        if (mine) try {
                const int64_t B = viewer_block(cap->sequence(s).length, opt.thumb_cells);
                const std::vector<uint8_t> q = quantised_patterns(*cap, s, layout, B);
                made.set_value(std::make_shared<const std::string>(q.begin(), q.end()));
            } catch (...) {
                made.set_exception(std::current_exception());
            }
        return result.get();
    }
};

ViewerServer::ViewerServer(const std::string& dir, ServeOptions o) : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.dir = dir;
    m.opt = o;
    if (m.opt.token.empty()) m.opt.token = random_token();
    if (!is_loopback(o.host) && !o.allow_remote)
        throw Error(cat("serve: ", o.host, " is not a loopback address: anyone who can reach it could read the capture"),
                    "serve on 127.0.0.1 (the default), or pass --allow-remote to listen there anyway");
    if (o.port < 0 || o.port > 65535) throw Error(cat("serve: port ", o.port, " is outside 0..65535"));
    if (o.thumb_cells < 8 || o.thumb_cells > 1024) throw Error("serve: thumb_cells outside 8..1024");

    AttentionDataAnalyzer an(dir);
    if (o.on_notice) an.set_notice(o.on_notice);
    m.analysis = an.analyze();
    m.cap = std::make_unique<CaptureReader>(dir);
    m.layout = viewer_layout(*m.cap);
    nlohmann::ordered_json d = viewer_meta(*m.cap, &m.analysis, m.layout);
    nlohmann::ordered_json seqs = nlohmann::ordered_json::array();
    for (int64_t s = 0; s < m.cap->n_sequences(); ++s) {
        const SequenceInfo& info = m.cap->sequence(s);
        const int64_t B = viewer_block(info.length, m.opt.thumb_cells);
        seqs.push_back({{"index", s},
                        {"tokens", info.tokens},
                        {"prompt_length", info.prompt_length},
                        {"block", B},
                        {"n", (info.length + B - 1) / B}});
    }
    d["sequences"] = seqs;
    d["served"] = true;
    m.page = viewer_html(d.dump(), /*served=*/true);

    auto& http = m.http;
    // SO_REUSEADDR only (a restarted server binds at once), never SO_REUSEPORT as the library's
    // default does: with it a second process could bind the same port and take requests.
    http.set_socket_options([this](int sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        impl_->listen_fd = sock;
    });
    http.new_task_queue = [] { return new httplib::ThreadPool(16); };
    http.set_payload_max_length(4096); // requests are GETs: no body worth reading
    http.set_read_timeout(10, 0);
    http.set_keep_alive_max_count(100);
    // One gate for every request: read-only methods, and the token.
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        Impl& m = *impl_;
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Referrer-Policy", "no-referrer"); // the token is in the page's URL
        if (req.method != "GET" && req.method != "HEAD") {
            text_reply(res, 405, "attnscope serve only reads: GET and HEAD");
            return httplib::Server::HandlerResponse::Handled;
        }
        std::string token = req.get_header_value("X-Attnscope-Token");
        if (token.empty() && req.has_param("token")) token = req.get_param_value("token");
        if (!same_secret(token, m.opt.token)) {
            text_reply(res, 403, "forbidden: open the URL that attnscope serve printed (it carries the token)");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
        res.set_header("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                                  "'unsafe-inline'; img-src data:; connect-src 'self'");
        res.set_content(impl_->page, "text/html; charset=utf-8");
    });
    http.Get("/api/thumbs", [this](const httplib::Request& req, httplib::Response& res) {
        Impl& m = *impl_;
        const int64_t s = parse_index(req.get_param_value("seq"), m.cap->n_sequences());
        if (s < 0) return text_reply(res, 400, cat("seq: expected a sequence from 0 to ", m.cap->n_sequences() - 1));
        const auto bytes = m.thumbs_of(s);
        res.set_content(*bytes, "application/octet-stream");
    });
    http.Get("/api/pattern", [this](const httplib::Request& req, httplib::Response& res) {
        Impl& m = *impl_;
        const ModelConfig& cfg = m.cap->config();
        const int64_t s = parse_index(req.get_param_value("seq"), m.cap->n_sequences());
        const int64_t il = parse_index(req.get_param_value("layer"), cfg.n_layer);
        const int64_t h = parse_index(req.get_param_value("head"), cfg.n_head);
        if (s < 0 || il < 0 || h < 0)
            return text_reply(res, 400, cat("expected seq (0..", m.cap->n_sequences() - 1, "), layer (0..",
                                            cfg.n_layer - 1, ") and head (0..", cfg.n_head - 1, ")"));
        const auto& hs = m.layout.heads;
        const auto slot = std::find(hs.begin(), hs.end(), int(h));
        const std::string hook = cat("blocks.", il, ".attn.hook_pattern");
        if (slot == hs.end() || !m.cap->has(s, hook))
            return text_reply(res, 404, cat("L", il, "H", h, " of sequence ", s, " was not captured"));
        std::vector<float> storage;
        const CaptureReader::View v = m.cap->view(s, hook, storage, slot - hs.begin());
        const int64_t T = m.cap->sequence(s).length;
        if (v.shape != std::vector<int64_t>{T, T})
            return text_reply(res, 500, cat("tensor '", ActivationCache::key(hook, int(s)), "' does not match the manifest"));
        std::string out(size_t(T * (T + 1) / 2) * sizeof(float), '\0');
        char* w = out.data();
        for (int64_t i = 0; i < T; ++i) { // x86-64 is little-endian: the floats as they are
            std::memcpy(w, v.data + i * T, size_t(i + 1) * sizeof(float));
            w += (i + 1) * int64_t(sizeof(float));
        }
        res.set_content(std::move(out), "application/octet-stream");
    });
    http.Get("/files/([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        const char* type = content_type_of(name);
        if (!type || name.find("..") != std::string::npos) return text_reply(res, 404, "not found");
        // a plain, regular file of the capture directory itself: never a symlink out of it
        const std::string path = (std::filesystem::path(impl_->dir) / name).string();
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (int64_t(256) << 20))
            return text_reply(res, 404, "not found");
        std::ifstream f(path, std::ios::binary);
        std::string body((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        res.set_content(std::move(body), type);
    });
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) text_reply(res, res.status, res.status == 404 ? "not found" : "bad request");
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        text_reply(res, 500, what);
    });

    if (o.port == 0) {
        m.port = http.bind_to_any_port(o.host);
        if (m.port <= 0) throw Error(cat("serve: cannot listen on ", o.host), "check the address");
    } else {
        if (!http.bind_to_port(o.host, o.port))
            throw Error(cat("serve: cannot listen on ", o.host, ":", o.port, " (in use, or not allowed)"),
                        "choose another port with --port, or --port 0 for any free one");
        m.port = o.port;
    }
    // the library listens with a backlog of 5: a page's burst of requests would see dropped
    // connections; listen() again on the bound socket raises it
    if (m.listen_fd >= 0) ::listen(m.listen_fd, 1024);
}

ViewerServer::~ViewerServer() {
    stop();
    if (impl_->warm.joinable()) impl_->warm.join();
}

std::string ViewerServer::url() const {
    const std::string& h = impl_->opt.host;
    const std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
    return cat("http://", host, ":", impl_->port, "/?token=", impl_->opt.token);
}

int ViewerServer::port() const {
    return impl_->port;
}

const std::string& ViewerServer::token() const {
    return impl_->opt.token;
}

void ViewerServer::run() {
    Impl& m = *impl_;
    // the first sequences' thumbnails, made while the user opens the page
    if (!m.warm.joinable())
        m.warm = std::thread([&m] {
            for (int64_t s = 0; s < std::min<int64_t>(m.cap->n_sequences(), 4) && !m.stopping; ++s) try {
                    m.thumbs_of(s);
                } catch (const std::exception&) {
                    return; // the request for it will report the error
                }
        });
    // the library stops listening when accept() fails for another reason than EINTR, EAGAIN or
    // EMFILE: say so rather than end as if stopped
    if (!m.http.listen_after_bind() && !m.stopping)
        throw Error(cat("serve: stopped accepting connections on port ", m.port, " (accept failed)"),
                    "start the server again");
}

void ViewerServer::stop() {
    if (!impl_) return;
    impl_->stopping = true;
    impl_->http.stop();
}

} // namespace attnscope
