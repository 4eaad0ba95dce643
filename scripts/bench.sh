#!/usr/bin/env bash
# Side-by-side speed comparison on a random-weight checkpoint of the full bge-reranker-v2-m3 shape
# (XLM-R large, 568M parameters, 2.27 GB in F32), same machine, same threads, one run:
#   gorerank      `rerank bench` (DTYPE below)
#   torch-*       PyTorch CPU, ../shared/bench/torch_xlmr.py, one column per TORCH_DTYPES entry:
#                 fp32 (OpenBLAS), bf16 (bf16 weights, oneDNN), bf16-autocast (fp32 weights, bf16 matmuls)
#   ort-fp32      ONNX Runtime (npm onnxruntime-node, pinned in scripts/ort/package.json), CPU execution
#                 provider, fp32, intra-op threads = THREADS, on an ONNX export of the same checkpoint made by
#                 scripts/export_onnx.py from the plain-PyTorch model of torch_xlmr.py
#   llama.cpp-*   optional: llama.cpp's llama-embedding --pooling rank (scripts/llamacpp_bench.py) on GGUF
#                 conversions of the same checkpoint, one column per LLAMA_GGUF entry; it reads text, so it
#                 gets the very texts gorerank scores (`rerank bench --pairs-out`), rag included
# Systems are interleaved workload by workload, PASSES times: for each workload A B C D E, A B C D E, ...;
# each measurement is a fresh process (load, one warm-up call, ROUNDS timed rounds of >= MIN_TIME s).
#
#   scripts/bench.sh                      # full size: 1x128 8x128 8x256 4x512 + rag
#   CONFIG=testdata/tiny/config.json SHAPES="1x16 4x64" ROUNDS=1 MIN_TIME=0.2 scripts/bench.sh   # quick check
#
# Settings (environment):
#   CONFIG       config.json to generate weights for   (testdata/bge-reranker-v2-m3.config.json)
#   DTYPE        f32 | bf16 | f16: checkpoint dtype and `rerank bench --dtype`          (f32)
#                (PyTorch and ORT read the same checkpoint; ORT always computes in fp32)
#                int8: the F32 checkpoint for the others; gorerank reads its `rerank quantize` copy
#   THREADS      threads for every system                                               (2)
#   ROUNDS       timed rounds per measurement (median reported)                         (3)
#   MIN_TIME     seconds per round                                                      (2)
#   PASSES       times each workload's systems run in turn (A B A B ...)                (2)
#   SHAPES       synthetic batch x seq list                    ("1x128 8x128 8x256 4x512")
#   RAG          1 to run the rag workload too                                          (1)
#   TORCH        1 to run the PyTorch columns                                           (1)
#   TORCH_DTYPES torch_xlmr.py --dtype list   ("int8-dynamic" when DTYPE=int8; else "fp32 bf16 bf16-autocast"
#                on CPUs with AVX512_BF16 or AMX-BF16, "fp32" elsewhere: without BF16 hardware one 8x128
#                bf16 call takes > 10 min). int8-dynamic is PyTorch's dynamic int8 (per-channel int8
#                weights, activations quantized per call); Debian's PyTorch 1.13 is built without
#                FBGEMM, so its quantized engine is oneDNN (torch.backends.quantized.engine = onednn)
#   TIER         empty: every system uses the best kernels the CPU has. avx2: every system limited to
#                AVX2 + FMA, to stand in for an AVX2-only CPU (Zen 2/3, pre-Ice-Lake Xeons) on a newer
#                one: gorerank GORERANK_TIER=avx2, PyTorch ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN: int8, bf16)
#                and OPENBLAS_CORETYPE=Haswell (fp32). ONNX Runtime cannot be limited (MLAS picks its
#                kernels from CPUID): its column is left out unless ORT=1 is set explicitly       ()
#   ORT          1 to run the ONNX Runtime column                                       (1)
#   LLAMA_BIN    a llama.cpp build's bin folder (with llama-embedding); empty: no llama.cpp columns ()
#   LLAMA_GGUF   "label=FILE.gguf ..." GGUF conversions of $WORKDIR's checkpoint, e.g.
#                "q8_0=.bench/m3-q8_0.gguf bf16=.bench/m3-bf16.gguf" (docs/PERFORMANCE.md: how to make them)
#   LLAMA_RAG_BATCH  llama.cpp batch tokens on rag (BxS shapes use B*S: one batch per call)      (2048)
#   WORKDIR      where the checkpoint, its ONNX export, binary and results go (gitignored)  (.bench)
#   SHARED       the shared kit                                                         (../shared)
#
# Setup (Debian), once:
#   apt-get install -y python3-torch libopenblas0-openmp python3-onnx nodejs npm
# PyTorch (and the export) run with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp and
# OMP_NUM_THREADS=$THREADS (the pthread OpenBLAS fights torch's OpenMP threads otherwise). The script
# runs `npm ci` in scripts/ort when its node_modules is missing or older than the lock file, and exports
# the checkpoint to ONNX ($MODEL-onnx: model.onnx + model.onnx.data, external-data format since the
# full model is past protobuf's 2 GB) when the checkpoint or the export script changed. Before the
# measurements it checks the export (export_onnx.py --check-only: ORT against PyTorch fp32 logits on a
# padded random batch; stops on a mismatch) and records the max |Δlogit|.
#
# The rag workload (1 query x 50 documents of mixed length, tokenized for real) has no PyTorch or ORT
# counterpart; their columns show a proxy: 50 sequences of the same mean pair length (same token count,
# no padding, no tokenization), marked "proxy". llama.cpp tokenizes and scores the real 50 pairs.
#
# Output: one JSON line per measurement in $WORKDIR/results-<UTC time>.jsonl and Markdown tables on
# stdout for docs/PERFORMANCE.md (pairs/s: median of every round of every pass, min..max in brackets;
# `scripts/bench_table.py RESULTS.jsonl THREADS DTYPE` prints them again from a results file).
#
# Cost at full size, 2 threads: gen-random ~15 s and the ONNX export + check ~70 s (both once; ~6 GB RAM,
# 4.5 GB of disk under $WORKDIR); the export check ~1 min per run; every measurement reloads its model
# (0.5 s gorerank, several s for PyTorch and ORT) and runs ROUNDS+1 calls at least, and the rag proxy's
# calls take 20-60 s each: with the defaults (5 systems, PASSES=2) expect roughly 40-50 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

