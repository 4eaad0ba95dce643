#!/usr/bin/env python3
"""Summarizes run.sh results: median [min..max] of every measure over the rounds."""
import json, re, statistics, sys

go = {}   # (bench, unit) -> [values]
hf = {}   # (threads, key) -> [values]
for line in open(sys.argv[1]):
    kind, _, rest = line.split(" ", 2)
    if kind == "go":
        f = rest.split()
        name = re.sub(r"-\d+$", "", f[0])
        for v, unit in zip(f[2::2], f[3::2]):
            go.setdefault((name, unit), []).append(float(v))
    else:
        d = json.loads(rest)
        for k in ("load_ms", "batch_median_tokens_per_s", "batch_median_MB_per_s", "percall_median_tokens_per_s", "percall_median_MB_per_s"):
            hf.setdefault((kind, k), []).append(float(d[k]))
        hf.setdefault((kind, "cold_batch_s"), []).append(d["batch_s"][0])
        hf.setdefault((kind, "tokens"), []).append(d["tokens"])

def fmt(xs):
    return f"{statistics.median(xs):,.4g} [{min(xs):,.4g} .. {max(xs):,.4g}] (n={len(xs)})"

for (name, unit), xs in sorted(go.items()):
    if name == "BenchmarkLoad" and unit == "ns/op":
        xs = [x / 1e6 for x in xs]; unit = "ms/op"
    print(f"go  {name:24s} {unit:10s} {fmt(xs)}")
for (kind, k), xs in sorted(hf.items()):
    print(f"{kind} {k:34s} {fmt(xs)}")
