#!/usr/bin/env python3
"""What the Python package costs over the C++ path, in one process (issue #20): GPT-2-small-shaped
random weights (bench/random_gpt2.py), 8 x 128 random tokens, every layer's attention pattern
cached in memory —
  C++:    Runner::run_with_hooks into an ActivationCache, timed in C++ (bench/python_timing.cpp)
  Python: HookedModel.run_with_cache(tokens, names_filter=<the patterns>, return_logits=False),
          the values written straight into the numpy arrays it returns
each the median of 7 turns, taken alternately. Prints one JSON object.

    PYTHONPATH=build/python:build/bench /usr/bin/python3 bench/python_overhead.py build/bench-ablate/gpt2
"""
import json
import statistics
import sys
import time

import numpy as np

import attnscope
import attnscope_bench_timing


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bench-ablate/gpt2"
    model = attnscope.HookedModel.from_pretrained(model_dir)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, model.cfg.d_vocab, size=(8, 128), dtype=np.int64)
    patterns = [n for n in model.hook_names() if n.endswith("attn.hook_pattern")]
    attnscope_bench_timing.time_cpp_cache(model_dir, "weights", tokens)  # warm: map the weights, grow buffers
    model.run_with_cache(tokens, names_filter=patterns, return_logits=False)
    t_cpp, t_py = [], []
    for _ in range(7):
        t_cpp.append(attnscope_bench_timing.time_cpp_cache(model_dir, "weights", tokens))
        t0 = time.perf_counter()
        _, cache = model.run_with_cache(tokens, names_filter=patterns, return_logits=False)
        t_py.append(time.perf_counter() - t0)
        assert cache["pattern", 0].shape == (8, 12, 128, 128)
    c, p = statistics.median(t_cpp), statistics.median(t_py)
    print(json.dumps({"model": model_dir, "shape": "8x128", "hooks": len(patterns), "kernels": attnscope.kernels(),
                      "cpp_s": round(c, 4), "python_s": round(p, 4), "python_over_cpp": round(p / c, 3),
                      "cpp_runs": [round(x, 4) for x in t_cpp], "python_runs": [round(x, 4) for x in t_py]}))


if __name__ == "__main__":
    main()