CONFIG=${CONFIG:-testdata/bge-reranker-v2-m3.config.json}
DTYPE=${DTYPE:-f32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
MIN_TIME=${MIN_TIME:-2}
PASSES=${PASSES:-2}
SHAPES=${SHAPES:-"1x128 8x128 8x256 4x512"}
RAG=${RAG:-1}
TORCH=${TORCH:-1}
TIER=${TIER:-}
case "$TIER" in
'') ;;
avx2)
	if [ -z "${ORT+set}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
		ORT=0
		echo "bench.sh: TIER=avx2: ONNX Runtime cannot be limited to AVX2 and is left out (ORT=1 runs it on its own kernels)" >&2
	fi
	;;
*) echo "bench.sh: TIER must be empty or avx2" >&2; exit 2 ;;
esac
ORT=${ORT:-1}
WORKDIR=${WORKDIR:-.bench}
SHARED=${SHARED:-../shared}
TOKENIZER=testdata/tokenizer/tokenizer.json
OPENMP_BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp

case "$DTYPE" in
f32 | bf16 | f16) CKPT_DTYPE=$DTYPE ;;
int8) CKPT_DTYPE=f32 ;;
*) echo "bench.sh: DTYPE must be f32, bf16, f16 or int8" >&2; exit 2 ;;
esac
LLAMA_BIN=${LLAMA_BIN:-}
LLAMA_GGUF=${LLAMA_GGUF:-}
LLAMA_RAG_BATCH=${LLAMA_RAG_BATCH:-2048}
if [ -n "$LLAMA_BIN" ]; then
	[ -x "$LLAMA_BIN/llama-embedding" ] || { echo "bench.sh: $LLAMA_BIN/llama-embedding not found" >&2; exit 2; }
	[ -n "$LLAMA_GGUF" ] || { echo "bench.sh: LLAMA_BIN needs LLAMA_GGUF (label=file.gguf ...)" >&2; exit 2; }
	for g in $LLAMA_GGUF; do
		[ -f "${g#*=}" ] && [ "${g%%=*}" != "$g" ] || { echo "bench.sh: LLAMA_GGUF entry $g is not label=existing-file" >&2; exit 2; }
	done
else
	LLAMA_GGUF=
fi
if [ -z "${TORCH_DTYPES+set}" ] && [ "$DTYPE" = int8 ]; then
	TORCH_DTYPES=int8-dynamic
elif [ -z "${TORCH_DTYPES+set}" ]; then
	if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo 2>/dev/null; then
		TORCH_DTYPES="fp32 bf16 bf16-autocast"
	else
		TORCH_DTYPES=fp32
		echo "bench.sh: no AVX512_BF16/AMX-BF16 on this CPU: PyTorch fp32 only (set TORCH_DTYPES to force bf16)" >&2
	fi
