#!/usr/bin/env python3
"""End-to-end comparison with the PyTorch peer, in one run on one machine (issue #9):

  (1) attnscope run capturing weights + inputs + outputs to disk   (whole process, model load included)
  (2) the same with --capture none                                 (whole process)
  (3) the PyTorch peer doing (1)'s work: bench/torch_peer.py       (steady state, best configuration)
  (4) the sgemm bound for the same matrix FLOPs: bench_sgemm_bound
  plus the forward alone in-process (bench_kernels BM_Forward; three times, each next to a run of
  (4)), the model load, and peak RSS. The model file is first evicted from the page cache and read
  back (bench_map_probe --evict), so that it is cached as a model read from disk is.

    /usr/bin/python3 bench/e2e.py [--build build] [--model DIR] [--out build/bench-e2e] [--repeat 3]

Shapes: 8 x 128 and 1 x 1024 tokens on GPT-2 small (12 layers, 12 heads, width 768, vocab
50257, random weights from bench/random_gpt2.py, made once under --out). The texts are English
sentences long enough to fill every sequence (tokenized with the built-in tokenizer).
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the environment of every side (they pin
OpenBLAS to slower kernels on this workplace's machines); the peer runs on OpenBLAS's OpenMP
build (one thread pool). Prints a Markdown table and writes results.json under --out.
"""
import argparse
import shutil
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(extra)
    return env


def timed(cmd, env):
    """Wall seconds and peak RSS (KiB) of a whole process, via GNU time."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"e2e: {' '.join(cmd)} failed:\n{p.stderr}")
    return wall, int(p.stderr.strip().splitlines()[-1])


def as_read_from_disk(build, path):
    """Put a model file in the page cache the way a model read from disk is: bench_map_probe
    --evict drops it and reads it back in large reads, then times mapping it as attnscope does.
    How a file sits in the page cache depends on its history: the model used in session 6's runs
    was cached in small folios, and mapping its 475 MB took 68-72 ms (unmapping at exit 38 ms);
    read back, Linux 6.18's ext4 caches it in large folios and the same takes 3-4 ms (1 ms). The
    peer, timed in steady state, is not affected. Returns the probe's report, for results.json."""
    p = subprocess.run([os.path.join(build, "bench", "bench_map_probe"), path, "--evict"], capture_output=True,
                       text=True, check=True)
    return {"bench_map_probe": p.stdout.strip().splitlines()}


