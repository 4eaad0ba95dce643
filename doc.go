// Package gorerank is the library API of gorerank: rerank documents for a query with an
// XLM-RoBERTa cross-encoder such as BAAI/bge-reranker-v2-m3, and embed texts with a bge-m3
// embedder (dense, sparse and ColBERT outputs), in pure Go.
//
// Open loads a reranker (a folder, or a hub id resolved through the Hugging Face cache);
// Rerank scores every document against a query and ranks them by logit. OpenEmbedder loads
// an embedder through the same LoadModel; Embed computes the outputs asked for of each text.
// Opening one kind with the other's function is ErrKind. RerankEach and EmbedEach do the same
// for many groups or texts in one call, forward passes shared and each failure its own (the
// CLI's JSON Lines streams). The package is also the one place the scoring and embedding
// policies live, which the CLI (rerank score, rerank embed) and the HTTP server only
// translate, each through one call:
//
//   - Validation (Pipeline.CheckQuery): a blank query (white space, control and format
//     characters such as U+200B, or nothing left after the tokenizer's normalization) is
//     ErrEmptyQuery, invalid UTF-8 is ErrInvalidUTF8, options that do not fit the model are
//     ErrOptions; an empty document is valid (scored as HF does, <s> query </s></s></s>).
//     Errors for one document are a *PairError; test the class with errors.Is.
//   - Tokenization: the query once per request, each document once, ids only, and stopped as
//     soon as truncation can keep no more, so work and memory are bounded by what is kept.
//     The pair template is read from the tokenizer's post-processor.
//   - Truncation (ScoreOptions): longest_first (HF's, token for token), only_second, flag
//     (FlagReranker's query cap), windows (best of overlapping windows), from either side,
//     with an optional per-document token cap; Strict makes a cut an ErrTooLong instead.
//   - Ranking (Rank): by logit, highest first, equal logits in input order.
//   - Scoring (Score): the pair policy, then the forward pass as a seam (ScoreForward, over
//     each document's Input: one sequence, or one per window): the Reranker's own runs
//     batches of at most Options.BatchTokens tokens that never split a document's windows; a
//     server brings its batcher. The best window's logit is the document's; a non-finite
//     logit is an error.
//   - Texts to embed: valid UTF-8 (ErrInvalidUTF8), not the empty string (ErrEmptyText, as
//     TEI and OpenAI; white space alone is embedded as <s> </s>), the single template
//     <s> text </s> from the tokenizer's post-processor, and at most EmbedOptions.MaxLength
//     tokens (default: the model's position limit, 8192 for bge-m3): longer is ErrTooLong, or
//     with Truncate cut from either side keeping the special tokens. Errors for one text are
//     a *TextError.
//   - Embedding (Embed; EmbedTokens for texts given as token ids): the forward pass is a seam
//     (EmbedForward): the Embedder's own runs batches of at most Options.BatchTokens tokens,
//     checking ctx between them; a server can bring its batcher. A non-finite output is an
//     error.
//
// Scores: Result.Logit is the raw output of XLMRobertaForSequenceClassification;
// Result.Score is its sigmoid, which is what sentence-transformers' CrossEncoder.predict
// returns for a single-label model. DType says how the weights are kept (f32, f16, bf16) and
// computed (bf16c); ParseDType reads the names every --dtype flag takes.
//
// A Reranker and an Embedder are safe for concurrent use. Each call takes a scratch buffer set
// from a pool (xlmr.ScratchPool), so steady-state calls reuse activation memory instead of
// allocating it.
//
// The building blocks are importable on their own: package xlmr (config, weights, forward
// pass over token ids), tokenizer (tokenizer.json), weights (safetensors), nn and tensor
// (kernels).
package gorerank
