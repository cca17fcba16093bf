#!/usr/bin/env python3
"""Compare two attention_data_summary.json files number by number.

    python3 tools/compare_summaries.py A.json B.json [--tol 1e-9]

Every number is compared at the same place in both files: |a - b| <= tol * max(1, |a|, |b|)
(relative for large values, absolute below 1). Strings, lists and keys must match exactly,
except the keys named with --ignore (default: sources and capture_fingerprint, which name the
capture directories), and keys only B has with --allow-added (B from a newer version). Prints the
largest difference and where it is; exits 1 when a value differs beyond tol or the structure
differs.
"""
import argparse
import json
import sys


def walk(a, b, path, tol, ignore, out, added_ok=False):
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str):
        if a != b:
            out["mismatch"].append(f"{path}: {a!r} != {b!r}")
        return
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        d = abs(a - b) / max(1.0, abs(a), abs(b))
        if d > out["worst"][0]:
            out["worst"] = (d, path, a, b)
        if d > tol:
            out["mismatch"].append(f"{path}: {a!r} != {b!r} (scaled difference {d:.3g})")
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out["mismatch"].append(f"{path}: {len(a)} items != {len(b)}")
            return
        for k, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{k}]", tol, ignore, out, added_ok)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(k for k in a if k not in ignore), set(k for k in b if k not in ignore)
        if ka - kb or (kb - ka and not added_ok):
            out["mismatch"].append(f"{path}: keys differ: {sorted(ka ^ kb)}")
            return
        for k in a:
            if k in ka:
                walk(a[k], b[k], f"{path}.{k}", tol, ignore, out, added_ok)
        return
    out["mismatch"].append(f"{path}: {type(a).__name__} != {type(b).__name__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--ignore", default="sources,capture_fingerprint")
    ap.add_argument("--allow-added", action="store_true", help="keys only B has are not differences")
    args = ap.parse_args()
    out = {"worst": (0.0, "", None, None), "mismatch": []}
    walk(json.load(open(args.a)), json.load(open(args.b)), "$", args.tol, set(args.ignore.split(",")), out,
         args.allow_added)
    d, path, x, y = out["worst"]
    print(f"largest scaled difference: {d:.3g}" + (f" at {path} ({x!r} vs {y!r})" if path else ""))
    for m in out["mismatch"][:20]:
        print("differs:", m)
    if out["mismatch"]:
        print(f"{len(out['mismatch'])} values differ beyond {args.tol:g}")
        return 1
    print(f"equal within {args.tol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
