#!/usr/bin/env bash
# Side-by-side speed comparison: gorerank (`rerank bench`) against the PyTorch CPU baseline
# (../shared/bench/torch_xlmr.py) on a random-weight checkpoint of the full
# bge-reranker-v2-m3 shape (XLM-R large, 568M parameters, 2.27 GB in F32).
#
#   scripts/bench.sh                      # full size: 1x128 8x128 8x256 4x512 + rag
#   CONFIG=testdata/tiny/config.json SHAPES="1x16 4x64" scripts/bench.sh   # quick check, tiny model
#
# Settings (environment):
#   CONFIG     config.json to generate weights for   (testdata/bge-reranker-v2-m3.config.json)
#   DTYPE      f32 | bf16 | f16: checkpoint dtype and `rerank bench --dtype`;
#              torch runs fp32 resp. bf16 (it has no f16 mode: TORCH=0 for f16)  (f32)
#   THREADS    threads for both systems                                        (2)
#   ROUNDS     timed rounds per measurement (median reported)                  (3)
#   MIN_TIME   seconds per round                                               (2)
#   SHAPES     synthetic batch x seq list                    ("1x128 8x128 8x256 4x512")
#   RAG        1 to run the rag workload too                                   (1)
#   TORCH      1 to run the PyTorch baseline                                   (1)
#   WORKDIR    where the checkpoint, binary and results go (gitignored)        (.bench)
#   SHARED     the shared kit                                                  (../shared)
#
# PyTorch baseline setup (Debian), as torch_xlmr.py's header says:
#   apt-get install -y python3-torch libopenblas0-openmp
# It then runs with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp and
# OMP_NUM_THREADS=$THREADS (the pthread OpenBLAS fights torch's OpenMP threads otherwise).
#
# The rag workload (1 query x 50 documents of mixed length, tokenized for real) has no
# PyTorch counterpart; the torch column shows a proxy: 50 sequences of the same mean pair
# length (same token count, no padding, no tokenization), marked "proxy".
#
# Output: one JSON line per measurement in $WORKDIR/results-<UTC time>.jsonl and a Markdown
# table on stdout for docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

CONFIG=${CONFIG:-testdata/bge-reranker-v2-m3.config.json}
DTYPE=${DTYPE:-f32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
MIN_TIME=${MIN_TIME:-2}
SHAPES=${SHAPES:-"1x128 8x128 8x256 4x512"}
RAG=${RAG:-1}
TORCH=${TORCH:-1}
WORKDIR=${WORKDIR:-.bench}
SHARED=${SHARED:-../shared}
TOKENIZER=testdata/tokenizer/tokenizer.json

case "$DTYPE" in
f32) TORCH_DTYPE=fp32 ;;
bf16) TORCH_DTYPE=bf16 ;;
f16)
	TORCH_DTYPE=none
	if [ "$TORCH" = 1 ]; then echo "bench.sh: torch_xlmr.py has no f16 mode; running without it" >&2; TORCH=0; fi
	;;
*) echo "bench.sh: DTYPE must be f32, bf16 or f16" >&2; exit 2 ;;
esac

mkdir -p "$WORKDIR"
name=$(basename "$CONFIG" .json)
name=${name%.config}
MODEL="$WORKDIR/random-$name-$DTYPE"
RESULTS="$WORKDIR/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"

echo "== build" >&2
go build -o "$WORKDIR/rerank" ./cmd/rerank
RERANK="$WORKDIR/rerank"

# Regenerate the checkpoint only when the config, dtype or generator changed.
stamp="$(sha256sum "$CONFIG" | cut -c1-16)-$DTYPE-seed1-$(sha256sum internal/randmodel/randmodel.go | cut -c1-16)"
if [ "$(cat "$MODEL/.stamp" 2>/dev/null || true)" != "$stamp" ]; then
	echo "== gen-random $CONFIG ($DTYPE) -> $MODEL" >&2
	"$RERANK" gen-random --config "$CONFIG" --dtype "$DTYPE" --seed 1 --tokenizer "$TOKENIZER" --out "$MODEL" >&2
	echo "$stamp" >"$MODEL/.stamp"
fi