fi
[ "$TORCH" = 1 ] || TORCH_DTYPES=
for d in $TORCH_DTYPES; do
	case "$d" in
	fp32 | bf16 | bf16-autocast | int8-dynamic) ;;
	*) echo "bench.sh: TORCH_DTYPES entries must be fp32, bf16, bf16-autocast or int8-dynamic, got $d" >&2; exit 2 ;;
	esac
done
case "$PASSES" in '' | *[!0-9]* | 0) echo "bench.sh: PASSES must be a positive integer" >&2; exit 2 ;; esac

mkdir -p "$WORKDIR"
name=$(basename "$CONFIG" .json)
name=${name%.config}
[ "$name" != config ] || name=$(basename "$(dirname "$CONFIG")") # testdata/tiny/config.json -> tiny
MODEL="$WORKDIR/random-$name-$CKPT_DTYPE"
OURS="$MODEL" # what gorerank reads
ONNX="$MODEL-onnx"
RESULTS="$WORKDIR/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"

echo "== build" >&2
go build -o "$WORKDIR/rerank" ./cmd/rerank
RERANK="$WORKDIR/rerank"

# Regenerate the checkpoint only when the config, dtype or generator changed.
stamp="$(sha256sum "$CONFIG" | cut -c1-16)-$CKPT_DTYPE-seed1-$(sha256sum internal/randmodel/randmodel.go | cut -c1-16)"
if [ "$(cat "$MODEL/.stamp" 2>/dev/null || true)" != "$stamp" ]; then
	echo "== gen-random $CONFIG ($CKPT_DTYPE) -> $MODEL" >&2
	"$RERANK" gen-random --config "$CONFIG" --dtype "$CKPT_DTYPE" --seed 1 --tokenizer "$TOKENIZER" --out "$MODEL" >&2
	echo "$stamp" >"$MODEL/.stamp"
fi
if [ "$DTYPE" = int8 ]; then
	OURS="$MODEL-int8"
	qstamp="$stamp-$(cat xlmr/quantize.go tensor/int8.go weights/write.go | sha256sum | cut -c1-16)"
	if [ "$(cat "$OURS/.stamp" 2>/dev/null || true)" != "$qstamp" ]; then
		echo "== rerank quantize $MODEL -> $OURS" >&2
		rm -rf "$OURS"
		"$RERANK" quantize --model "$MODEL" --out "$OURS" >&2
		echo "$qstamp" >"$OURS/.stamp"
	fi
fi

if [ -n "$TORCH_DTYPES" ] || [ "$ORT" = 1 ]; then
	if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
		echo "bench.sh: PyTorch missing: apt-get install -y python3-torch libopenblas0-openmp (or TORCH=0 ORT=0)" >&2
		exit 1
	fi
	if [ ! -f "$SHARED/bench/torch_xlmr.py" ]; then
		echo "bench.sh: $SHARED/bench/torch_xlmr.py not found (set SHARED)" >&2
		exit 1
	fi
fi

tier_env=() # what limits PyTorch to TIER's instructions
[ "$TIER" != avx2 ] || tier_env=(ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell)

py() { # the Debian torch with the OpenMP OpenBLAS
	env LD_LIBRARY_PATH="$OPENMP_BLAS" OMP_NUM_THREADS="$THREADS" "${tier_env[@]}" /usr/bin/python3 "$@"
}

record() { # label system pass json [proxy]
	printf '{"label":"%s","system":"%s","pass":%s,"proxy":"%s","result":%s}\n' "$1" "$2" "$3" "${5:-}" "$4" >>"$RESULTS"
}

if [ "$ORT" = 1 ]; then
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "bench.sh: node/npm missing: apt-get install -y nodejs npm (or ORT=0)" >&2
		exit 1
	fi
	if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
		echo "bench.sh: the ONNX export needs python3-onnx: apt-get install -y python3-onnx (or ORT=0)" >&2
		exit 1
	fi
	if [ ! -f scripts/ort/node_modules/.package-lock.json ] || [ scripts/ort/package-lock.json -nt scripts/ort/node_modules/.package-lock.json ]; then
		echo "== npm ci (scripts/ort: onnxruntime-node)" >&2
		(cd scripts/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2)
	fi
	ostamp="$stamp-$(cat scripts/export_onnx.py "$SHARED/bench/torch_xlmr.py" | sha256sum | cut -c1-16)"
	if [ "$(cat "$ONNX.stamp" 2>/dev/null || true)" != "$ostamp" ]; then
		echo "== export_onnx $MODEL -> $ONNX" >&2
		rm -f "$ONNX.stamp"
		py scripts/export_onnx.py --model "$MODEL" --out "$ONNX" --shared "$SHARED" >&2
		echo "$ostamp" >"$ONNX.stamp"
	fi
	echo "== export check: ORT against PyTorch fp32 logits" >&2
	out=$(py scripts/export_onnx.py --model "$MODEL" --out "$ONNX" --shared "$SHARED" --check-only) || {
		echo "bench.sh: the ONNX export does not match PyTorch: $out" >&2
		exit 1
	}
	record onnx-check export_onnx 0 "$out"
