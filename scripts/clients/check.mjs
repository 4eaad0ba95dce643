#!/usr/bin/env node
// Runs the unmodified Node embedding and rerank clients against one running
// `rerank serve --model <reranker> --model <bge-m3>` process and checks the shape of what each
// client returns. Each client gets only what a user sets: a base URL, a dummy API key and a
// model name. Every client talks to the server through a small recording forwarder, so a
// failure prints the exact requests the client sent and the answers it got.
//
//   node check.mjs --url http://127.0.0.1:8000 [--verbose]
//
// One PASS/FAIL line per client (package@version). Exit status 1 if any required check fails;
// checks marked "extra" (clients outside issue #17's list) are reported but do not count.
// scripts/clients/run.sh builds the binary, starts the server and runs this.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const argValue = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SERVER = (argValue("--url") ?? process.env.GORERANK_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
const VERBOSE = args.includes("--verbose") || args.includes("-v");
const API_KEY = process.env.GORERANK_API_KEY ?? "dummy-key"; // any string when the server has no --api-key
const EMBED_MODEL = "bge-m3"; // the names a user of the real models would write
const RERANK_MODEL = "bge-reranker-v2-m3";
const TIMEOUT_MS = 30000;

// ---------- package versions ----------
function pkgVersion(name, within) {
  const candidates = [];
  if (within) candidates.push(path.join(here, "node_modules", within, "node_modules", name, "package.json"));
  candidates.push(path.join(here, "node_modules", name, "package.json"));
  for (const p of candidates) {
    if (fs.existsSync(p)) return JSON.parse(fs.readFileSync(p, "utf8")).version;
  }
  return "?";
}
const v = (name, within) => `${name}@${pkgVersion(name, within)}`;

// ---------- recording forwarder ----------
let exchanges = [];
const target = new URL(SERVER);
const proxy = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const rec = { method: req.method, path: req.url, request: body.toString("utf8") };
    exchanges.push(rec);
    const headers = { ...req.headers, host: target.host };
    const up = http.request(
      { hostname: target.hostname, port: target.port || 80, path: req.url, method: req.method, headers },
      (upRes) => {
        const out = [];
        upRes.on("data", (c) => out.push(c));
        upRes.on("end", () => {
          const b = Buffer.concat(out);
          rec.status = upRes.statusCode;
          rec.response = b.toString("utf8");
          const h = { ...upRes.headers };
          delete h["transfer-encoding"];
          h["content-length"] = String(b.length);
          res.writeHead(upRes.statusCode, h);
          res.end(b);
        });
      },
    );
    up.on("error", (e) => {
      rec.status = 502;
      rec.response = String(e);
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(e) } }));
    });
    up.end(body);
  });
});
await new Promise((ok) => proxy.listen(0, "127.0.0.1", ok));
const BASE = `http://127.0.0.1:${proxy.address().port}`; // what every client is pointed at

const clip = (s, n = 500) => (s.length > n ? `${s.slice(0, n)}… (${s.length} bytes)` : s);
function showExchanges() {
  for (const e of exchanges) {
    console.log(`      > ${e.method} ${e.path} ${clip(e.request)}`);
    console.log(`      < ${e.status} ${clip((e.response ?? "(no answer)").trimEnd())}`);
  }
}

