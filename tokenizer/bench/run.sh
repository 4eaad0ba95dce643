#!/usr/bin/env bash
# Side-by-side speed comparison: this package against HF tokenizers (Rust, through the
# napi binding @anush008/tokenizers), same tokenizer.json, same corpus, alternating runs.
#
#   tokenizer/bench/run.sh HF_DIR [ROUNDS]
#
# HF_DIR is a scratch directory outside the repository where
#   npm install @anush008/tokenizers@0.6.0
# was run (see README.md). Writes raw results to $HF_DIR/results.txt and prints a summary.
set -euo pipefail
hf=${1:?usage: run.sh HF_DIR [ROUNDS]}
rounds=${2:-5}
repo=$(cd "$(dirname "$0")/../.." && pwd)
tok=$repo/testdata/tokenizer/tokenizer.json
corpus=$repo/testdata/tokenizer/tokenizer_corpus.json
cp "$repo/tokenizer/bench/hf_bench.mjs" "$hf/"
(cd "$repo" && go test -c -o "$hf/tokenizer.test" ./tokenizer)
out=$hf/results.txt
: >"$out"
for r in $(seq "$rounds"); do
  (cd "$repo/tokenizer" && "$hf/tokenizer.test" -test.run '^$' -test.bench '^Benchmark(Load|Encode|EncodeParallel)$' \
      -test.benchtime 5x -test.count 1 | grep '^Benchmark' | sed "s/^/go round=$r /") >>"$out"
  (cd "$hf" && RAYON_NUM_THREADS=1 node hf_bench.mjs "$tok" "$corpus" 3 | sed "s/^/hf1 round=$r /") >>"$out"
  (cd "$hf" && RAYON_NUM_THREADS=2 node hf_bench.mjs "$tok" "$corpus" 3 | sed "s/^/hf2 round=$r /") >>"$out"
done
python3 "$repo/tokenizer/bench/summarize.py" "$out"