fi

ours_run() { # bench flags...
	env ${TIER:+GORERANK_TIER=$TIER} "$RERANK" bench --model "$OURS" --dtype "$DTYPE" --threads "$THREADS" --rounds "$ROUNDS" --min-time "${MIN_TIME}s" --json "$@"
}

llama_run() { # gguf pairs-file batch-tokens label
	/usr/bin/python3 scripts/llamacpp_bench.py --bin "$LLAMA_BIN" --gguf "$1" --pairs "$2" --batch-tokens "$3" \
		--label "$4" --threads "$THREADS" --rounds "$ROUNDS"
}

torch_run() { # dtype batch seq
	py "$SHARED/bench/torch_xlmr.py" --model "$MODEL" --dtype "$1" --batch "$2" --seq "$3" \
		--threads "$THREADS" --rounds "$ROUNDS" --min-time "$MIN_TIME"
}

ort_run() { # batch seq
	node scripts/ort/ort_bench.mjs --model "$ONNX" --batch "$1" --seq "$2" \
		--threads "$THREADS" --rounds "$ROUNDS" --min-time "$MIN_TIME"
}

llamas() { # label pass pairs-file batch-tokens: every llama.cpp column on the workload's texts
	local g out
	for g in $LLAMA_GGUF; do
		echo "== $1 pass $2: llama.cpp-${g%%=*}" >&2
		out=$(llama_run "${g#*=}" "$3" "$4" "${g%%=*}")
		record "$1" "llama.cpp-${g%%=*}" "$2" "$out"
	done
}

peers() { # label pass batch seq [proxy]: every other system on batch x seq; a failure stops the script
	local d out
	for d in $TORCH_DTYPES; do
		echo "== $1 pass $2: torch-$d ${5:+(proxy $5)}" >&2
		out=$(torch_run "$d" "$3" "$4")
		record "$1" "torch-$d" "$2" "$out" "${5:-}"
	done
	if [ "$ORT" = 1 ]; then
		echo "== $1 pass $2: ort-fp32 ${5:+(proxy $5)}" >&2
		out=$(ort_run "$3" "$4")
		record "$1" ort-fp32 "$2" "$out" "${5:-}"
	fi
}

for shape in $SHAPES; do
	b=${shape%x*}
	s=${shape#*x}
	pairs="$WORKDIR/pairs-$shape.jsonl"
	[ -z "$LLAMA_GGUF" ] || "$RERANK" bench --model "$MODEL" --batch "$b" --seq "$s" --pairs-out "$pairs"
	for pass in $(seq "$PASSES"); do
		echo "== $shape pass $pass: gorerank" >&2
		out=$(ours_run --batch "$b" --seq "$s")
		record "$shape" gorerank "$pass" "$out"
		peers "$shape" "$pass" "$b" "$s"
		[ -z "$LLAMA_GGUF" ] || llamas "$shape" "$pass" "$pairs" $((b * s))
	done
done

if [ "$RAG" = 1 ]; then
	pairs="$WORKDIR/pairs-rag.jsonl"
	[ -z "$LLAMA_GGUF" ] || "$RERANK" bench --model "$MODEL" --workload rag --pairs-out "$pairs"
	for pass in $(seq "$PASSES"); do
		echo "== rag pass $pass: gorerank" >&2
		out=$(ours_run --workload rag)
		record rag gorerank "$pass" "$out"
		mean=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["tokens_per_call"]/r["pairs_per_call"]))')
		peers rag "$pass" 50 "$mean" "50x$mean"
		[ -z "$LLAMA_GGUF" ] || llamas rag "$pass" "$pairs" "$LLAMA_RAG_BATCH"
	done
fi

echo "== results: $RESULTS" >&2
[ -z "$TIER" ] || echo "TIER=$TIER: gorerank GORERANK_TIER=$TIER; PyTorch ${tier_env[*]}; ORT=$ORT"
/usr/bin/python3 scripts/bench_table.py "$RESULTS" "$THREADS" "$DTYPE"
