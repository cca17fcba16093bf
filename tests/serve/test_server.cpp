// attnscope serve over real sockets (cpp-httplib's client against the server on a free loopback
// port): the token gate, read-only methods, paths that try to leave the capture directory,
// binary patterns equal to the capture's values, 200 concurrent requests, a malformed request,
// and the refusals at start (non-loopback address, port in use).
#include "api/runner.h"
#include "serve/server.h"
#include "test_util.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace attnscope;

namespace {

const std::string kTiny = std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";

// Resident memory of this process in kB.
long rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// Bytes sent on a raw connection, and the first line of the answer.
std::string raw_request(int port, const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return "connect failed";
    }
    (void)!::write(fd, bytes.data(), bytes.size());
    char buf[256] = {};
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    const std::string s(buf, size_t(std::max<ssize_t>(n, 0)));
    return s.substr(0, s.find('\r'));
}

class Serve : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir();
        Runner runner(kTiny);
        runner.run_with_hooks(runner.prepare_data({"The State of the Union is strong.", "Peace and war. Peace and war.",
                                                   "We must act now, and act together."}),
                              dir_->file("cap"));
        // a symlink out of the capture directory, named like a report file
        std::filesystem::create_symlink("/etc/passwd", dir_->file("cap/attention_secret.txt"));
        test::write_file(dir_->file("outside.txt"), "outside");
        ServeOptions o;
        o.port = 0;
        server_ = new ViewerServer(dir_->file("cap"), o);
        thread_ = new std::thread([] { server_->run(); });
        for (int k = 0; k < 1000 && !client().Get("/?token=" + server_->token()); ++k)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    static void TearDownTestSuite() {
        server_->stop();
        thread_->join();
        delete thread_;
        delete server_;
        delete dir_;
    }
    static httplib::Client client() {
        httplib::Client c("127.0.0.1", server_->port());
        c.set_read_timeout(20, 0);
        return c;
    }
    static httplib::Headers auth() { return {{"X-Attnscope-Token", server_->token()}}; }
    static int status(const std::string& path, const httplib::Headers& h = auth()) {
        auto r = client().Get(path, h);
        return r ? r->status : -1;
    }
    static test::TempDir* dir_;
    static ViewerServer* server_;
    static std::thread* thread_;
};
test::TempDir* Serve::dir_ = nullptr;
ViewerServer* Serve::server_ = nullptr;
std::thread* Serve::thread_ = nullptr;

} // namespace

TEST_F(Serve, EveryRequestNeedsTheToken) {
    EXPECT_EQ(status("/", {}), 403);
    EXPECT_EQ(status("/api/thumbs?seq=0", {}), 403);
    std::string wrong = server_->token();
    wrong[0] = wrong[0] == '0' ? '1' : '0'; // one character off
    EXPECT_EQ(status("/api/thumbs?seq=0", {{"X-Attnscope-Token", wrong}}), 403);
    EXPECT_EQ(status("/?token=" + server_->token(), {}), 200);
    EXPECT_EQ(status("/api/thumbs?seq=0"), 200);
    EXPECT_EQ(server_->url().rfind("http://127.0.0.1:", 0), 0u);
    EXPECT_NE(server_->url().find(server_->token()), std::string::npos);
    EXPECT_EQ(server_->token().size(), 64u);
}

