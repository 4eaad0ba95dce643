// Package recall is the exact in-memory first stage of the knowledge base: it finds the k
// chunks whose bge-m3 embeddings score best against a query's, by dense dot product (Dense), by
// bge-m3's lexical matching score over sparse token weights (Sparse), or by both fused (RRF,
// Weighted, Hybrid). It is brute force over every live row, made fast by tensor's SIMD
// kernels, and exact: a search returns the same hits, bit for bit and in the same order, as
// scoring every row with a naive float64 loop and sorting.
//
// It is not an approximate-nearest-neighbour index (no HNSW, IVF or product quantization: at
// the knowledge base's sizes, up to a few million chunks, one exact pass costs tens to hundreds
// of milliseconds on two cores), not a store (the knowledge base persists the vectors with
// EncodeRow and loads them back with AppendEncoded), and it knows nothing of ColBERT vectors.
//
// # Rows
//
// The knowledge base numbers its chunks 0, 1, 2, … and gives each to both indexes under that
// number: Dense.Append returns it, Sparse.Add takes it. Deletes are tombstones (Delete): the row
// keeps its storage and its number, and every search skips it; reclaiming space is a rebuild.
// Results are Hits {Row, Score}, best first: score descending, then row ascending, so ties come
// out in the same order every time.
//
// # Dense vectors
//
// A Dense index stores every row in one Format. The encoding (RowBytes, EncodeRow, DecodeRow;
// all little-endian) is also the storage format of the knowledge base:
//
//	F32   4·dim bytes   IEEE binary32 values
//	F16   2·dim bytes   IEEE binary16 values, rounded to nearest even
//	Int8  4+dim bytes   scale (binary32), then int8 values q ∈ [-127,127]; value = scale·q
//
// Int8 quantization is tensor.QuantizeInt8's: symmetric per row, scale = max|x|/127.
//
// The score of a query x with a row is Σᵢ xᵢ·wᵢ over the row's stored values w (for F16 the
// exact widening, for Int8 float32(scale·float32(q))), each product exact in float64, summed in
// float64 in index order, rounded once to float32: what tensor's naive oracles (GemmNTRef,
// MatMulNTF16Ref) compute, and what Dense.ScoreRows returns. The query is never rounded: an Int8
// or F16 index scores a float32 query against its stored rows.
//
// Memory per row at dimension d (bge-m3: d = 1024) is the encoding without the Int8 scale, plus
// per-row terms kept beside it: a norm bound (4 bytes, all formats), the scale and tensor's
// compensation term (4 + 4 bytes, Int8), and a tombstone bit:
//
//	F32   4d + 4 bytes    4100 B at d = 1024: 4.1 GB per million rows
//	F16   2d + 4 bytes    2052 B: 2.05 GB per million
//	Int8   d + 12 bytes   1036 B: 1.04 GB per million
//
// Rows live in chunks of 1024 rows, allocated whole (4 MiB at F32, d = 1024) except the first,
// which starts at 64 rows and doubles; so an index holds at most 1023 unused row slots.
//
// Search (Dense.Search). The rows are cut into tasks of one chunk; the calling goroutine and
// idle helpers of the module's worker pool (internal/workers, GOMAXPROCS goroutines in all,
// shared with the model's kernels, so there is no oversubscription) take tasks in turn. A task
// computes approximate scores of its rows with one query-row product per block of rows (up to
// 1024; tensor.MatMulNT for F32, tensor.MatMulNTF16 for F16, and for Int8 the query quantized
// once per search by tensor.QuantizeInt8 and tensor.GemmInt8NT on the stored int8 rows in
// place) and offers them to the worker's heap of the k best so far. The exact score is
// computed only for a row whose approximate score plus a proven error bound reaches the heap's
// k-th score: the bound is (2d+8)·2⁻²⁴·‖x‖·‖w‖ for the float32 kernels (tensor's documented
// accuracy, doubled), and for Int8 ‖x − sa·qa‖·‖w‖ (the query's own quantization error, by
// Cauchy–Schwarz) plus the same rounding terms; ‖w‖ is the norm bound kept per row (see
// denseJob.prepare). So the approximate kernels do the bulk of the work and the result is
// still exact, ties and near-ties included. The per-worker heaps are merged at the end. The
// context is checked between tasks. A search allocates its result and a few small objects; its
// scratch (a job, per worker a block of scores and a heap of k hits) is pooled.
//
// Why not score an Int8 index exactly in float32 all the way: it would have to widen every
// row to float32 first (4 bytes written and read back per stored byte), where the int8 product
// reads the stored bytes once; re-scoring the few candidates the bound leaves costs ~1 µs each.
// The Int8 bound needs the int8 kernel to multiply the stored values exactly (tensor's
// contract); a one-time probe checks it, and where a tier does not, Int8 searches do widen
// each block of rows and run the float32 kernel: slower, as exact.
//
// Where the time goes (measured on 2 vCPUs of a Zen 5, d = 1024; BenchmarkDenseSearch,
// BenchmarkDenseKernel): the float32 and F16 products of one query with a block of rows are
// dominated by tensor packing (transposing, and for F16 widening) the rows into its GEMM
// panels on every call; the multiply-adds are a fifth of it. A search over a million F32 rows
// also streams 4.1 GB from memory: 205 ms at 20 GB/s, so F32 at that size is bound by memory
// bandwidth. The int8 product reads its rows in place, no packing: Int8 searches take a
// fifth of the CPU time of F32. Exact re-scoring (about k·ln(rows/k) candidates per worker,
// as the heaps fill) costs about a millisecond.
//
// # Sparse vectors
//
// A Sparse index is an inverted index: for each token id a posting list of (row uint32,
// weight float32) pairs, 8 bytes each, rows ascending. Weights stay float32 because they are
// bge-m3's float32 outputs and the score must be exact over them; binary16 weights would save
// 2 of the 8 bytes. The score of a query with a row is Σ over the tokens both hold of
// w_query·w_row (FlagEmbedding's compute_lexical_matching_score), each product exact in
// float64, summed in float64 in the order of the query's tokens, rounded to float32. Weights
// must be positive (bge-m3's are ReLU outputs, zeros dropped), so a row matches exactly when
// its sum is not 0, and only matching rows are results.
//
// Search (Sparse.Search) cuts the rows into blocks of 32768 (float64 accumulators: 256 KiB,
// L2-resident); tasks of one block go to the caller and the worker pool as for Dense: each
// adds every query token's postings in its block into the accumulators, then offers the rows
// that matched to the worker's heap. Memory: 8 bytes per posting plus the slack of growing
// lists (amortised append), 24 bytes per vocabulary id (6 MB for bge-m3), two bits per row.
//
// # Fusion
//
// RRF is reciprocal rank fusion over any lists. Weighted is bge-m3's own hybrid score
// w_dense·s_dense + w_sparse·s_sparse over the union of a dense and a sparse list, with every
// missing score computed exactly (Dense.ScoreRows, Sparse.ScoreRows), so the fused order is
// exact over the union. Hybrid runs both searches and Weighted. PaperWeights (1, 0.3) are the
// M3-Embedding paper's; FlagEmbeddingWeights reproduce FlagEmbedding's compute_score
// "sparse+dense" (0.4·dense + 0.2·sparse)/0.6.
//
// # Concurrency
//
// Every method is safe for concurrent use. Dense: writers (Append, AppendEncoded, Delete) take
// a mutex; readers (Search, ScoreRows, Vector, …) take no lock: they read a snapshot of the row
// count and the chunk list (published atomically, after the row is written), and full chunks
// never move, so a search never waits for an append nor an append for a search. Sparse: a
// read-write mutex, held for reading for a whole search. In both, a row appended or deleted
// while a search runs may or may not be seen by it.
//
// # Errors
//
// Vectors and queries with the wrong length, NaN or ±Inf values, or values out of a format's
// range are errors (ErrDimension, ErrNotFinite, ErrRange), as are invalid sparse vectors
// (ErrSparse) and rows out of range (ErrRow); stored bytes that do not decode are a *RowError.
// Slices shorter than a documented length (dst arguments) are programmer bugs and panic.
package recall
