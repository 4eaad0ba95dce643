#!/usr/bin/env bash
# Peak RSS of `rerank score` streaming JSON Lines, for growing inputs: with streaming the peak
# must stay flat (the model, one chunk of lines, the output buffer), whatever the line count.
#
#   scripts/score_rss.sh                       # tiny model, 10k and 200k lines
#   scripts/score_rss.sh DIR 10000 200000 1000000   # another model folder, other sizes
#
# Needs GNU time (/usr/bin/time -v). Prints one line per size: lines, seconds, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
model=${1:-testdata/tiny}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 200000)
tok=()
[ -f "$model/tokenizer.json" ] || tok=(--tokenizer testdata/tokenizer/tokenizer.json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/rerank" ./cmd/rerank
for n in "${sizes[@]}"; do
  # a mix of single pairs and 5-document lines, ~40-120 tokens per pair
  awk -v n="$n" 'BEGIN {
    for (i = 0; i < n; i++) {
      d = "Document " i " about the capital cities of Europe and Asia, their ports, rivers and history."
      if (i % 4 == 0) printf "{\"query\": \"capital of country %d?\", \"documents\": [\"%s\", \"%s a\", \"%s b\", \"%s c\", \"\"]}\n", i, d, d, d, d
      else printf "{\"query\": \"capital of country %d?\", \"document\": \"%s\"}\n", i, d
    }
  }' > "$tmp/in.jsonl"
  /usr/bin/time -v "$tmp/rerank" score --model "$model" "${tok[@]}" --input "$tmp/in.jsonl" --progress never \
    > "$tmp/out.jsonl" 2> "$tmp/time.txt" || { cat "$tmp/time.txt"; exit 1; }
  out=$(wc -l < "$tmp/out.jsonl")
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time.txt")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
  printf '%8d lines -> %8d output lines  wall %s  peak RSS %d MB\n' "$n" "$out" "$secs" $((rss / 1024))
done