TEST_F(Serve, PatternsAreTheCapturesValues) {
    CaptureReader cap(dir_->file("cap"));
    for (int64_t s : {0, 2})
        for (int il : {0, 3})
            for (int h : {1, 3}) {
                auto r = client().Get(cat("/api/pattern?seq=", s, "&layer=", il, "&head=", h), auth());
                ASSERT_TRUE(r);
                ASSERT_EQ(r->status, 200) << r->body;
                const Captured p = cap.read(s, cat("blocks.", il, ".attn.hook_pattern"));
                const int64_t T = p.shape[1];
                ASSERT_EQ(r->body.size(), size_t(T * (T + 1) / 2) * 4);
                const float* got = reinterpret_cast<const float*>(r->body.data());
                for (int64_t i = 0, k = 0; i < T; ++i)
                    for (int64_t j = 0; j <= i; ++j, ++k)
                        ASSERT_EQ(got[k], p.data[size_t((h * T + i) * T + j)]) << s << " L" << il << "H" << h;
            }
    EXPECT_EQ(status("/api/pattern?seq=3&layer=0&head=0"), 400); // three sequences
    EXPECT_EQ(status("/api/pattern?seq=0&layer=4&head=0"), 400);
    EXPECT_EQ(status("/api/pattern?seq=0&layer=-1&head=0"), 400);
    EXPECT_EQ(status("/api/pattern?seq=0x1&layer=0&head=0"), 400);
    EXPECT_EQ(status("/api/pattern?seq=0&layer=0"), 400);
}

TEST_F(Serve, NothingOutsideTheCaptureDirectory) {
    EXPECT_EQ(status("/files/attention_data_summary.json"), 404); // not analysed into the directory
    EXPECT_EQ(status("/files/manifest.json"), 200);
    for (const char* path : {"/files/../outside.txt", "/files/..%2Foutside.txt", "/files/%2e%2e/outside.txt",
                             "/files//etc/passwd", "/files/%2Fetc%2Fpasswd", "//etc/passwd", "/etc/passwd",
                             "/files/attention_secret.txt", "/files/.hidden.txt", "/../../etc/passwd",
                             "/files/attention_data_weights.safetensors"}) {
        auto r = client().Get(path, auth());
        ASSERT_TRUE(r) << path;
        EXPECT_TRUE(r->status == 404 || r->status == 400) << path << " -> " << r->status;
        EXPECT_EQ(r->body.find("root:"), std::string::npos) << path;
        EXPECT_EQ(r->body.find("outside"), std::string::npos) << path;
    }
}

TEST_F(Serve, ReadOnlyAndMalformedRequests) {
    auto c = client();
    auto post = c.Post("/api/thumbs?seq=0", auth(), "x", "text/plain");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
    auto del = c.Delete("/files/manifest.json", auth());
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 405);
    EXPECT_EQ(raw_request(server_->port(), "GARBAGE\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(raw_request(server_->port(), "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n").substr(0, 12),
              "HTTP/1.1 414");
    EXPECT_EQ(status("/api/thumbs?seq=0"), 200); // still up
}

TEST_F(Serve, TwoHundredConcurrentRequestsAllAnswered) {
    status("/api/thumbs?seq=1"); // warm: what follows measures requests, not the first analysis
    const long before = rss_kb();
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < 200; ++k)
        threads.emplace_back([&, k] {
            auto c = client();
            auto r = k % 2 ? c.Get(cat("/api/pattern?seq=", k % 3, "&layer=", k % 4, "&head=", k % 4), auth())
                           : c.Get(cat("/api/thumbs?seq=", k % 3), auth());
            if (r && r->status == 200) ++ok;
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(ok.load(), 200);
    EXPECT_LT(rss_kb() - before, 64 * 1024) << "kB of resident memory added by 200 requests";
}

TEST_F(Serve, RefusedAtStart) {
    ServeOptions remote;
    remote.host = "0.0.0.0";
    remote.port = 0;
    test::expect_error([&] { ViewerServer(dir_->file("cap"), remote); }, {"not a loopback address", "--allow-remote"});
    ServeOptions taken;
    taken.port = server_->port();
    test::expect_error([&] { ViewerServer(dir_->file("cap"), taken); }, {"cannot listen", "--port"});
    test::expect_error([&] { ViewerServer(dir_->file("outside.txt"), {}); }, {"manifest.json"});
    EXPECT_TRUE(is_loopback("127.0.0.1"));
    EXPECT_TRUE(is_loopback("127.3.2.1"));
    EXPECT_TRUE(is_loopback("::1"));
    EXPECT_FALSE(is_loopback("0.0.0.0"));
    EXPECT_FALSE(is_loopback("192.168.1.2"));
}
