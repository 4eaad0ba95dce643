#!/usr/bin/env bash
# Capacity of `rerank serve` on the full-size random checkpoint (docs/CAPACITY.md): the rag
# workload of `rerank bench` (1 query × 50 documents) sent over loopback HTTP, closed loop at
# each of $CONC clients, then open loop at $RATE_FRACTION of the best closed-loop queries/s,
# compared with `rerank bench --workload rag` on the same machine. Bounded: $REQUESTS
# requests or $DURATION per level. Run on a quiet machine:
#
#   DTYPE=f32 TORCH=0 SHAPES= scripts/bench.sh    # once: builds the random checkpoint
#   scripts/capacity.sh                           # DTYPE=bf16 for the BF16 rows
#
# Smoke test on the tiny model (seconds; the numbers mean nothing):
#   MODEL=testdata/tiny TOKENIZER=testdata/tokenizer/tokenizer.json REQUESTS=3 CONC=1,2 WORKDIR=/tmp/cap scripts/capacity.sh
#
# A rag request takes ~45 s on 2 cores with F32 (docs/PERFORMANCE.md), so the defaults
# (3 closed levels + 1 open level × 8 requests) run for about half an hour there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

DTYPE=${DTYPE:-f32}
WORKDIR=${WORKDIR:-.bench}
CONC=${CONC:-1,2,4}
REQUESTS=${REQUESTS:-8}
DURATION=${DURATION:-15m}
RATE_FRACTION=${RATE_FRACTION:-0.7}
PORT=${PORT:-18000}
MODEL=${MODEL:-$WORKDIR/random-bge-reranker-v2-m3-$DTYPE}
TOKENIZER=${TOKENIZER:-$MODEL/tokenizer.json}

if [ ! -f "$MODEL/config.json" ]; then
	echo "capacity.sh: no checkpoint at $MODEL; run DTYPE=$DTYPE TORCH=0 SHAPES= scripts/bench.sh first" >&2
	exit 1
fi
go build -o "$WORKDIR/rerank" ./cmd/rerank
R="$WORKDIR/rerank"
OUT="$WORKDIR/capacity-$DTYPE-$(date -u +%Y%m%dT%H%M%SZ)"

echo "== rerank bench --workload rag ($DTYPE)" >&2
"$R" bench --model "$MODEL" --tokenizer "$TOKENIZER" --dtype "$DTYPE" --workload rag --rounds 3 --json >"$OUT-bench.json"
jq -r '"bench rag: \(.pairs_per_s) pairs/s, \(.tokens_per_s|floor) tokens/s, peak RSS \(.peak_rss_bytes/1048576|floor) MiB"' "$OUT-bench.json" >&2

echo "== rerank serve on 127.0.0.1:$PORT (--cache-size 0)" >&2
"$R" serve --model "$MODEL" --tokenizer "$TOKENIZER" --dtype "$DTYPE" --cache-size 0 --host 127.0.0.1 --port "$PORT" \
	--log-level warn --shutdown-delay 0 2>"$OUT-serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
	curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$OUT-serve.log" >&2; exit 1; }
	sleep 0.5
done

lt() { "$R" loadtest --url "http://127.0.0.1:$PORT" --tokenizer "$TOKENIZER" --bench "$OUT-bench.json" \
	--requests "$REQUESTS" --duration "$DURATION" "$@"; }

echo "== closed loop: concurrency $CONC" >&2
lt --concurrency "$CONC" --json >"$OUT-closed.json"
best=$(jq '[.levels[].queries_per_s] | max' "$OUT-closed.json")
rate=$(jq -n "$best * $RATE_FRACTION")
echo "== open loop: $rate queries/s ($RATE_FRACTION × the best closed-loop $best)" >&2
lt --rate "$rate" --json >"$OUT-open.json"

# both reports as tables (the JSON files keep every field)
jq -s '.[0] + {levels: (.[0].levels + .[1].levels)}' "$OUT-closed.json" "$OUT-open.json" >"$OUT.json"
jq -r 'def r: if type == "number" then (. * 100 | round) / 100 else . end;
  "server: \(.model) \(.dtype), max_batch_tokens \(.max_batch_tokens); bench \(.bench_pairs_per_s|r) pairs/s",
  "level\tok/sent\tq/s\tpairs/s\tserver pairs/s\tp50 ms\tp95 ms\tp99 ms\tqueue mean/p95 ms\tfill\tpairs/batch\tserver/bench",
  (.levels[] | [(if .mode == "rate" then "rate \(.offered_qps|r)" else "conc \(.concurrency)" end),
    "\(.ok)/\(.sent)", (.queries_per_s|r), (.pairs_per_s|r), (.server_pairs_per_s|r), (.latency_ms.p50|r), (.latency_ms.p95|r),
    (.latency_ms.p99|r), "\(.queue_ms.mean|floor)/\(.queue_ms.p95|floor)", (.batch_fill|r), (.pairs_per_batch|r),
    (.server_to_bench_ratio|r)] | @tsv)' "$OUT.json"
grep -m1 -i "VmHWM" "/proc/$pid/status" 2>/dev/null | sed 's/^/serve peak RSS: /' || true
echo "results: $OUT.json" >&2
