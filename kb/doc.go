// Package kb is a knowledge base in one folder: documents split into chunks, embedded by a
// bge-m3 embedder (dense and sparse vectors), recalled exactly, reranked by a cross-encoder.
// It is what `rerank kb` and `rerank serve --kb` run, and a Go program can use it directly:
//
//	emb, _ := gorerank.OpenEmbedder("BAAI/bge-m3", gorerank.Options{})
//	rr, _ := gorerank.Open("BAAI/bge-reranker-v2-m3", gorerank.Options{})
//	k, _ := kb.Create(ctx, "kb", kb.Config{Embedder: "BAAI/bge-m3"}, emb) // or kb.Open
//	k.Add(ctx, []kb.Document{{ID: "policy-7", Text: text, Metadata: meta}})
//	res, _ := k.Search(ctx, "员工离职需要提前多久通知公司?", kb.SearchOptions{TopK: 50, TopN: 5})
//
// # Pipeline
//
// Add: a document is checked (Document rules: UTF-8, no NUL, not blank, within
// MaxDocBytes), hashed (an id whose text and metadata are unchanged is skipped), split by
// internal/chunk (paragraph, line, sentence, clause boundaries, by the embedder's own
// token count, with overlap), embedded (dense and sparse in one forward pass, batched over
// every chunk of the call), and committed in one transaction with the others of the call.
//
// Search: the query is embedded; recall (internal/recall) scores every live chunk that the
// metadata filter keeps: dense dot products with SIMD kernels in the stored format (f32, f16
// or int8), sparse lexical matching over an inverted index, or both fused by reciprocal
// rank fusion (or bge-m3's weighted sum, exact over the union); no approximate index, so
// recall is 1.0 by construction. The top-k chunks are read back (checked) and reranked.
//
// # Storage
//
// kb.db is SQLite (modernc.org/sqlite: pure Go, no cgo) in WAL mode with synchronous=FULL:
// a committed transaction survives a crash and a power loss, and readers (searches, other
// processes) run beside the one writer. It holds the configuration, the embedder's
// identity, the documents (text, metadata, hash), the chunks (offsets, text, sparse
// weights) and which vector rows are live and committed. vectors.bin holds the dense vectors
// in recall's row encoding; rows are only appended, written and synced past the committed
// mark before the transaction that commits them, so a crash leaves at most uncommitted rows
// that the next writer overwrites. A removed or replaced chunk's row stays (Stats.DeadRows)
// until the folder is rebuilt (kb export --documents into a new one).
//
// Every record carries a CRC-32C (meta values, documents, chunks, sparse weights, vector
// rows; document texts their SHA-256), checked whenever it is read: a truncated or
// bit-flipped file is a CorruptError, never served. Check reads everything, SQLite's
// integrity check included.
//
// The embedder's identity is what it does, not its name: its shape, the token ids its
// tokenizer gives three probe texts, and the dense vectors it gives them (cosine ≥ 0.98: the
// same model as f32, bf16 or int8 passes, another does not). Open refuses another embedder
// (EmbedderError).
//
// The in-memory index (dense rows, postings, row maps; Stats.MemoryBytes) is loaded at Open
// and brought up to date before each search when another connection committed (SQLite's
// data_version), so a server sees what a `rerank kb add` in another process added.
//
// # Memory
//
// Per chunk: its vector (4, 2 or 1 byte a value, plus a 4-byte scale for int8: 4096, 2048 or
// 1028 bytes at 1024 dimensions), 8 bytes a sparse weight (bge-m3 gives a 256-token chunk
// about 100), 12 bytes of row maps; and 6 MB for the vocabulary's posting lists.
package kb
