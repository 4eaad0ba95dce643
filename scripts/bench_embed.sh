#!/usr/bin/env bash
# Embedding speed: gorerank `rerank bench` on a bge-m3 (embedder) checkpoint against ONNX Runtime fp32 on an
# ONNX export of the same checkpoint, same machine, same threads; then gorerank's time and peak RSS on one
# long text. The embedder sibling of scripts/bench.sh (read it for the ORT setup; the same pins apply):
#   gorerank   `rerank bench --output $OUTPUT` (Embed; texts/s)
#   ort-fp32   ONNX Runtime (npm onnxruntime-node, scripts/ort), CPU execution provider, fp32, intra-op threads
#              = THREADS, on scripts/export_onnx.py's export of the bge-m3 encoder: input_ids, attention_mask ->
#              dense (last hidden state at token 0, L2-normalised inside the graph). ORT computes the whole last
#              layer; gorerank's dense-only Embed runs it for token 0 only (it is exact either way).
# Systems alternate shape by shape, PASSES times (A B A B ...); each measurement is a fresh process (load, one
# warm-up call, ROUNDS timed rounds of >= MIN_TIME s); synthetic ids <s> random </s>, no padding, for both.
# Before timing, the export is checked against PyTorch fp32 (max |Δ| of the dense vectors on a padded random
# batch; stops on a mismatch) and the result recorded.
#
#   scripts/bench_embed.sh                                   # full size: 8x128, then one 8192-token text
#   MODEL=.bench/random-tiny-m3 CONFIG=testdata/tiny/config.json SHAPES=2x16 LONG=512 ROUNDS=1 MIN_TIME=0.2 \
#     scripts/bench_embed.sh                                 # quick check of the script (seconds)
#
# Settings (environment):
#   MODEL      the bge-m3 checkpoint folder; made with `rerank gen-random --kind embedder` from CONFIG when
#              it has no config.json                                                  (.bench/random-bge-m3)
#   CONFIG     config.json for gen-random                         (testdata/bge-reranker-v2-m3.config.json)
#   THREADS    threads for every system                                                (2)
#   ROUNDS     timed rounds per measurement                                            (3)
#   MIN_TIME   seconds per round                                                       (2)
#   PASSES     times each shape's systems run in turn                                  (2)
#   SHAPES     batch x seq list                                                        ("8x128")
#   OUTPUT     gorerank's --output: dense, sparse, colbert or all (ORT computes dense)  (dense)
#   LONG       tokens of the long-text run (gorerank only, one round); 0: skip          (8192)
#   ORT        1 to run the ONNX Runtime column                                        (1)
#   WORKDIR    binary and results (gitignored)                                         (.bench)
#   SHARED     the shared kit (bench/torch_xlmr.py)                                    (../shared)
#
# Output: one JSON line per measurement in $WORKDIR/results-embed-<UTC time>.jsonl and a Markdown table on
# stdout: texts/s median of every round of every pass, min..max in brackets, and the ratio.
# Cost at full size, 2 threads: the export ~1-2 min and ~6 GB RAM (once; redone when the checkpoint or the
# scripts change), its check ~30 s per run, 8x128 ~10 s per measurement, the 8192-token text ~2 min.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

MODEL=${MODEL:-.bench/random-bge-m3}
CONFIG=${CONFIG:-testdata/bge-reranker-v2-m3.config.json}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
MIN_TIME=${MIN_TIME:-2}
PASSES=${PASSES:-2}
SHAPES=${SHAPES:-"8x128"}
OUTPUT=${OUTPUT:-dense}
LONG=${LONG:-8192}
ORT=${ORT:-1}
WORKDIR=${WORKDIR:-.bench}
SHARED=${SHARED:-../shared}
OPENMP_BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
case "$PASSES" in '' | *[!0-9]* | 0) echo "bench_embed.sh: PASSES must be a positive integer" >&2; exit 2 ;; esac

mkdir -p "$WORKDIR"
RESULTS="$WORKDIR/results-embed-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
ONNX="$MODEL-onnx"

echo "== build" >&2
go build -o "$WORKDIR/rerank" ./cmd/rerank
RERANK="$WORKDIR/rerank"
if [ ! -f "$MODEL/config.json" ]; then
	echo "== gen-random --kind embedder $CONFIG -> $MODEL" >&2
	"$RERANK" gen-random --kind embedder --config "$CONFIG" --seed 1 --tokenizer testdata/tokenizer/tokenizer.json --out "$MODEL" >&2
fi

py() { env LD_LIBRARY_PATH="$OPENMP_BLAS" OMP_NUM_THREADS="$THREADS" /usr/bin/python3 "$@"; }
record() { # label system pass json
	printf '{"label":"%s","system":"%s","pass":%s,"result":%s}\n' "$1" "$2" "$3" "$4" >>"$RESULTS"
}

