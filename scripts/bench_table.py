#!/usr/bin/python3
"""Markdown tables from a scripts/bench.sh results file (one JSON line per measurement).

    /usr/bin/python3 scripts/bench_table.py .bench/results-<time>.jsonl THREADS DTYPE

pairs/s per system and workload: the median of every timed round of every pass, min..max in brackets
(each system's JSON carries its rounds in pairs_per_s_all); ratios are of those medians.
Standard library only.
"""
import json, statistics, sys

SYSTEMS = [  # column order; a column appears when the results hold it
    ("gorerank", "gorerank"),
    ("torch-fp32", "PyTorch fp32"),
    ("torch-bf16", "PyTorch bf16"),
    ("torch-bf16-autocast", "PyTorch bf16-autocast"),
    ("torch-int8-dynamic", "PyTorch int8-dynamic"),
    ("ort-fp32", "ORT fp32"),
]
RATIOS = [("ort-fp32", "ORT"), ("torch-fp32", "torch fp32"), ("torch-bf16-autocast", "torch bf16-autocast"),
          ("torch-int8-dynamic", "torch int8-dynamic")]


def fmt(x):
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def main(path, threads, dtype):
    rows, order, check = {}, [], None
    for line in open(path):
        r = json.loads(line)
        if r["label"] == "onnx-check":
            check = r["result"]
            continue
        if r["label"] not in rows:
            rows[r["label"]] = {}
            order.append(r["label"])
        rows[r["label"]].setdefault(r["system"], []).append(r)
    systems = SYSTEMS + [(k, k.replace("llama.cpp-", "llama.cpp ")) for k in sorted(
        {s for l in order for s in rows[l] if s.startswith("llama.cpp-")})]
    present = [(k, name) for k, name in systems if any(k in rows[l] for l in order)]

    def rounds(label, system):
        return [x for r in rows[label].get(system, []) for x in r["result"].get("pairs_per_s_all") or [r["result"]["pairs_per_s"]]]

    info = [f"threads {threads}", f"gorerank dtype {dtype}"]
    for recs in (v for l in order for v in rows[l].values()):
        res = recs[0]["result"]
        if "cpu_tier" in res and not any(i.startswith("gorerank tier") for i in info):
            info.append(f"gorerank tier {res['cpu_tier']} ({res.get('cpu_kernels', '')})")
        if "torch" in res and not any(i.startswith("PyTorch") for i in info):
            info.append(f"PyTorch {res['torch']}")
        if "ort" in res and not any(i.startswith("ONNX Runtime") for i in info):
            info.append(f"ONNX Runtime {res['ort']} ({res['execution_provider']}, graph optimization {res['graph_optimization']})")
            info.append(f"CPU {res['cpu']} [{' '.join(res['cpu_isa'])}]")
        if "gguf" in res and not any(i.startswith("llama.cpp") for i in info):
            info.append("llama.cpp llama-embedding --pooling rank on the same texts (real rag pairs)")
    print(", ".join(info) + "\n")

    ratios = [(k, name) for k, name in RATIOS + [p for p in present if p[0].startswith("llama.cpp-")]
              if any(k == p for p, _ in present) and present[0][0] == "gorerank"]
    head = ["workload"] + [f"{name} pairs/s" for _, name in present] + [f"gorerank / {name}" for _, name in ratios]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label in order:
        proxy = next((r["proxy"] for recs in rows[label].values() for r in recs if r.get("proxy")), "")
        cells = [label + (f" (PyTorch, ORT: proxy {proxy})" if proxy else "")]
        med = {}
        for k, _ in present:
            xs = rounds(label, k)
            if not xs:
                cells.append("-")
                continue
            med[k] = statistics.median(xs)
            cells.append(f"{fmt(med[k])} ({fmt(min(xs))}..{fmt(max(xs))})")
        for k, _ in ratios:
            cells.append(f"{med['gorerank'] / med[k]:.2f}x" if "gorerank" in med and k in med else "-")
        print("| " + " | ".join(cells) + " |")

    ours = [l for l in order if "gorerank" in rows[l]]
    if ours:
        print("\ngorerank details (median over passes; peak RSS: max)\n")
        print("| workload | tokens/s | GFLOP/s | % of GEMM peak | GEMM peak GFLOP/s | peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        for label in ours:
            g = [r["result"] for r in rows[label]["gorerank"]]
            m = lambda k: statistics.median(x.get(k, 0) for x in g)
            print(f"| {label} | {m('tokens_per_s'):.0f} | {m('gflops'):.1f} | {m('pct_of_peak'):.0f}% | "
                  f"{m('gemm_peak_gflops'):.1f} | {max(x['peak_rss_bytes'] for x in g) / 2**20:.0f} |")
        print()
        for label in ours:
            g = [r["result"]["stage_ms_per_call"] for r in rows[label]["gorerank"]]
            print(f"{label}: ms/call " + ", ".join(f"{k} {statistics.median(s[k] for s in g):.2f}"
                                                   for k in ("tokenize", "embeddings", "attention", "ffn", "head", "total") if k in g[0]))
            ops = [k for k in ("qkv", "attend", "attn_out", "attn_norm", "ffn_up", "ffn_down", "ffn_norm") if k in g[0]]
            if ops:  # the layers' operations (rerank bench's split of attention and ffn)
                print(f"{label}: ms/call by operation " + ", ".join(f"{k} {statistics.median(s[k] for s in g):.2f}" for k in ops))
    if check:
        d = {k[: -len("_max_abs_diff_vs_torch_f32")]: v for k, v in check.items() if k.endswith("_max_abs_diff_vs_torch_f32")}
        print("\nONNX export check (ORT vs PyTorch fp32 logits, padded random batch): "
              + ", ".join(f"{k}: max |Δ| {v:.2e} (max |logit| {check[k + '_max_abs_logit']:.3g})" for k, v in d.items()))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: bench_table.py RESULTS.jsonl THREADS DTYPE")
    main(*sys.argv[1:])
