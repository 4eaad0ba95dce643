#!/usr/bin/env bash
# Client compatibility check (issue #17): builds rerank, serves a reranker and a bge-m3 embedder
# from ONE process on a free loopback port with an API key, waits for /ready, runs the
# unmodified Node clients of check.mjs against it, stops the server and exits non-zero if any
# required client check failed.
#
#   scripts/clients/run.sh [--verbose]
#
# Defaults are the tiny random test models (the scores and vectors mean nothing; the shapes,
# routes and wire formats are what is checked). Override with
#   RERANKER=DIR_OR_HUB_ID  EMBEDDER=DIR_OR_HUB_ID  TOKENIZER=FILE (for the reranker; "" = the model's own)
# e.g. RERANKER=BAAI/bge-reranker-v2-m3 EMBEDDER=BAAI/bge-m3 TOKENIZER= scripts/clients/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export PATH="/usr/local/go/bin:$PATH"

reranker="${RERANKER:-testdata/tiny}"
tokenizer="${TOKENIZER-testdata/tokenizer/tokenizer.json}"
if [[ -z "${EMBEDDER:-}" ]]; then
  for d in testdata/m3-tiny ../shared/golden/m3-tiny; do
    if [[ -f "$d/config.json" ]]; then EMBEDDER="$d"; break; fi
  done
fi
embedder="${EMBEDDER:?no embedder: set EMBEDDER (the m3-tiny kit is in testdata/m3-tiny or ../shared/golden/m3-tiny)}"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== build"
go build -o "$work/rerank" ./cmd/rerank

if [[ ! -d "$here/node_modules" ]]; then
  echo "== npm ci (scripts/clients)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

key="client-check-$RANDOM$RANDOM"
tok_args=()
if [[ -n "$tokenizer" ]]; then tok_args=(--tokenizer "$tokenizer"); fi
# The tiny models' folders have no tokenizer.json: --tokenizer gives them XLM-R's (bge-m3 and
# bge-reranker-v2-m3 share it). Real model folders carry their own: TOKENIZER= drops the flag.
echo "== serve --model $reranker --model $embedder"
"$work/rerank" serve --model "$reranker" --model "$embedder" "${tok_args[@]}" \
  --host 127.0.0.1 --port 0 --api-key "$key" --shutdown-delay 0 \
  2>"$work/server.log" &
server_pid=$!

url=""
for _ in $(seq 1 600); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "server exited:"; cat "$work/server.log"; exit 1
  fi
  if [[ -z "$url" ]]; then
    url="$(grep -o 'url=http://[^ ]*' "$work/server.log" | head -n1 | cut -d= -f2 || true)"
  fi
  if [[ -n "$url" ]] && curl -fsS "$url/ready" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
if [[ -z "$url" ]] || ! curl -fsS "$url/ready" >/dev/null 2>&1; then
  echo "server not ready after 60s:"; cat "$work/server.log"; exit 1
fi
echo "== ready at $url"

status=0
GORERANK_API_KEY="$key" node "$here/check.mjs" --url "$url" "$@" || status=$?

if [[ -s "$work/server.log" ]] && grep -q 'level=ERROR' "$work/server.log"; then
  echo "== server errors:"; grep 'level=ERROR' "$work/server.log"
fi
exit "$status"
