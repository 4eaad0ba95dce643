// Package server is gorerank's HTTP rerank server: the Cohere/Jina (`POST /v1/rerank`),
// seed (`POST /rerank` with "documents") and Hugging Face TEI (`POST /rerank` with "texts")
// wire formats, plus /tokenize, /health, /ready, /info, /metrics, /openapi.json and /docs.
// With a knowledge base ([Server.SetKB], package kb) it also serves /v1/search and
// /v1/documents, whose forward passes go through the same batcher (kb.go).
//
// The server has no scoring policy of its own: validation, tokenization, truncation and
// ranking are the library's: each route makes one call (gorerank.Score, gorerank.Embed or
// gorerank.EmbedTokens) with the batcher as its forward pass, then gorerank.Rank; the server
// parses the wire formats into gorerank.ScoreOptions and EmbedOptions and maps the library's
// typed errors to statuses. It does not know about tensors either: it drives an [Engine]
// (pipeline + model) through a small interface. [NewXLMREngine] adapts a model opened by
// gorerank.LoadModel; tests use a fake.
//
// Requests are tokenized on the shared worker pool, looked up in an LRU cache of logits and
// embeddings bounded in bytes (cache.go), and the remaining pairs and texts go through a bounded queue to batch workers that merge pairs of
// concurrent requests into batches under a token budget ("continuous batching"). A full queue
// answers 429 with Retry-After; a client that goes away has its queued pairs dropped before
// they are scored. A batch that fails is re-run one request at a time, so only the request
// that makes the engine fail gets the 500, and no response carries another request's error.
//
// Every error is JSON {"error": {"message", "type"}}: 4xx for client faults, 5xx only for
// server faults. The wire format is described by the embedded OpenAPI 3.1 document
// (openapi.json), which the tests check real responses against.
//
// [Server.Shutdown] leaves a load balancer without losing a request: /ready turns 503 and
// responses say "Connection: close" at once, serving goes on for a delay while the endpoint
// is removed, then accepted requests are finished (drain.go explains the steps).
//
// The package never prints and never exits; it logs through the *slog.Logger it is given.
package server
