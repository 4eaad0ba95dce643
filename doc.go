// Package gorerank is the library API of gorerank: rerank documents for a query with an
// XLM-RoBERTa cross-encoder such as BAAI/bge-reranker-v2-m3, in pure Go.
//
// Open loads a model (a folder, or a hub id resolved through the Hugging Face cache);
// Rerank scores every document against a query and ranks them by logit. It is also the one
// place the scoring policy lives, which the CLI (rerank score) and the HTTP server only
// translate:
//
//   - Validation (Pipeline.CheckQuery): a blank query (white space, control and format
//     characters such as U+200B, or nothing left after the tokenizer's normalization) is
//     ErrEmptyQuery, invalid UTF-8 is ErrInvalidUTF8, options that
//     do not fit the model are ErrOptions; an empty document is valid (scored as HF does,
//     <s> query </s></s></s>). Errors for one document are a *PairError; test the class with
//     errors.Is.
//   - Tokenization (Pipeline): the query once per request, each document once, ids only, and
//     stopped as soon as truncation can keep no more, so work and memory are bounded by what
//     is kept. The pair template is read from the tokenizer's post-processor.
//   - Truncation (ScoreOptions): longest_first (HF's, token for token), only_second, flag
//     (FlagReranker's query cap), windows (best of overlapping windows), from either side,
//     with an optional per-document token cap; Strict makes a cut an ErrTooLong instead.
//   - Ranking (Rank): by logit, highest first, equal logits in input order.
//
// Scores: Result.Logit is the raw output of XLMRobertaForSequenceClassification;
// Result.Score is its sigmoid, which is what sentence-transformers' CrossEncoder.predict
// returns for a single-label model. DType says how the weights are kept (f32, f16, bf16) and
// computed (bf16c); ParseDType reads the names every --dtype flag takes.
//
// A Reranker is safe for concurrent use. Each call takes a scratch buffer set from a
// sync.Pool, so steady-state calls reuse activation memory instead of allocating it.
//
// The building blocks are importable on their own: package xlmr (config, weights, forward
// pass over token ids), tokenizer (tokenizer.json), weights (safetensors), nn and tensor
// (kernels).
package gorerank
