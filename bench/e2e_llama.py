#!/usr/bin/env python3
"""End to end on Llama-shaped models, in one run on one machine: `attnscope run` capturing its
default hooks (attention weights, the attention block's inputs and outputs) to disk, whole
process (model load, tokenizer, writing included), against the PyTorch peer doing the same
forward and capture with a pickle per step in steady state (bench/llama_peer.py --capture-to),
for the weights as stored (16-bit, widened tile by tile) and with --weights f32.

    /usr/bin/python3 bench/e2e_llama.py MODEL_DIR [--shapes 8x128,1x1024] [--repeat 3] [--out DIR]

MODEL_DIR needs a tokenizer; bench/random_llama.py makes random-weight checkpoints (SmolLM-135M's
shape by default; TinyLlama-1.1B's with --layers 22 --heads 32 --kv-heads 4 --embd 2048
--inner 5632 --vocab 32000) and --tokenizer copies one in. Prints a Markdown table.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from e2e import clean_env, timed, texts  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shapes", default="8x128,1x1024")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or os.path.join(a.build, "bench-e2e-llama")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(a.build, "attnscope")
    env = clean_env()
    torch_env = clean_env(LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp")
    rows = []
    for shape in a.shapes.split(","):
        n_seq, T = map(int, shape.split("x"))
        inp = os.path.join(out, f"texts-{shape}.txt")
        with open(inp, "w") as f:
            f.write("\n".join(texts(n_seq, T * 2)) + "\n")
        cap = os.path.join(out, f"capture-{shape}")
        base = [exe, "run", "--model", a.model, "--input", inp, "--max-length", str(T), "--batch-size", "8",
                "--force", "--output", cap]
        runs = {"stored": [], "nosync": [], "f32": []}
        for _ in range(a.repeat):  # in turns, so a slow spell of the shared host falls on all
            for kind, extra in (("stored", []), ("nosync", ["--no-sync"]), ("f32", ["--weights", "f32"])):
                shutil.rmtree(cap, ignore_errors=True)
                subprocess.run(["sync"], check=True)
                runs[kind].append(timed(base + extra, env))
        with open(os.path.join(cap, "manifest.json")) as f:
            ids = [s["token_ids"] for s in json.load(f)["sequences"]]
        assert all(len(s) == T for s in ids), f"{shape}: texts gave fewer than {T} tokens"
        ids_path = os.path.join(out, f"ids-{shape}.json")
        with open(ids_path, "w") as f:
            json.dump(ids, f)
        subprocess.run(["sync"], check=True)
        p = subprocess.run([sys.executable, os.path.join(HERE, "llama_peer.py"), a.model, "--ids", ids_path,
                            "--capture-to", os.path.join(out, f"peer-{shape}"), "--repeat", "5"],
                           env=torch_env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"e2e_llama: llama_peer.py failed:\n{p.stderr}")
        peer = json.loads(p.stdout.strip().splitlines()[-1])
        stored = statistics.median(w for w, _ in runs["stored"])
        nosync = statistics.median(w for w, _ in runs["nosync"])
        f32 = statistics.median(w for w, _ in runs["f32"])
        rows.append((shape, stored, nosync, max(m for _, m in runs["stored"]) / 1024, f32,
                     max(m for _, m in runs["f32"]) / 1024, peer))
        print(f"{shape}: done", file=sys.stderr, flush=True)
    size = os.path.getsize(os.path.join(a.model, "model.safetensors")) / 1e6
    print(f"{os.path.basename(os.path.normpath(a.model))} ({size:.0f} MB), {os.cpu_count()} cores; attnscope: median "
          f"of {a.repeat} whole processes; peer: median of 5 steady-state capture + pickle steps\n")
    print("| shape | attnscope, weights as stored (fsync) | the same, --no-sync | peak RSS | attnscope, --weights f32 "
          "| peak RSS | PyTorch peer (capture + pickle, no sync) | peer / stored | peer / stored --no-sync | peer / f32 "
          "| stored / f32 time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape, st, ns, st_m, f, f_m, peer in rows:
        pc = peer["capture_seconds_median"]
        print(f"| {shape} | {st:.3f} s | {ns:.3f} s | {st_m:.0f} MiB | {f:.3f} s | {f_m:.0f} MiB | {pc:.3f} s "
              f"| {pc / st:.2f}x | {pc / ns:.2f}x | {pc / f:.2f}x | {st / f:.2f} |")


if __name__ == "__main__":
    main()
