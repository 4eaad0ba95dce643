#!/usr/bin/python3
"""Time llama.cpp's reranker (llama-embedding --pooling rank) on the texts of a gorerank workload.

    /usr/bin/python3 scripts/llamacpp_bench.py --bin LLAMA_BUILD/bin --gguf MODEL.gguf \
        --pairs PAIRS.jsonl --threads 2 --rounds 3 --batch-tokens 1024 [--label q8_0]

PAIRS.jsonl is what `rerank bench --pairs-out` writes ({"query", "document"} per line): the rag
workload's 50 pairs, or B pairs of exactly S tokens for a BxS shape. One llama-embedding process
reads a warm-up (the first pairs, up to 8) and then the workload ROUNDS times; llama.cpp packs
consecutive pairs into batches of at most --batch-tokens tokens (its -b, -ub and -c: encoder
models need batch = ubatch, and llama-embedding raises the batch to the context) and logs each
batch with a timestamp. A round is one pass over the workload: its time runs from the moment its
first token's batch started to the moment the next round's did, both found by interpolating by
tokens inside a batch (exact when batches and rounds align, as for BxS with --batch-tokens B*S).
Model loading is outside every round. Prints one JSON object (the fields scripts/bench_table.py
reads). Standard library only; llama.cpp is not part of gorerank: build it and convert the
checkpoint to GGUF yourself (docs/PERFORMANCE.md, "llama.cpp", says how).
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

STAMP = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+) ")  # llama.cpp log prefix: minutes.seconds.ms.us
BATCH = re.compile(r"batch_decode: n_tokens = (\d+), n_seq = (\d+)")
PROMPT = re.compile(r"number of tokens in prompt = (\d+)")


def seconds(line):
    m = STAMP.match(line)
    if not m:
        return None
    mi, s, ms, us = (int(x) for x in m.groups())
    return mi * 60 + s + ms / 1e3 + us / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="folder holding llama-embedding")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    if a.rounds < 1 or a.threads < 1 or a.batch_tokens < 1:
        sys.exit("llamacpp_bench: --rounds, --threads and --batch-tokens must be positive")

    pairs = [json.loads(l) for l in open(a.pairs, encoding="utf-8") if l.strip()]
    if not pairs:
        sys.exit(f"llamacpp_bench: no pairs in {a.pairs}")
    for p in pairs:
        if any(c in p["query"] + p["document"] for c in "\t\n\r"):
            sys.exit("llamacpp_bench: a text holds a tab or newline (llama-embedding's separators)")
    lines = [p["query"] + "\t" + p["document"] for p in pairs]
    warm = lines[: max(1, min(len(lines), 8))]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(warm + lines * a.rounds) + "\n")
        prompt_file = f.name
    cmd = [os.path.join(a.bin, "llama-embedding"), "-m", a.gguf, "--pooling", "rank", "-f", prompt_file,
           "-t", str(a.threads), "-tb", str(a.threads), "-c", str(a.batch_tokens), "-b", str(a.batch_tokens), "-ub", str(a.batch_tokens), "--embd-normalize", "-1",
           "--verbose-prompt", "--perf", "-lv", "4", "--log-prefix", "--log-timestamps"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    finally:
        os.unlink(prompt_file)
    log = (out.stdout + out.stderr).splitlines()
    if out.returncode != 0:
        sys.exit(f"llamacpp_bench: llama-embedding exited {out.returncode}: " + "\n".join(log[-15:]))

    lens = [int(m.group(1)) for m in map(PROMPT.search, log) if m]
    batches, end = [], None  # (start seconds, tokens)
    for line in log:
        m = BATCH.search(line)
        if m and seconds(line) is not None:
            batches.append((seconds(line), int(m.group(1))))
        elif "llama_perf_context_print" in line and "total time" in line:
            end = seconds(line)
    want = len(warm) + len(lines) * a.rounds
    if len(lens) != want or not batches or end is None or sum(t for _, t in batches) != sum(lens):
        sys.exit(f"llamacpp_bench: could not read the log ({len(lens)} prompts of {want}, {len(batches)} batches)")

    def time_at(token):  # when llama.cpp reached this token offset, interpolating inside its batch
        pos = 0
        for i, (t0, n) in enumerate(batches):
            t1 = batches[i + 1][0] if i + 1 < len(batches) else end
            if token <= pos + n:
                return t0 + (t1 - t0) * (token - pos) / n
            pos += n
        return end

    first = sum(lens[: len(warm)])
    per_round = sum(lens[len(warm): len(warm) + len(lines)])
    rates = []
    for r in range(a.rounds):
        t0, t1 = time_at(first + r * per_round), time_at(first + (r + 1) * per_round)
        rates.append(len(lines) / (t1 - t0))
    version = ""
    for line in log:
        if "build:" in line or "system_info" in line:
            version = line.split(" I ", 1)[-1].strip() if " I " in line else line.strip()
            break
    print(json.dumps({
        "system": "llama.cpp" + (f"-{a.label}" if a.label else ""), "gguf": os.path.basename(a.gguf),
        "pairs_per_call": len(lines), "tokens_per_call": per_round, "batch_tokens": a.batch_tokens,
        "threads": a.threads, "rounds": a.rounds, "pairs_per_s": statistics.median(rates),
        "pairs_per_s_all": rates, "batches": len(batches), "llama_cpp": version,
    }))


if __name__ == "__main__":
    main()
