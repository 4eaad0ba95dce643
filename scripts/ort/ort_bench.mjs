#!/usr/bin/env node
// ONNX Runtime column of scripts/bench.sh: onnxruntime-node (pinned in package.json), CPU execution
// provider, fp32, on a model exported by scripts/export_onnx.py (DIR holds model.onnx, model.onnx.data and
// config.json).
//
//   cd scripts/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci   # once (CPU only: skips the CUDA download)
//   node scripts/ort/ort_bench.mjs --model DIR --batch 8 --seq 128 [--threads 2 --rounds 3 --min-time 2] [--profile]
//   node scripts/ort/ort_bench.mjs --model DIR --logits INPUTS.json     # used by export_onnx.py --check
//
// Benchmark mode mirrors shared/bench/torch_xlmr.py: synthetic ids <s> random </s> with no padding, one
// warm-up call, then --rounds rounds of back-to-back calls lasting at least --min-time seconds each; prints
// one JSON line (pairs/s median of rounds and every round, seconds per call, threads, ORT version, execution
// provider, and the CPU's vector extensions, from which ORT's MLAS picks its kernels at run time). An
// embedder's export (output dense) reports texts_per_s and texts_per_s_all instead of the pairs_* rates.
// --profile (benchmark mode) also enables ORT's session profiling and adds to the JSON line the kernel time
// of one call, from ORT's Chrome-trace profile: ops_ms {category: ms per call} in gorerank's categories
// (embeddings, qkv, attend, attn_out, attn_norm, ffn_up, ffn_down, ffn_norm, head, other: as the stage
// breakdown of `rerank bench`; see categorizeNodes), ops_by_type_ms {ORT op type: ms per call}, ops_total_ms
// (their sum: kernel time only, so under seconds_per_call) and ops_calls (the calls averaged: the timed
// ones; the warm-up's events are left out). The rates of a --profile run include the profiler's overhead
// (bge-m3 1x16, 2 threads: 12.5-13.4 texts/s against 13-18 without), so take them from a run without it,
// and read ops_ms as the split of a call rather than its exact time.
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

// The few ONNX protobuf fields the profile needs (ModelProto.graph = 7, GraphProto.node = 1; NodeProto
// input = 1, output = 2, name = 3, op_type = 4), read without a protobuf library: every other field,
// initializers included, is skipped.
function onnxNodes(file) {
  const buf = fs.readFileSync(file);
  function* fields(start, end) {
    let i = start;
    const varint = () => {
      let x = 0, m = 1, b;
      do {
        if (i >= end) throw new Error(`${file}: truncated protobuf`);
        b = buf[i++];
        x += (b & 0x7f) * m;
        m *= 128;
      } while (b & 0x80);
      return x;
    };
    while (i < end) {
      const key = varint(), field = Math.floor(key / 8), wire = key % 8;
      if (wire === 0) varint();
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else if (wire === 2) {
        const n = varint();
        yield { field, start: i, end: i + n };
        i += n;
      } else throw new Error(`${file}: unsupported protobuf wire type ${wire}`);
    }
  }
  const str = (f) => buf.toString('utf8', f.start, f.end);
  const nodes = [];
  for (const g of fields(0, buf.length)) {
    if (g.field !== 7) continue;
    for (const n of fields(g.start, g.end)) {
      if (n.field !== 1) continue;
      const node = { inputs: [], outputs: [], name: '', op: '' };
      for (const f of fields(n.start, n.end)) {
        if (f.field === 1) node.inputs.push(str(f));
        else if (f.field === 2) node.outputs.push(str(f));
        else if (f.field === 3) node.name = str(f);
        else if (f.field === 4) node.op = str(f);
      }
      nodes.push(node);
    }
  }
  return nodes;
}

const CATEGORIES = ['embeddings', 'qkv', 'attend', 'attn_out', 'attn_norm', 'ffn_up', 'ffn_down', 'ffn_norm', 'head', 'other'];

