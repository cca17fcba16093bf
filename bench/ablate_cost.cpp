// What ablating every head costs, in forward passes: `attnscope ablate --heads all` runs one clean
// forward and then one run per head from that head's layer on (prefix reuse), each with the LM
// head and the loss. This times, in one process, a full forward with logits and loss (the median
// of 5) and a whole ablation (the mean of 2), and prints one JSON object with their ratio
// divided by L.H + 1 (the cost without prefix reuse): issue #21 asks for at most 0.6. The floor
// ratio is what prefix reuse can reach at best with this machine's layer and LM-head times: each
// head reruns its own and later layers and the whole LM head (every logit enters the loss's
// log-sum-exp), so a large vocabulary sets a floor above (L + 1) / 2L.
//
//   python3 bench/random_gpt2.py build/bench-ablate/gpt2     # GPT-2-small-shaped random weights
//   build/bench/bench_ablate_cost build/bench-ablate/gpt2 --seqs 8 --tokens 128
#include "core/error.h"
#include "core/threads.h"
#include "engine/forward.h"
#include "intervene/ablate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

using namespace attnscope;

static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char** argv) try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_ablate_cost MODEL_DIR [--seqs 8] [--tokens 128] [--method zero]\n");
        return 2;
    }
    long seqs = 8, tokens = 128;
    std::string method = "zero";
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--method") method = argv[i + 1];
        else if (a == "--seqs" || a == "--tokens") {
            const long v = std::strtol(argv[i + 1], nullptr, 10);
            if (v <= 0) throw Error(cat(a, " needs a positive integer, found '", argv[i + 1], "'"));
            (a == "--seqs" ? seqs : tokens) = v;
        } else {
            throw Error(cat("unknown argument '", a, "'"), "see the usage line");
        }
    }
    set_num_threads(0);
    const auto model = Model::load(argv[1]);
    const ModelConfig& cfg = model->config();
    std::mt19937 rng(7);
    std::vector<std::vector<int32_t>> ids(static_cast<size_t>(seqs), std::vector<int32_t>(static_cast<size_t>(tokens)));
    for (auto& s : ids)
        for (auto& t : s)
            t = int32_t(rng() % uint32_t(cfg.vocab_size));
    const Batch batch = Batch::from_sequences(ids);

    // one forward as a naive ablation would run it, with logits
    std::vector<double> fwd;
    for (int r = 0; r < 6; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        RunState state;
        ForwardOptions fo;
        fo.logits = true;
        forward(*model, batch, HookSet{}, state, fo);
        if (r > 0) fwd.push_back(seconds_since(t0)); // the first warms the page cache and the threads
    }
    // the same without logits: the layers alone, so the LM head's share is known
    std::vector<double> body;
    for (int r = 0; r < 3; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        RunState state;
        forward(*model, batch, HookSet{}, state, ForwardOptions{});
        body.push_back(seconds_since(t0));
    }
    AblateOptions all;
    all.targets = parse_ablation_targets("all", cfg);
    all.method = parse_ablation_method(method);
    std::vector<double> abl;
    double delta_max = 0;
    for (int r = 0; r < 2; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const HeadImportance hi = ablate_heads(*model, batch, all);
        abl.push_back(seconds_since(t0));
        for (const auto& x : hi.results)
            delta_max = std::max(delta_max, std::abs(x.delta));
    }
    const double f = median(fwd), a = (abl[0] + abl[1]) / 2, layers = median(body), lm_head = std::max(0.0, f - layers);
    const long n_runs = long(cfg.n_layer) * cfg.n_head + 1;
    // the floor of prefix reuse: a head of layer il reruns layers il..L-1 and the LM head
    double floor = f;
    for (int il = 0; il < cfg.n_layer; ++il)
        floor += cfg.n_head * (layers * double(cfg.n_layer - il) / double(cfg.n_layer) + lm_head);
    std::printf("{\"model\": \"%s\", \"seqs\": %ld, \"tokens\": %ld, \"method\": \"%s\", \"threads\": %d,\n"
                " \"forward_s\": %.4f, \"forward_without_logits_s\": %.4f, \"lm_head_share\": %.3f,\n"
                " \"ablate_all_s\": %.3f, \"forwards\": %.2f, \"without_reuse\": %ld,\n"
                " \"ratio\": %.3f, \"floor_ratio\": %.3f, \"max_abs_delta\": %.4f}\n",
                argv[1], seqs, tokens, method.c_str(), num_threads(), f, layers, lm_head / f, a, a / f, n_runs,
                a / f / double(n_runs), floor / f / double(n_runs), delta_max);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ablate_cost: %s\n", e.what());
    return 1;
}