// ---------- reference answers, straight from the server ----------
async function post(p, body) {
  const r = await fetch(`${SERVER}${p}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const info = await (await fetch(`${SERVER}/info`, { headers: { authorization: `Bearer ${API_KEY}` } })).json();
const embedder = (info.models ?? []).find((m) => m.task === "embed" || m.dimensions);
const DIM = embedder?.dimensions;
if (!DIM) {
  console.error(`FAIL setup: /info names no embedder with dimensions: ${JSON.stringify(info.models)}`);
  process.exit(1);
}

const TEXTS = [
  "What is BGE M3?",
  "BM25 is a bag-of-words retrieval function.",
  "BGE M3 supports dense, sparse and multi-vector retrieval.",
];
const QUERY = "What is the capital of France?";
const DOCS = [
  "Beijing is the capital of China.",
  "Paris is the capital of France.",
  "BGE M3 is an embedding model.",
  "The Eiffel Tower is in Paris.",
];

const refEmb = (await post("/v1/embeddings", { model: EMBED_MODEL, input: TEXTS, encoding_format: "float" })).data
  .sort((a, b) => a.index - b.index)
  .map((d) => d.embedding);
const refScore = new Map(
  (await post("/v1/rerank", { model: RERANK_MODEL, query: QUERY, documents: DOCS })).results.map((r) => [
    r.index,
    r.relevance_score,
  ]),
);

// ---------- assertions ----------
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function checkVector(vec, ref, what) {
  assert(Array.isArray(vec) || vec instanceof Float32Array || vec instanceof Float64Array,
    `${what}: expected an array of numbers, got ${typeof vec} ${clip(JSON.stringify(vec) ?? "", 80)}`);
  assert(vec.length === DIM, `${what}: ${vec.length} dimensions, want ${DIM}`);
  let norm = 0;
  for (let i = 0; i < vec.length; i++) {
    assert(typeof vec[i] === "number" && Number.isFinite(vec[i]), `${what}[${i}] = ${vec[i]}`);
    norm += vec[i] * vec[i];
    // float32 on the wire (base64) vs float64 JSON: agree to float32 precision
    assert(Math.abs(vec[i] - ref[i]) < 1e-5, `${what}[${i}] = ${vec[i]}, server's float answer ${ref[i]}`);
  }
  assert(Math.abs(Math.sqrt(norm) - 1) < 1e-3, `${what}: norm ${Math.sqrt(norm)}, want 1`);
}
function checkVectors(vecs, refs, what) {
  assert(Array.isArray(vecs), `${what}: expected a list of vectors, got ${typeof vecs}`);
  assert(vecs.length === refs.length, `${what}: ${vecs.length} vectors for ${refs.length} inputs`);
  vecs.forEach((vec, i) => checkVector(vec, refs[i], `${what}[${i}]`));
}
// results: [{index, score}] as the client exposes them
function checkRanking(results, want, what) {
  assert(Array.isArray(results), `${what}: expected a list of results`);
  assert(results.length === want, `${what}: ${results.length} results, want ${want}`);
  const seen = new Set();
  let prev = Infinity;
  for (const [k, r] of results.entries()) {
    assert(Number.isInteger(r.index) && r.index >= 0 && r.index < DOCS.length, `${what}[${k}].index = ${r.index}`);
    assert(!seen.has(r.index), `${what}: index ${r.index} twice`);
    seen.add(r.index);
    assert(typeof r.score === "number" && r.score >= 0 && r.score <= 1, `${what}[${k}] score = ${r.score}`);
    assert(Math.abs(r.score - refScore.get(r.index)) < 1e-6,
      `${what}[${k}]: score ${r.score} for document ${r.index}, server's ${refScore.get(r.index)}`);
    assert(r.score <= prev, `${what}: not sorted by score`);
    prev = r.score;
  }
}

// ---------- the clients ----------
const checks = [];
const check = (name, versions, fn, extra = false) => checks.push({ name, versions, fn, extra });

check("OpenAI Node SDK: embeddings.create (default encoding = base64; and float)", () => [v("openai")], async () => {
  const { default: OpenAI } = await import("openai");
  const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: API_KEY });
  const many = await client.embeddings.create({ model: EMBED_MODEL, input: TEXTS });
  checkVectors(many.data.map((d) => d.embedding), refEmb, "data");
  assert(many.data.every((d, i) => d.index === i), "data[i].index");
  const one = await client.embeddings.create({ model: EMBED_MODEL, input: TEXTS[0] });
  checkVectors(one.data.map((d) => d.embedding), [refEmb[0]], "single");
  const fl = await client.embeddings.create({ model: EMBED_MODEL, input: TEXTS, encoding_format: "float" });
  checkVectors(fl.data.map((d) => d.embedding), refEmb, "float");
  const dims = await client.embeddings.create({ model: EMBED_MODEL, input: TEXTS[0], dimensions: DIM });
  checkVectors(dims.data.map((d) => d.embedding), [refEmb[0]], "dimensions");
  assert(Number.isInteger(many.usage?.prompt_tokens), "usage.prompt_tokens");
  return `${TEXTS.length} vectors × ${DIM}; a single text; float; dimensions ${DIM}`;
});

check("Vercel AI SDK: embed/embedMany with @ai-sdk/openai createOpenAI({baseURL})",
  () => [v("ai"), v("@ai-sdk/openai")], async () => {
  const { embed, embedMany } = await import("ai");
  const { createOpenAI } = await import("@ai-sdk/openai");
  const openai = createOpenAI({ baseURL: `${BASE}/v1`, apiKey: API_KEY });
  const model = openai.embedding(EMBED_MODEL);
  const { embeddings } = await embedMany({ model, values: TEXTS, maxRetries: 0 });
  checkVectors(embeddings, refEmb, "embedMany");
  const { embedding } = await embed({ model, value: TEXTS[0], maxRetries: 0 });
  checkVector(embedding, refEmb[0], "embed");
  return `${TEXTS.length} vectors × ${DIM}`;
});