// Node name -> category, from the dataflow of the graph scripts/export_onnx.py writes. Its node names are
// the tracer's (/m/MatMul_12, /m/Add_17: nothing says which layer or module), but the weights it reads are
// named initializers (roberta_encoder_layer_3_attention_self_query_bias, ...), so:
//   - a node reading a layer's weight is that weight's category: …_attention_self_{query,key,value}_* qkv,
//     …_attention_output_dense_* attn_out, …_attention_output_LayerNorm_* attn_norm,
//     …_intermediate_dense_* ffn_up, …_layer_N_output_dense_* ffn_down, …_layer_N_output_LayerNorm_* ffn_norm;
//     a bias Add's MatMul (the producer of its other input) goes with it, and so does the residual Add
//     feeding a LayerNorm;
//   - embeddings: the nodes reading …embeddings_* and every ancestor of the embeddings' LayerNorm (position
//     ids from the mask: CumSum, Mul, Add; the word and position Gathers; the token-type row, a folded
//     constant, added by an Add);
//   - attend: the unassigned descendants of the qkv nodes up to the next assigned node (Reshape, Transpose,
//     QK MatMul, the 1/sqrt(d) Div, the mask Add, Softmax, PV MatMul, Transpose, Reshape);
//   - ffn_up also takes the unassigned descendants of its bias Add up to ffn_down (GELU: Div, Erf, Add,
//     Mul, Mul);
//   - head: every unassigned descendant of the last layer's ffn_norm LayerNorm (an embedder: Gather of
//     token 0, ReduceL2, Clip, Expand, Div; a reranker: the classifier);
//   - the rest is `other`: the additive mask built from attention_mask (Unsqueeze, Cast, Sub, Mul) and the
//     shape arithmetic for the Reshapes (Shape, Gather, Div, Cast, Unsqueeze, Concat).
function categorizeNodes(nodes) {
  const cat = new Map(), producer = new Map(), consumers = new Map();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const t of n.inputs) {
      if (!consumers.has(t)) consumers.set(t, []);
      consumers.get(t).push(n);
    }
  }
  const set = (n, c) => {
    if (n && !cat.has(n.name)) cat.set(n.name, c);
  };
  const weights = [
    [/layer_\d+_attention_self_(query|key|value)_(weight|bias)$/, 'qkv'],
    [/layer_\d+_attention_output_dense_(weight|bias)$/, 'attn_out'],
    [/layer_\d+_attention_output_LayerNorm_(weight|bias)$/, 'attn_norm'],
    [/layer_\d+_intermediate_dense_(weight|bias)$/, 'ffn_up'],
    [/layer_\d+_output_dense_(weight|bias)$/, 'ffn_down'],
    [/layer_\d+_output_LayerNorm_(weight|bias)$/, 'ffn_norm'],
  ];
  let embNorm = null, lastNorm = null, lastLayer = -1;
  for (const n of nodes) {
    for (const t of n.inputs) {
      if (/(^|_)embeddings_/.test(t)) {
        set(n, 'embeddings');
        if (/LayerNorm/.test(t)) embNorm = n;
        continue;
      }
      const w = weights.find(([re]) => re.test(t));
      if (!w) continue;
      set(n, w[1]);
      const layer = Number(/layer_(\d+)_/.exec(t)[1]);
      if (w[1] === 'ffn_norm' && layer >= lastLayer) [lastLayer, lastNorm] = [layer, n];
      // the MatMul of a bias Add; the residual Add of a LayerNorm
      const from = n.inputs.filter((x) => x !== t).map((x) => producer.get(x)).filter(Boolean);
      if (n.op === 'Add') set(from.find((p) => p.op === 'MatMul' || p.op === 'Gemm'), w[1]);
      if (n.op === 'LayerNormalization') set(from.find((p) => p.op === 'Add'), w[1]);
    }
  }
  if (embNorm) {
    const seen = new Set([embNorm]), stack = [embNorm];
    while (stack.length) {
      for (const p of stack.pop().inputs.map((x) => producer.get(x)).filter(Boolean)) {
        if (seen.has(p)) continue;
        seen.add(p);
        set(p, 'embeddings');
        stack.push(p);
      }
    }
  }
  const descendants = (seeds, c) => {
    const stack = [...seeds];
    while (stack.length) {
      for (const o of stack.pop().outputs) {
        for (const d of consumers.get(o) ?? []) {
          if (!cat.has(d.name)) {
            set(d, c);
            stack.push(d);
          }
        }
      }
    }
  };
  descendants(nodes.filter((n) => cat.get(n.name) === 'qkv'), 'attend');
  descendants(nodes.filter((n) => cat.get(n.name) === 'ffn_up'), 'ffn_up');
  if (lastNorm) descendants([lastNorm], 'head');
  return cat;
}