if [ "$ORT" = 1 ]; then
	command -v node >/dev/null || { echo "bench_embed.sh: node missing: apt-get install -y nodejs npm (or ORT=0)" >&2; exit 1; }
	/usr/bin/python3 -c 'import torch, onnx' 2>/dev/null || {
		echo "bench_embed.sh: the export needs python3-torch and python3-onnx (or ORT=0)" >&2
		exit 1
	}
	if [ ! -f scripts/ort/node_modules/.package-lock.json ] || [ scripts/ort/package-lock.json -nt scripts/ort/node_modules/.package-lock.json ]; then
		echo "== npm ci (scripts/ort: onnxruntime-node)" >&2
		(cd scripts/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2)
	fi
	ostamp="$( (cat "$MODEL/config.json" scripts/export_onnx.py scripts/torch_m3.py "$SHARED/bench/torch_xlmr.py"
		stat -c '%n %s %Y' "$MODEL"/*.safetensors) | sha256sum | cut -c1-16)"
	if [ "$(cat "$ONNX.stamp" 2>/dev/null || true)" != "$ostamp" ]; then
		echo "== export_onnx $MODEL -> $ONNX" >&2
		rm -f "$ONNX.stamp"
		py scripts/export_onnx.py --model "$MODEL" --out "$ONNX" --shared "$SHARED" >&2
		echo "$ostamp" >"$ONNX.stamp"
	fi
	echo "== export check: ORT against PyTorch fp32 dense vectors" >&2
	out=$(py scripts/export_onnx.py --model "$MODEL" --out "$ONNX" --shared "$SHARED" --check-only) || {
		echo "bench_embed.sh: the ONNX export does not match PyTorch: $out" >&2
		exit 1
	}
	record onnx-check export_onnx 0 "$out"
fi

ours_run() { # bench flags...
	"$RERANK" bench --model "$MODEL" --threads "$THREADS" --output "$OUTPUT" --json "$@"
}

for shape in $SHAPES; do
	b=${shape%x*}
	s=${shape#*x}
	for pass in $(seq "$PASSES"); do
		echo "== $shape pass $pass: gorerank" >&2
		record "$shape" gorerank "$pass" "$(ours_run --batch "$b" --seq "$s" --rounds "$ROUNDS" --min-time "${MIN_TIME}s")"
		if [ "$ORT" = 1 ]; then
			echo "== $shape pass $pass: ort-fp32" >&2
			record "$shape" ort-fp32 "$pass" "$(node scripts/ort/ort_bench.mjs --model "$ONNX" --batch "$b" --seq "$s" \
				--threads "$THREADS" --rounds "$ROUNDS" --min-time "$MIN_TIME")"
		fi
	done
done
if [ "$LONG" != 0 ]; then
	echo "== long $LONG: gorerank" >&2
	record "long-$LONG" gorerank 1 "$(ours_run --workload long --seq "$LONG" --rounds 1 --min-time 0s --no-peak)"
fi

echo "== results: $RESULTS" >&2
/usr/bin/python3 - "$RESULTS" "$THREADS" "$OUTPUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"threads {sys.argv[2]}, gorerank --output {sys.argv[3]}; texts/s: median of all rounds of all passes (min..max)\n")
print("| shape | gorerank texts/s | ORT fp32 texts/s | gorerank / ORT |")
print("|---|---|---|---|")
def rates(label, system):
    return [x for r in rows if r["label"] == label and r["system"] == system for x in r["result"]["texts_per_s_all"]]
for label in dict.fromkeys(r["label"] for r in rows if r["system"] != "export_onnx" and not r["label"].startswith("long")):
    g, o = rates(label, "gorerank"), rates(label, "ort-fp32")
    cell = lambda v: f"{statistics.median(v):.2f} ({min(v):.2f}..{max(v):.2f})" if v else "-"
    ratio = f"{statistics.median(g) / statistics.median(o):.2f}×" if g and o else "-"
    print(f"| {label} | {cell(g)} | {cell(o)} | {ratio} |")
for r in rows:
    if r["label"].startswith("long"):
        x = r["result"]
        print(f"\nlong text, {x['seq']} tokens ({x['outputs']}): {x['seconds_per_call']:.2f} s, "
              f"peak RSS {x['peak_rss_bytes'] / 2**20:.0f} MiB")
    if r["system"] == "export_onnx":
        print(f"\nexport check (ORT vs PyTorch fp32 dense): max |Δ| {r['result']['random_max_abs_diff_vs_torch_f32']:.3g}")
PY