def texts(n, words):
    out = []
    for s in range(n):
        parts = []
        i = 0
        while len(parts) < words:
            parts.append(f"In the year {1800 + (s * 37 + i) % 200} the committee on item {s * 1000 + i} reported "
                         f"that the harbour, the roads and the schools of district {i % 17} were in good order.")
            i += 1
            parts = " ".join(parts).split()
        out.append(" ".join(parts[:words]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", help="a GPT-2 small directory (default: random weights made under --out)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for need, package in (("/usr/bin/time", "time"), (os.path.join(args.build, "attnscope"), None),
                          (os.path.join(args.build, "bench", "bench_map_probe"), None)):
        if not os.path.exists(need):
            sys.exit(f"e2e: {need} is missing: " + (f"apt install {package} (GNU time measures peak RSS)" if package
                                                    else "build first (cmake --build build), or pass --build DIR"))
    try:
        import torch  # noqa: F401  (the peer runs in a subprocess; fail here, before the long runs)
    except ImportError:
        sys.exit("e2e: the PyTorch peer needs Debian's python3-torch: apt install python3-torch, "
                 "and run e2e.py with /usr/bin/python3")
    out = args.out or os.path.join(args.build, "bench-e2e")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(args.build, "attnscope")
    env = clean_env()
    torch_env = clean_env(LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp")
    model = args.model or os.path.join(out, "gpt2-small")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(HERE, "random_gpt2.py"), model, "--vocab", "50257"], check=True)
    results = {"model": model, "machine": os.uname().nodename, "cores": os.cpu_count(), "shapes": []}
    results["model_page_cache"] = as_read_from_disk(args.build, os.path.join(model, "model.safetensors"))

    # model load: `attnscope info` opens (mmaps and validates) the checkpoint and prints a summary
    load = [timed([exe, "info", "--model", model], env)[0] for _ in range(5)]
    results["info_process_seconds_best"] = min(load)

    for n_seq, T in ((8, 128), (1, 1024)):
        tag = f"{n_seq}x{T}"
        inp = os.path.join(out, f"texts-{tag}.txt")
        with open(inp, "w") as f:
            f.write("\n".join(texts(n_seq, T * 2)) + "\n")
        cap, none = os.path.join(out, f"capture-{tag}"), os.path.join(out, f"none-{tag}")
        base = [exe, "run", "--model", model, "--input", inp, "--max-length", str(T), "--batch-size", "8", "--force"]
        r = {"shape": tag, "sequences": n_seq, "tokens_per_sequence": T}
        def fresh(d):  # every run writes a new directory (replacing files costs an unlink)
            shutil.rmtree(d, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            return d

        # the three runs take turns, so a slow spell of the shared host falls on all of them alike
        runs = {"capture": [], "nosync": [], "none": []}
        for _ in range(args.repeat):
            runs["capture"].append(timed(base + ["--output", fresh(cap)], env))
            runs["nosync"].append(timed(base + ["--output", fresh(cap), "--no-sync"], env))
            runs["none"].append(timed(base + ["--output", fresh(none), "--capture", "none"], env))
        r["capture_seconds"] = [round(w, 3) for w, _ in runs["capture"]]
        r["capture_peak_rss_mib"] = max(m for _, m in runs["capture"]) / 1024
        r["capture_nosync_seconds"] = [round(w, 3) for w, _ in runs["nosync"]]
        r["nocapture_seconds"] = [round(w, 3) for w, _ in runs["none"]]
        r["nocapture_peak_rss_mib"] = max(m for _, m in runs["none"]) / 1024
        r["capture_bytes"] = sum(os.path.getsize(os.path.join(cap, f)) for f in os.listdir(cap))
        with open(os.path.join(cap, "manifest.json")) as f:
            man = json.load(f)
        ids = [s["token_ids"] for s in man["sequences"]]
        assert all(len(s) == T for s in ids), f"{tag}: texts gave fewer than {T} tokens"
        ids_path = os.path.join(out, f"ids-{tag}.json")
        with open(ids_path, "w") as f:
            json.dump(ids, f)
        # every side starts with no dirty pages of an earlier one still going to disk (write-back
        # slows the other core here by 1.4-1.9x: bench_disk_probe)
        subprocess.run(["sync"], check=True)
        p = subprocess.run([sys.executable, os.path.join(HERE, "torch_peer.py"), model, ids_path,
                            os.path.join(out, f"peer-{tag}"), "--repeat", "5", "--check", cap],
                           env=torch_env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"e2e: torch_peer.py failed:\n{p.stderr}")
        r["peer"] = json.loads(p.stdout.strip().splitlines()[-1])
        subprocess.run(["sync"], check=True)  # the peer's pickle is not synced: let it reach the disk first
        # The forward and the bound, three times in adjacent pairs, so that each ratio compares two
        # measurements of one spell of the shared host; the median pair is reported.
        pairs = []
        for _ in range(3):
            p = subprocess.run([os.path.join(args.build, "bench", "bench_sgemm_bound"), "--seqs", str(n_seq),
                                "--tokens", str(T)], env=env, capture_output=True, text=True, check=True)
            bound = json.loads(p.stdout)
            p = subprocess.run([os.path.join(args.build, "bench", "bench_kernels"),
                                f"--benchmark_filter=BM_Forward/{n_seq}/{T}/0/", "--benchmark_format=json"],
                               env=clean_env(ATTNSCOPE_BENCH_MODEL=model), capture_output=True, text=True, check=True)
            fwd = json.loads(p.stdout)["benchmarks"][0]["real_time"] / 1e3  # reported in ms
            pairs.append((bound["bound_seconds"] / fwd, fwd, bound))
        pairs.sort(key=lambda x: x[0])
        r["bound_over_forward_pairs"] = [round(x[0], 3) for x in pairs]
        r["forward_seconds_in_process"], r["sgemm_bound"] = pairs[1][1], pairs[1][2]
        results["shapes"].append(r)
        print(f"{tag}: done", file=sys.stderr, flush=True)

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)

    print(f"GPT-2 small shapes (random weights), {os.cpu_count()} cores; times in seconds "
          f"(attnscope: median of {args.repeat} whole processes; peer: median of 5 steady-state steps)\n")
    print("| shape | (1) attnscope capture (fsync) | (1') capture, --no-sync | (2) no capture "
          "| (3) PyTorch peer, capture + pickle | (3)/(1) | (3)/(1') | forward in-process | (4) sgemm bound "
          "| (4)/forward | overhead (1)/(2) | overhead (1')/(2) | peak RSS (1) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results["shapes"]:
        c, n = statistics.median(r["capture_seconds"]), statistics.median(r["nocapture_seconds"])
        cn = statistics.median(r["capture_nosync_seconds"])
        peer = r["peer"]["capture_seconds_median"]
        fwd, bound = r["forward_seconds_in_process"], r["sgemm_bound"]["bound_seconds"]
        print(f"| {r['shape']} | {c:.3f} | {cn:.3f} | {n:.3f} | {peer:.3f} | {peer / c:.2f}x | {peer / cn:.2f}x "
              f"| {fwd:.3f} | {bound:.3f} ({r['sgemm_bound']['sgemm_gflops']:.0f} GFLOP/s) | {bound / fwd:.0%} "
              f"| {c / n - 1:+.0%} | {cn / n - 1:+.0%} | {r['capture_peak_rss_mib']:.0f} MiB |")
    print("\nCapture size: " + ", ".join(f"{r['shape']} {r['capture_bytes'] / 1e6:.0f} MB" for r in results["shapes"])
          + "; peer's pickle: " + ", ".join(f"{r['shape']} {r['peer']['pickle_bytes'] / 1e6:.0f} MB"
                                            for r in results["shapes"]))
    print(f"\nPeer without capture (steady state): " + ", ".join(
        f"{r['shape']} {r['peer']['forward_seconds_median']:.3f} s" for r in results["shapes"]))
    print(f"Peer's attention weights vs attnscope's capture (layer 0, sequence 0): max abs difference " + ", ".join(
        f"{r['shape']} {r['peer']['check_max_abs_diff_L0_seq0']:.1e}" for r in results["shapes"]))
    print("Bound / forward in the three adjacent pairs (the median one is in the table): " + ", ".join(
        f"{r['shape']} " + " / ".join(f"{x:.0%}" for x in r["bound_over_forward_pairs"]) for r in results["shapes"]))
    print("Model file before the runs (`bench_map_probe MODEL --evict`): " +
          "; ".join(results["model_page_cache"]["bench_map_probe"]))
    print(f"`attnscope info` (load + validate + summary), whole process, best of 5: "
          f"{results['info_process_seconds_best']:.3f} s")


if __name__ == "__main__":
    main()
