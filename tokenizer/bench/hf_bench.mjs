// Side-by-side baseline: HF tokenizers (Rust crate 0.22.2 through the napi binding
// @anush008/tokenizers 0.6.0) on the same tokenizer.json and corpus as the Go benchmarks.
// See README.md in this directory for how to run it.
//
//   node hf_bench.mjs TOKENIZER_JSON CORPUS_JSON [ROUNDS]
//
// Prints one JSON line: load time, and per round the seconds to encode every text of the
// corpus (singles, then each pair's query and document) without special tokens, with
// encodeBatch (Rust does the loop; RAYON_NUM_THREADS sets its threads) and with one
// awaited encode() call per text.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const require = createRequire(process.cwd() + "/");
const { Tokenizer } = require("@anush008/tokenizers");

const [tokPath, corpusPath, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 7);
const corpus = JSON.parse(readFileSync(corpusPath, "utf8"));
const texts = [...corpus.singles];
for (const [q, d] of corpus.pairs) texts.push(q, d);
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);

let t0 = performance.now();
const tok = Tokenizer.fromFile(tokPath);
const loadMs = performance.now() - t0;

const opts = { addSpecialTokens: false };
let tokens = 0;
const batch = [];
for (let r = 0; r < rounds; r++) {
  t0 = performance.now();
  const encs = await tok.encodeBatch(texts, opts);
  batch.push((performance.now() - t0) / 1000);
  if (r === 0) tokens = encs.reduce((n, e) => n + e.getIds().length, 0);
}
// A fresh tokenizer for the per-call loop, so its word cache starts cold in round 0 too.
const tok2 = Tokenizer.fromFile(tokPath);
const single = [];
for (let r = 0; r < rounds; r++) {
  t0 = performance.now();
  for (const t of texts) await tok2.encode(t, null, opts);
  single.push((performance.now() - t0) / 1000);
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({
  rayon_threads: process.env.RAYON_NUM_THREADS ?? "default",
  load_ms: +loadMs.toFixed(1), texts: texts.length, bytes, tokens,
  batch_s: batch.map((x) => +x.toFixed(4)), batch_median_tokens_per_s: Math.round(tokens / med(batch)),
  batch_median_MB_per_s: +(bytes / med(batch) / 1e6).toFixed(2),
  percall_s: single.map((x) => +x.toFixed(4)), percall_median_tokens_per_s: Math.round(tokens / med(single)),
  percall_median_MB_per_s: +(bytes / med(single) / 1e6).toFixed(2),
}));