check("Vercel AI SDK: embed/embedMany with @ai-sdk/openai-compatible createOpenAICompatible({baseURL})",
  () => [v("ai"), v("@ai-sdk/openai-compatible")], async () => {
  const { embed, embedMany } = await import("ai");
  const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
  const provider = createOpenAICompatible({ name: "gorerank", baseURL: `${BASE}/v1`, apiKey: API_KEY });
  const model = provider.embeddingModel(EMBED_MODEL);
  const { embeddings } = await embedMany({ model, values: TEXTS, maxRetries: 0 });
  checkVectors(embeddings, refEmb, "embedMany");
  const { embedding } = await embed({ model, value: TEXTS[0], maxRetries: 0 });
  checkVector(embedding, refEmb[0], "embed");
  return `${TEXTS.length} vectors × ${DIM}`;
});

check("LangChain OpenAIEmbeddings({configuration: {baseURL}}): embedDocuments/embedQuery",
  () => [v("@langchain/openai"), v("@langchain/core"), v("openai", "@langchain/openai")], async () => {
  const { OpenAIEmbeddings } = await import("@langchain/openai");
  const emb = new OpenAIEmbeddings({ model: EMBED_MODEL, apiKey: API_KEY, configuration: { baseURL: `${BASE}/v1` } });
  checkVectors(await emb.embedDocuments(TEXTS), refEmb, "embedDocuments");
  checkVector(await emb.embedQuery(TEXTS[0]), refEmb[0], "embedQuery");
  const sent = exchanges.map((e) => JSON.parse(e.request));
  assert(sent.every((b) => typeof b.input === "string" || b.input.every((x) => typeof x === "string")),
    "LangChain sent token ids, not strings");
  return `${TEXTS.length} vectors × ${DIM}; sends strings, encoding_format ${sent[0].encoding_format ?? "(none)"}`;
});

check("LlamaIndex OpenAIEmbedding({baseURL}): getTextEmbeddings/getTextEmbedding",
  () => [v("@llamaindex/openai"), v("@llamaindex/core"), v("openai", "@llamaindex/openai")], async () => {
  const { OpenAIEmbedding } = await import("@llamaindex/openai");
  const emb = new OpenAIEmbedding({ model: EMBED_MODEL, apiKey: API_KEY, baseURL: `${BASE}/v1`, maxRetries: 0 });
  checkVectors(await emb.getTextEmbeddings(TEXTS), refEmb, "getTextEmbeddings");
  checkVector(await emb.getTextEmbedding(TEXTS[0]), refEmb[0], "getTextEmbedding");
  return `${TEXTS.length} vectors × ${DIM}`;
});

check("Cohere SDK CohereClient({environment}).rerank → /v1/rerank", () => [v("cohere-ai")], async () => {
  const { CohereClient } = await import("cohere-ai");
  const co = new CohereClient({ token: API_KEY, environment: BASE, maxRetries: 0 });
  const all = await co.rerank({ model: RERANK_MODEL, query: QUERY, documents: DOCS });
  checkRanking(all.results.map((r) => ({ index: r.index, score: r.relevanceScore })), DOCS.length, "results");
  const top = await co.rerank({ model: RERANK_MODEL, query: QUERY, documents: DOCS, topN: 2, returnDocuments: true });
  checkRanking(top.results.map((r) => ({ index: r.index, score: r.relevanceScore })), 2, "topN=2");
  assert(top.results.every((r) => r.document?.text === DOCS[r.index]), "returnDocuments: document.text");
  assert(exchanges.every((e) => e.path === "/v1/rerank"), `posted to ${exchanges.map((e) => e.path)}`);
  return `${DOCS.length} results; topN 2 with documents`;
});

check("Cohere SDK CohereClientV2({environment}).rerank → /v2/rerank", () => [v("cohere-ai")], async () => {
  const { CohereClientV2 } = await import("cohere-ai");
  const co = new CohereClientV2({ token: API_KEY, environment: BASE, maxRetries: 0 });
  const all = await co.rerank({ model: RERANK_MODEL, query: QUERY, documents: DOCS });
  checkRanking(all.results.map((r) => ({ index: r.index, score: r.relevanceScore })), DOCS.length, "results");
  const top = await co.rerank({ model: RERANK_MODEL, query: QUERY, documents: DOCS, topN: 3, maxTokensPerDoc: 64 });
  checkRanking(top.results.map((r) => ({ index: r.index, score: r.relevanceScore })), 3, "topN=3");
  assert(exchanges.every((e) => e.path === "/v2/rerank"), `posted to ${exchanges.map((e) => e.path)}`);
  return `${DOCS.length} results; topN 3, maxTokensPerDoc`;
});

