// attnscope serve: serves the viewer of a capture of any size over HTTP on localhost.
#include "cli.h"

#include <pthread.h>
#include <spawn.h>

namespace attnscope::cli {

int cmd_serve(const Args& args) {
    const auto pos = args.positional();
    if (pos.size() != 1) throw Error("serve: expected one capture directory", "usage: attnscope serve DIR");
    ServeOptions so;
    so.port = int(args.integer("--port", 0, 65535));
    so.host = args.get("--host");
    so.allow_remote = args.has("--allow-remote");
    so.on_notice = [](const std::string& n) { std::fprintf(stderr, "attnscope: note: %s\n", n.c_str()); };
    if (!is_loopback(so.host) && so.allow_remote)
        std::fprintf(stderr,
                     "attnscope: warning: listening on %s: anyone who can reach it and has the URL's "
                     "token can read this capture (plain HTTP, no encryption)\n",
                     so.host.c_str());
    // Ctrl-C and SIGTERM are taken by one thread that stops the server, so every request in
    // flight is answered and run() returns; the server's threads inherit the blocked mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ViewerServer server(pos[0], so);
    std::thread([&server, stop_signals] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::fprintf(stderr, "\nattnscope: stopping the server\n");
        server.stop();
    }).detach();
    std::fprintf(stderr, "attnscope: serving %s (Ctrl-C stops)\n", pos[0].c_str());
    std::printf("%s\n", server.url().c_str());
    std::fflush(stdout);
    if (args.has("--open")) {
        const std::string url = server.url();
        char* const argv_open[] = {const_cast<char*>("xdg-open"), const_cast<char*>(url.c_str()), nullptr};
        pid_t pid = 0;
        if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, argv_open, environ) != 0)
            std::fprintf(stderr, "attnscope: cannot start xdg-open: open the URL above in a browser\n");
    }
    server.run();
    return 0;
}

extern const Verb verb_serve{
    "serve",
    "DIR [options]",
    "the viewer as a local web server, for captures of any size",
    "Serves the viewer for the capture in DIR: every sequence, each head at full resolution, read when shown. "
    "Prints a URL with a secret token that every request must carry; listens on 127.0.0.1 until Ctrl-C.",
    {{"--port", "P", "8765", "the port; 0: any free port"},
     {"--host", "H", "127.0.0.1", "the address to listen on; another than loopback needs --allow-remote"},
     {"--allow-remote", "", "", "allow a --host other than loopback (plain HTTP: the token is the only guard)"},
     {"--open", "", "", "open the URL in the desktop's browser (xdg-open)"}},
    cmd_serve};

} // namespace attnscope::cli
