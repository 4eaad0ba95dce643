// Package gorerank is the library API of gorerank: rerank documents for a query with an
// XLM-RoBERTa cross-encoder such as BAAI/bge-reranker-v2-m3, in pure Go.
//
// Open loads a model folder (config.json, safetensors weights, tokenizer.json); Rerank
// tokenizes each (query, document) pair with the model's pair template, truncates it to
// ScoreOptions.MaxLength (default 512 tokens, longest_first like HF
// `tokenizer(q, d, truncation=True, max_length=N)`), scores all pairs in packed batches under
// a token budget (no padding is ever computed), and returns the documents sorted by score.
//
// Scores: Result.Logit is the raw output of XLMRobertaForSequenceClassification;
// Result.Score is its sigmoid, which is what sentence-transformers' CrossEncoder.predict
// returns for a single-label model.
//
// A Reranker is safe for concurrent use. Each call takes a scratch buffer set from a
// sync.Pool, so steady-state calls reuse activation memory instead of allocating it.
//
// The building blocks are importable on their own: package xlmr (config, weights, forward
// pass over token ids), tokenizer (tokenizer.json), weights (safetensors), nn and tensor
// (kernels).
package gorerank