if [ "$TORCH" = 1 ]; then
	if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
		echo "bench.sh: PyTorch missing: apt-get install -y python3-torch libopenblas0-openmp (or TORCH=0)" >&2
		exit 1
	fi
	if [ ! -f "$SHARED/bench/torch_xlmr.py" ]; then
		echo "bench.sh: $SHARED/bench/torch_xlmr.py not found (set SHARED)" >&2
		exit 1
	fi
fi

torch_run() { # batch seq
	env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS="$THREADS" \
		/usr/bin/python3 "$SHARED/bench/torch_xlmr.py" --model "$MODEL" --batch "$1" --seq "$2" \
		--dtype "$TORCH_DTYPE" --threads "$THREADS" --rounds "$ROUNDS" --min-time "$MIN_TIME"
}

ours_run() { # bench flags...
	"$RERANK" bench --model "$MODEL" --dtype "$DTYPE" --threads "$THREADS" --rounds "$ROUNDS" --min-time "${MIN_TIME}s" --json "$@"
}

record() { # label system json
	printf '{"label":"%s","system":"%s","result":%s}\n' "$1" "$2" "$3" >>"$RESULTS"
}

for shape in $SHAPES; do
	b=${shape%x*}
	s=${shape#*x}
	echo "== $shape: gorerank" >&2
	out=$(ours_run --batch "$b" --seq "$s") # a failure stops the script (set -e)
	record "$shape" gorerank "$out"
	if [ "$TORCH" = 1 ]; then
		echo "== $shape: torch" >&2
		out=$(torch_run "$b" "$s")
		record "$shape" torch "$out"
	fi
done

if [ "$RAG" = 1 ]; then
	echo "== rag: gorerank" >&2
	out=$(ours_run --workload rag)
	record rag gorerank "$out"
	if [ "$TORCH" = 1 ]; then
		seq=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["tokens_per_call"]/r["pairs_per_call"]))')
		echo "== rag proxy: torch 50x$seq" >&2
		out=$(torch_run 50 "$seq")
		record rag "torch-proxy-50x$seq" "$out"
	fi
fi

echo "== results: $RESULTS" >&2
/usr/bin/python3 - "$RESULTS" "$THREADS" "$DTYPE" <<'PY'
import json, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["label"] not in rows:
        rows[r["label"]] = {}
        order.append(r["label"])
    rows[r["label"]][r["system"]] = r["result"]
print(f"threads {sys.argv[2]}, dtype {sys.argv[3]}\n")
print("| workload | gorerank pairs/s (min..max) | torch pairs/s (min..max) | gorerank / torch | tokens/s | GFLOP/s | % of GEMM peak | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
for label in order:
    g = rows[label].get("gorerank")
    t = [(k, v) for k, v in rows[label].items() if k != "gorerank"]
    tp = t[0][1]["pairs_per_s"] if t else None
    tname = "" if not t or t[0][0] == "torch" else f" ({t[0][0].replace('torch-', '')})"
    cells = [label]
    cells.append(f"{g['pairs_per_s']:.2f} ({g['pairs_per_s_min']:.2f}..{g['pairs_per_s_max']:.2f})")
    if tp is None:
        cells.append("-")
    else:
        ta = t[0][1].get("pairs_per_s_all") or [tp]
        cells.append(f"{tp:.2f} ({min(ta):.2f}..{max(ta):.2f}){tname}")
    cells.append("-" if tp is None else f"{g['pairs_per_s'] / tp:.2f}x")
    cells.append(f"{g['tokens_per_s']:.0f}")
    cells.append(f"{g['gflops']:.1f}")
    cells.append(f"{g.get('pct_of_peak', 0):.0f}%")
    cells.append(f"{g['peak_rss_bytes'] / 2**20:.0f}")
    print("| " + " | ".join(cells) + " |")
print()
for label in order:
    g = rows[label]["gorerank"]
    st = g["stage_ms_per_call"]
    print(f"{label}: ms/call " + ", ".join(f"{k} {st[k]:.2f}" for k in ("tokenize", "embeddings", "attention", "ffn", "head", "total") if k in st)
          + f"; GEMM peak {g.get('gemm_peak_gflops', 0):.1f} GFLOP/s")
PY