// ORT's profile (Chrome trace JSON) -> kernel time per category and per op type, ms per call. Profiling is
// on from the session's creation, so the file also holds the warm-up call: each call is one
// "model_run" event (cat Session) spanning its "<node name>_kernel_time" events (cat Node), and the first
// model_run, the warm-up, is left out. The events' names are the graph's node names after ORT's
// optimisations; a fused node (ORT 1.30, CPU, this export: FusedMatMul from the QK MatMul and the 1/sqrt(d)
// Div, named "/m/MatMul_3/MatMulScaleFusion/"; BiasGelu from the ffn_up bias Add and the GELU nodes, named
// "BiasGelu", "BiasGelu_token_N") is mapped by the original node its name starts with ("<name>/"), else by
// its op type: Gelu, BiasGelu, FastGelu -> ffn_up; Attention, MultiHeadAttention -> attend (had ORT fused
// the whole self-attention, qkv's projections would be in there too); EmbedLayerNormalization ->
// embeddings; SkipLayerNormalization (residual Add + LayerNorm) alternately attn_norm, ffn_norm in the
// call's order. Anything else unmatched is `other`.
function profileBreakdown(events, cat, callsMade) {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const timed = runs.slice(1); // runs[0]: the warm-up
  if (timed.length === 0) throw new Error('profile: no model_run events after the warm-up');
  if (timed.length < callsMade) {
    process.stderr.write(`ort_bench.mjs: --profile: the profile holds ${timed.length} of ${callsMade} timed calls (ORT's event limit); averaging those\n`);
  }
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((a, b) => a.ts - b.ts);
  const byFusedName = new Map();
  const original = (name) => {
    if (!byFusedName.has(name)) {
      let best = null;
      for (const orig of cat.keys()) if (name.startsWith(orig + '/') && (!best || orig.length > best.length)) best = orig;
      byFusedName.set(name, best && cat.get(best));
    }
    return byFusedName.get(name);
  };
  const byOp = { Gelu: 'ffn_up', BiasGelu: 'ffn_up', FastGelu: 'ffn_up', Attention: 'attend', MultiHeadAttention: 'attend', EmbedLayerNormalization: 'embeddings' };
  const ops = Object.fromEntries(CATEGORIES.map((c) => [c, 0])), types = {};
  let total = 0, k = 0;
  for (const run of timed) {
    let skip = 0;
    while (k < kernels.length && kernels[k].ts < run.ts) k++;
    for (; k < kernels.length && kernels[k].ts <= run.ts + run.dur; k++) {
      const e = kernels[k], name = e.name.slice(0, -'_kernel_time'.length), op = e.args?.op_name ?? '?';
      let c = cat.get(name) ?? original(name) ?? byOp[op];
      if (!c && (op === 'SkipLayerNormalization' || op === 'SkipSimplifiedLayerNormalization')) c = skip++ % 2 ? 'ffn_norm' : 'attn_norm';
      c ??= 'other';
      ops[c] += e.dur;
      types[op] = (types[op] ?? 0) + e.dur;
      total += e.dur;
    }
  }
  const sum = Object.values(ops).reduce((a, b) => a + b, 0);
  if (sum !== total) throw new Error(`profile: categories sum to ${sum} µs, the events to ${total} µs`);
  const ms = (us) => Math.round((us / 1000 / timed.length) * 1000) / 1000;
  return {
    ops_ms: Object.fromEntries(CATEGORIES.map((c) => [c, ms(ops[c])])),
    ops_by_type_ms: Object.fromEntries(Object.entries(types).sort((a, b) => b[1] - a[1]).map(([t, us]) => [t, ms(us)])),
    ops_total_ms: ms(total),
    ops_calls: timed.length,
  };
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
        profile: { type: 'boolean', default: false },
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
  if (opts.profile && opts.logits) fail('--profile is for benchmark mode, not --logits');
  const shape = opts.logits ? null : {
    batch: positive('batch', opts.batch, true), seq: positive('seq', opts.seq, true),
    rounds: positive('rounds', opts.rounds, true), minTime: positive('min-time', opts['min-time'], false),
  };
  if (shape && shape.seq < 2) fail('--seq must be at least 2 (<s> and </s>)');

  // --profile: ORT writes <prefix>_<date>.json at endProfiling() (whose JS binding returns nothing), so the
  // prefix points into a directory of our own under os.tmpdir(), removed at the end.
  const profDir = opts.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'ort_bench-profile-')) : null;
  try {
    await run(opts, cfg, onnxPath, threads, shape, profDir);
  } finally {
    if (profDir) fs.rmSync(profDir, { recursive: true, force: true });
  }
}

async function run(opts, cfg, onnxPath, threads, shape, profDir) {
  const session = await ort.InferenceSession.create(onnxPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(profDir && { enableProfiling: true, profileFilePrefix: path.join(profDir, 'ort') }),
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

  const { batch, seq, rounds, minTime } = shape;
  const feeds = syntheticBatch(cfg, batch, seq);
  await session.run(feeds); // warm-up
  const rates = [];
  let calls = 0;
  for (let i = 0; i < rounds; i++) {
    let n = 0, dt = 0;
    const t0 = process.hrtime.bigint();
    do {
      await session.run(feeds);
      n++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (dt < minTime);
    rates.push((n * batch) / dt);
    calls += n;
  }
  let prof = {};
  if (profDir) {
    session.endProfiling();
    const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`--profile: want one profile file in ${profDir}, found ${files.length}`);
    const events = JSON.parse(fs.readFileSync(path.join(profDir, files[0]), 'utf8'));
    prof = profileBreakdown(events, categorizeNodes(onnxNodes(onnxPath)), calls);
  }
  const pps = median(rates);
  const unit = session.outputNames[0] === 'dense' ? 'texts' : 'pairs';
  process.stdout.write(JSON.stringify({
    system: 'ort-fp32', output: session.outputNames[0], batch, seq, threads,
    [`${unit}_per_s`]: pps, [`${unit}_per_s_all`]: rates, seconds_per_call: batch / pps,
    ort: ort.env.versions.node, execution_provider: 'cpu', graph_optimization: 'all',
    ...cpuInfo(),
    ...prof,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_bench.mjs: ${e.message ?? e}\n`);
  process.exit(1);
});