check("LangChain CohereRerank({client: new CohereClient({environment})}): compressDocuments/rerank",
  () => [v("@langchain/cohere"), v("cohere-ai")], async () => {
  const { CohereRerank } = await import("@langchain/cohere");
  const { CohereClient } = await import("cohere-ai");
  const { Document } = await import("@langchain/core/documents");
  const reranker = new CohereRerank({
    client: new CohereClient({ token: API_KEY, environment: BASE, maxRetries: 0 }),
    model: RERANK_MODEL,
    topN: 3,
  });
  const docs = DOCS.map((t, i) => new Document({ pageContent: t, metadata: { i } }));
  const out = await reranker.compressDocuments(docs, QUERY);
  checkRanking(out.map((d) => ({ index: d.metadata.i, score: d.metadata.relevanceScore })), 3, "compressDocuments");
  const ranked = await reranker.rerank(DOCS, QUERY);
  checkRanking(ranked.map((r) => ({ index: r.index, score: r.relevanceScore })), 3, "rerank");
  return "3 documents kept with relevanceScore";
});

check("LlamaIndex CohereRerank({baseUrl}).postprocessNodes",
  () => [v("@llamaindex/cohere"), v("cohere-ai", "@llamaindex/cohere")], async () => {
  const { CohereRerank } = await import("@llamaindex/cohere");
  const { TextNode } = await import("@llamaindex/core/schema");
  const reranker = new CohereRerank({ apiKey: API_KEY, baseUrl: BASE, model: RERANK_MODEL, topN: 3 });
  const nodes = DOCS.map((t, i) => ({ node: new TextNode({ text: t, id_: `n${i}` }), score: 0 }));
  const out = await reranker.postprocessNodes(nodes, QUERY);
  checkRanking(out.map((n) => ({ index: Number(n.node.id_.slice(1)), score: n.score })), 3, "postprocessNodes");
  return "3 nodes kept with scores";
});

check("Vercel AI SDK: rerank with @ai-sdk/cohere createCohere({baseURL: …/v2})",
  () => [v("ai"), v("@ai-sdk/cohere")], async () => {
  const { rerank } = await import("ai");
  const { createCohere } = await import("@ai-sdk/cohere");
  const cohere = createCohere({ baseURL: `${BASE}/v2`, apiKey: API_KEY });
  const { ranking } = await rerank({ model: cohere.reranking(RERANK_MODEL), query: QUERY, documents: DOCS, topN: 3, maxRetries: 0 });
  checkRanking(ranking.map((r) => ({ index: r.originalIndex, score: r.score })), 3, "ranking");
  return "3 results";
});

check("LlamaIndex JinaAIEmbedding({baseURL: …/v1/embeddings}) (Jina's format: input as [{text}])",
  () => [v("@llamaindex/jinaai")], async () => {
  const { JinaAIEmbedding } = await import("@llamaindex/jinaai");
  const emb = new JinaAIEmbedding({ apiKey: API_KEY, baseURL: `${BASE}/v1/embeddings`, model: EMBED_MODEL });
  checkVectors(await emb.getTextEmbeddings(TEXTS), refEmb, "getTextEmbeddings");
  return `${TEXTS.length} vectors × ${DIM}`;
}, true);

// ---------- run ----------
console.log(`server ${SERVER} (recording forwarder ${BASE}); embedder ${embedder.model_id ?? "?"}: ${DIM} dimensions; node ${process.version}`);
let failed = 0;
for (const c of checks) {
  exchanges = [];
  let versions;
  try {
    versions = c.versions().join(" ");
  } catch {
    versions = "?";
  }
  const tag = c.extra ? " (extra)" : "";
  try {
    const detail = await Promise.race([
      c.fn(),
      new Promise((_, no) => setTimeout(() => no(new Error(`no answer in ${TIMEOUT_MS / 1000}s`)), TIMEOUT_MS)),
    ]);
    console.log(`PASS${tag} ${c.name} [${versions}]: ${detail}`);
    if (VERBOSE) showExchanges();
  } catch (e) {
    if (!c.extra) failed++;
    console.log(`FAIL${tag} ${c.name} [${versions}]: ${String(e?.message ?? e).split("\n")[0]}`);
    showExchanges();
  }
}
proxy.close();
console.log(failed ? `${failed} required client check(s) failed` : "all required client checks passed");
process.exit(failed ? 1 : 0);
