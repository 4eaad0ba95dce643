#!/usr/bin/env node
// ONNX Runtime column of scripts/bench.sh: onnxruntime-node (pinned in package.json), CPU execution
// provider, fp32, on a model exported by scripts/export_onnx.py (DIR holds model.onnx, model.onnx.data and
// config.json).
//
//   cd scripts/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci   # once (CPU only: skips the CUDA download)
//   node scripts/ort/ort_bench.mjs --model DIR --batch 8 --seq 128 [--threads 2 --rounds 3 --min-time 2]
//   node scripts/ort/ort_bench.mjs --model DIR --logits INPUTS.json     # used by export_onnx.py --check
//
// Benchmark mode mirrors shared/bench/torch_xlmr.py: synthetic ids <s> random </s> with no padding, one
// warm-up call, then --rounds rounds of back-to-back calls lasting at least --min-time seconds each; prints
// one JSON line (pairs/s median of rounds and every round, seconds per call, threads, ORT version, execution
// provider, and the CPU's vector extensions, from which ORT's MLAS picks its kernels at run time). An
// embedder's export (output dense) reports texts_per_s and texts_per_s_all instead of the pairs_* rates.
// --logits mode reads {"name": {"input_ids": [[...]], "attention_mask": [[...]]}, ...} and prints
// {"name": [[logit], ...], ...} (an embedder: the dense vectors, [[v0, v1, ...], ...]).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';

function fail(msg) {
  process.stderr.write(`ort_bench.mjs: ${msg}\n`);
  process.exit(2);
}

function positive(name, value, integer) {
  const x = Number(value);
  if (!Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x))) {
    fail(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
  }
  return x;
}

// int64 [rows][cols] from nested arrays of integers, every row the same length.
function int64Tensor(name, rows) {
  if (!Array.isArray(rows) || rows.length === 0 || !Array.isArray(rows[0]) || rows[0].length === 0) {
    throw new Error(`${name}: want a non-empty [batch][seq] array`);
  }
  const b = rows.length, s = rows[0].length;
  const data = new BigInt64Array(b * s);
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== s) throw new Error(`${name}: row ${r} has ${row?.length} values, want ${s}`);
    row.forEach((v, c) => {
      if (!Number.isSafeInteger(v)) throw new Error(`${name}[${r}][${c}] = ${JSON.stringify(v)} is not an integer`);
      data[r * s + c] = BigInt(v);
    });
  });
  return new ort.Tensor('int64', data, [b, s]);
}

// <s> random ids </s> per row, no padding, as torch_xlmr.py (values do not change the speed).
function syntheticBatch(cfg, batch, seq) {
  let state = (batch * 1000 + seq) >>> 0; // mulberry32
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ids = new BigInt64Array(batch * seq), mask = new BigInt64Array(batch * seq).fill(1n);
  for (let r = 0; r < batch; r++) {
    for (let c = 0; c < seq; c++) ids[r * seq + c] = BigInt(5 + Math.floor(rand() * (cfg.vocab_size - 5)));
    ids[r * seq] = BigInt(cfg.bos_token_id);
    ids[r * seq + seq - 1] = BigInt(cfg.eos_token_id);
  }
  return { input_ids: new ort.Tensor('int64', ids, [batch, seq]), attention_mask: new ort.Tensor('int64', mask, [batch, seq]) };
}

function cpuInfo() {
  const want = ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_tile', 'amx_bf16', 'amx_int8', 'asimd', 'sve'];
  let flags = [];
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
    if (line) {
      const have = new Set(line.split(':')[1].trim().split(/\s+/));
      flags = want.filter((f) => have.has(f));
    }
  } catch {
    // not Linux: the model name below still says which CPU
  }
  return { cpu: os.cpus()[0]?.model ?? 'unknown', cpu_isa: flags };
}

function toRows(tensor) {
  const [b, n] = tensor.dims;
  return Array.from({ length: b }, (_, r) => Array.from(tensor.data.subarray(r * n, (r + 1) * n)));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  let opts;
  try {
    ({ values: opts } = parseArgs({
      options: {
        model: { type: 'string' },
        batch: { type: 'string', default: '8' },
        seq: { type: 'string', default: '128' },
        threads: { type: 'string', default: '2' },
        rounds: { type: 'string', default: '3' },
        'min-time': { type: 'string', default: '2' },
        logits: { type: 'string' },
      },
    }));
  } catch (e) {
    fail(e.message);
  }
  if (!opts.model) fail('--model DIR is required (a directory written by scripts/export_onnx.py)');
  const threads = positive('threads', opts.threads, true);
  const onnxPath = path.join(opts.model, 'model.onnx');
  let cfg;
  try {
    cfg = JSON.parse(fs.readFileSync(path.join(opts.model, 'config.json'), 'utf8'));
  } catch (e) {
    fail(`${opts.model}: config.json: ${e.message}`);
  }
  for (const k of ['vocab_size', 'bos_token_id', 'eos_token_id']) {
    if (!Number.isSafeInteger(cfg[k]) || cfg[k] < 0) fail(`${opts.model}/config.json: ${k} missing or not an integer`);
  }
  if (cfg.vocab_size <= 5) fail(`${opts.model}/config.json: vocab_size ${cfg.vocab_size} too small`);

  const session = await ort.InferenceSession.create(onnxPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });

  if (opts.logits) {
    const cases = JSON.parse(fs.readFileSync(opts.logits, 'utf8'));
    const out = {};
    for (const [name, c] of Object.entries(cases)) {
      const feeds = { input_ids: int64Tensor(`${name}.input_ids`, c.input_ids), attention_mask: int64Tensor(`${name}.attention_mask`, c.attention_mask) };
      if (feeds.input_ids.dims.join() !== feeds.attention_mask.dims.join()) throw new Error(`${name}: input_ids and attention_mask shapes differ`);
      out[name] = toRows((await session.run(feeds))[session.outputNames[0]]);
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }

  const batch = positive('batch', opts.batch, true), seq = positive('seq', opts.seq, true);
  const rounds = positive('rounds', opts.rounds, true), minTime = positive('min-time', opts['min-time'], false);
  if (seq < 2) fail('--seq must be at least 2 (<s> and </s>)');
  const feeds = syntheticBatch(cfg, batch, seq);
  await session.run(feeds); // warm-up
  const rates = [];
  for (let i = 0; i < rounds; i++) {
    let n = 0, dt = 0;
    const t0 = process.hrtime.bigint();
    do {
      await session.run(feeds);
      n++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (dt < minTime);
    rates.push((n * batch) / dt);
  }
  const pps = median(rates);
  const unit = session.outputNames[0] === 'dense' ? 'texts' : 'pairs';
  process.stdout.write(JSON.stringify({
    system: 'ort-fp32', output: session.outputNames[0], batch, seq, threads,
    [`${unit}_per_s`]: pps, [`${unit}_per_s_all`]: rates, seconds_per_call: batch / pps,
    ort: ort.env.versions.node, execution_provider: 'cpu', graph_optimization: 'all',
    ...cpuInfo(),
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_bench.mjs: ${e.message ?? e}\n`);
  process.exit(1);
});
