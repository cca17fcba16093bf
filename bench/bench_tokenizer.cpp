// Tokenizer throughput on one thread: reads texts (one per line) and encodes each, first with a
// cold word cache, then again with a warm one. Prints MB/s; used by bench/tokenizer.sh.
//   bench_tokenizer <tokenizer dir> <texts file>
#include "io/texts.h"
#include "tokenizer/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <omp.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_tokenizer <tokenizer dir> <texts file>\n");
        return 2;
    }
    try {
        omp_set_num_threads(1);
        const attnscope::Tokenizer tok = attnscope::Tokenizer::load(argv[1]);
        const std::vector<std::string> texts = attnscope::read_texts(argv[2]);
        size_t bytes = 0;
        for (const auto& t : texts)
            bytes += t.size();
        for (const char* pass : {"cold cache", "warm cache"}) {
            const auto t0 = std::chrono::steady_clock::now();
            size_t tokens = 0;
            for (const auto& t : texts)
                tokens += tok.encode(t).size();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("attnscope (%s): %.2f MB in %.3f s = %.2f MB/s, %zu tokens\n", pass, bytes / 1e6, s,
                        bytes / 1e6 / s, tokens);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 1;
    }
}
