package kb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/chunk"
	"github.com/gorerank/gorerank/internal/recall"
	"github.com/gorerank/gorerank/xlmr"
)

// Document is one document to add: its id (a path, or the id of a JSON line), its text and
// optional metadata (a JSON object, returned with its chunks and usable in search filters).
type Document struct {
	ID       string
	Text     string
	Metadata map[string]any
	// Chunks, when not nil, are the document's chunks already embedded (for example by
	// rerank embed on other machines, over the chunk texts kb chunk wrote): Add checks
	// them and re-embeds a sample with the knowledge base's embedder (every
	// verifyEvery-th chunk, the first included) instead of embedding them all.
	Chunks []EmbeddedChunk
}

// EmbeddedChunk is a chunk of a Document with its embeddings: the byte range of the text,
// the dense vector and the sparse lexical weights (token id → weight, ids ascending).
type EmbeddedChunk struct {
	Start, End    int
	Tokens        int // the chunk's tokens (special tokens excluded), as recorded; 0: unknown
	Dense         []float32
	SparseIndices []int32
	SparseValues  []float32
}

// Status is what Add did with a document.
type Status string

const (
	Added     Status = "added"     // new
	Replaced  Status = "replaced"  // its id was there with other content: replaced whole
	Unchanged Status = "unchanged" // its id was there with the same content: nothing done
	Rejected  Status = "rejected"  // not added: Err says why
)

// AddResult is one document's outcome.
type AddResult struct {
	ID     string
	Status Status
	Chunks int   // chunks stored (added or replaced)
	Tokens int   // tokens embedded
	Err    error // why it was rejected (a *DocError)
}

// Limits on what a document may carry.
const (
	maxIDBytes       = 1024
	maxMetadataBytes = 64 << 10
	verifyEvery      = 16   // pre-embedded chunks: one in this many is re-embedded and compared
	minSparseCosine  = 0.95 // pre-embedded chunks: sparse agreement with the re-embedding
)

// Add adds docs in one transaction: when it returns without error, every document whose
// Status is Added or Replaced is durable (it survives a crash or a power loss), with all its
// chunks; a document is never half there. A document that cannot be added is Rejected with
// its reason and the others go on; the error is for what stops them all (the database, the
// context). A document whose id is there already with the same text and metadata is
// Unchanged and costs nothing, so adding a folder again only embeds what changed.
//
// Memory is the documents' texts plus, per chunk, its vector and sparse weights (a few KiB):
// callers add large collections a group at a time (the CLI: a few hundred chunks' worth).
func (k *KB) Add(ctx context.Context, docs []Document) ([]AddResult, error) {
	e := k.opt.Embedder
	if e == nil {
		return nil, ErrNoEmbedder
	}
	res := make([]AddResult, len(docs))
	type work struct {
		doc    *Document
		res    *AddResult
		hash   []byte
		meta   sql.NullString
		chunks []chunk.Chunk
		embs   []gorerank.Embedding // one per chunk: computed, or given and checked
	}
	var todo []*work
	seen := make(map[string]bool)
	for i := range docs {
		d := &docs[i]
		r := &res[i]
		r.ID = d.ID
		reject := func(err error) {
			r.Status, r.Err = Rejected, &DocError{ID: d.ID, Err: err}
		}
		meta, err := k.checkDoc(d)
		if err != nil {
			reject(err)
			continue
		}
		if seen[d.ID] {
			reject(errors.New("the same id twice in one add"))
			continue
		}
		seen[d.ID] = true
		w := &work{doc: d, res: r, meta: meta, hash: docHash(d.Text, meta)}
		var old []byte
		err = k.db.QueryRowContext(ctx, `SELECT hash FROM docs WHERE id = ?`, d.ID).Scan(&old)
		switch {
		case err == nil && bytes.Equal(old, w.hash):
			r.Status = Unchanged
			continue
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return nil, dbErr(err, "look up "+d.ID)
		}
		if d.Chunks != nil {
			if err := k.checkChunks(d); err != nil {
				reject(err)
				continue
			}
			for _, c := range d.Chunks {
				w.chunks = append(w.chunks, chunk.Chunk{Start: c.Start, End: c.End, Tokens: c.Tokens})
			}
		} else {
			w.chunks, err = chunk.Split(e.Tokenizer(), d.Text, chunk.Options{MaxTokens: k.cfg.ChunkTokens, Overlap: k.cfg.Overlap})
			if err != nil {
				reject(err)
				continue
			}
			if len(w.chunks) == 0 {
				reject(errors.New("no text to index (empty or white space only)"))
				continue
			}
		}
		todo = append(todo, w)
	}

	// Embed every chunk that needs it in one call, so that the pipeline batches them.
	var texts []string
	type ref struct{ w, c int }
	var refs []ref
	for wi, w := range todo {
		w.embs = make([]gorerank.Embedding, len(w.chunks))
		for ci, c := range w.chunks {
			if w.doc.Chunks != nil && ci%verifyEvery != 0 {
				continue
			}
			texts = append(texts, w.doc.Text[c.Start:c.End])
			refs = append(refs, ref{wi, ci})
		}
	}
	eo := gorerank.EmbedOptions{Outputs: xlmr.OutputDense | xlmr.OutputSparse, MaxLength: k.cfg.ChunkTokens + 2, Truncate: true}
	embs, err := k.embed(ctx, texts, eo)
	if err != nil {
		return nil, fmt.Errorf("kb: embed: %w", err)
	}
	for i, rf := range refs {
		w := todo[rf.w]
		w.embs[rf.c] = embs[i]
		w.res.Tokens += embs[i].Tokens
	}
	// Pre-embedded chunks: the sample must agree with the knowledge base's embedder.
	kept := todo[:0]
	for _, w := range todo {
		if w.doc.Chunks != nil {
			if err := verifyChunks(w.doc, w.embs); err != nil {
				w.res.Status, w.res.Err = Rejected, &DocError{ID: w.doc.ID, Err: err}
				continue
			}
			for ci, c := range w.doc.Chunks {
				w.embs[ci].Dense = c.Dense
				w.embs[ci].Sparse = sparseMap(c.SparseIndices, c.SparseValues)
			}
		}
		kept = append(kept, w)
	}
	todo = kept
	if len(todo) == 0 {
		return res, nil
	}

	// Commit: rows go past the committed mark, synced, then the transaction records them.
	committed, err := k.write(ctx, func(tx *sql.Tx) error {
		mark, err := metaInt(ctx, tx, metaRows)
		if err != nil {
			return dbErr(err, "read rows")
		}
		first := mark
		rb := k.vec.rowBytes
		var vecs []byte
		now := time.Now().Unix()
		for _, w := range todo {
			d := w.doc
			var oldNum int64
			err := tx.QueryRowContext(ctx, `SELECT num FROM docs WHERE id = ?`, d.ID).Scan(&oldNum)
			switch {
			case err == nil:
				if err := dropDoc(ctx, tx, oldNum); err != nil {
					return err
				}
				w.res.Status = Replaced
			case errors.Is(err, sql.ErrNoRows):
				w.res.Status = Added
			default:
				return dbErr(err, "look up "+d.ID)
			}
			dr := docRow{id: d.ID, hash: w.hash, meta: w.meta, chunks: int64(len(w.chunks)), bytes: int64(len(d.Text)), added: now}
			r, err := tx.ExecContext(ctx, `INSERT INTO docs (id, hash, metadata, chunks, bytes, added, sum, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				dr.id, dr.hash, dr.meta, dr.chunks, dr.bytes, dr.added, dr.checksum(), d.Text)
			if err != nil {
				return dbErr(err, "insert "+d.ID)
			}
			num, err := r.LastInsertId()
			if err != nil {
				return dbErr(err, "insert "+d.ID)
			}
			for ci, c := range w.chunks {
				em := &w.embs[ci]
				off := len(vecs)
				vecs = append(vecs, make([]byte, rb)...)
				if err := recall.EncodeRow(vecs[off:], em.Dense, k.format); err != nil {
					return fmt.Errorf("kb: the vector of chunk %d of %q: %w", ci, d.ID, err)
				}
				ids, vals := em.SparseSorted()
				text := d.Text[c.Start:c.End]
				tokens := int64(c.Tokens)
				if tokens == 0 && em.Tokens > 2 {
					tokens = int64(em.Tokens - 2) // <s> and </s> are not the chunk's
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO chunks (row, doc, seq, start, end, tokens, text, sparse, vsum, sum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					mark, num, ci, c.Start, c.End, tokens, text, encodeSparse(ids, vals), crc(vecs[off:]),
					chunkSum(num, int64(ci), int64(c.Start), int64(c.End), tokens, text))
				if err != nil {
					return dbErr(err, "insert a chunk of "+d.ID)
				}
				mark++
			}
			w.res.Chunks = len(w.chunks)
		}
		if err := k.vec.writeRows(first, vecs); err != nil {
			return fmt.Errorf("kb: write vectors: %w", err)
		}
		return dbErr(setMeta(ctx, tx, metaRows, fmt.Sprint(mark)), "update rows")
	})
	if !committed {
		return nil, err
	}
	return res, err
}

// dropDoc removes document num and its chunks, recording their rows as dead.
func dropDoc(ctx context.Context, tx *sql.Tx, num int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO dead (row) SELECT row FROM chunks WHERE doc = ? ORDER BY row`, num); err != nil {
		return dbErr(err, "remove chunks")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM chunks WHERE doc = ?`, num); err != nil {
		return dbErr(err, "remove chunks")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM docs WHERE num = ?`, num); err != nil {
		return dbErr(err, "remove document")
	}
	return nil
}

// Remove removes the documents with these ids and all their chunks, in one transaction.
// It returns the ids that were there; the others are reported in a *DocError wrapping
// ErrNotFound (after the rest were removed).
func (k *KB) Remove(ctx context.Context, ids ...string) (removed []string, err error) {
	var missing []error
	committed, err := k.write(ctx, func(tx *sql.Tx) error {
		removed, missing = nil, nil
		for _, id := range ids {
			var num int64
			err := tx.QueryRowContext(ctx, `SELECT num FROM docs WHERE id = ?`, id).Scan(&num)
			if errors.Is(err, sql.ErrNoRows) {
				missing = append(missing, &DocError{ID: id, Err: ErrNotFound})
				continue
			}
			if err != nil {
				return dbErr(err, "look up "+id)
			}
			if err := dropDoc(ctx, tx, num); err != nil {
				return err
			}
			removed = append(removed, id)
		}
		return nil
	})
	if !committed {
		return nil, err
	}
	return removed, errors.Join(append(missing, err)...)
}

// write runs fn in one write transaction, the one writer at a time (this process's lock,
// and SQLite's across processes), commits it, and brings the index up to date. committed
// says whether the transaction was: an error after the commit (refreshing the index) is
// returned with committed true, since what was committed stays.
func (k *KB) write(ctx context.Context, fn func(tx *sql.Tx) error) (committed bool, err error) {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	tx, err := k.db.BeginTx(ctx, nil)
	if err != nil {
		return false, dbErr(err, "begin")
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, dbErr(err, "commit")
	}
	return true, k.refresh(context.WithoutCancel(ctx))
}

// checkDoc is the one check of what a document may be; it returns the metadata as stored.
func (k *KB) checkDoc(d *Document) (sql.NullString, error) {
	var none sql.NullString
	switch {
	case d.ID == "":
		return none, errors.New("the id is empty")
	case len(d.ID) > maxIDBytes:
		return none, fmt.Errorf("the id is %d bytes, more than %d", len(d.ID), maxIDBytes)
	case !utf8.ValidString(d.ID):
		return none, errors.New("the id is not valid UTF-8")
	case len(d.Text) > k.opt.MaxDocBytes:
		return none, fmt.Errorf("the text is %d bytes, more than the %d bytes a document may have (MaxDocBytes, --max-doc-bytes)", len(d.Text), k.opt.MaxDocBytes)
	case !utf8.ValidString(d.Text):
		return none, errors.New("the text is not valid UTF-8 (a binary file, or another encoding: convert it to UTF-8)")
	case strings.IndexByte(d.Text, 0) >= 0:
		return none, errors.New("the text holds NUL bytes (a binary file?)")
	case strings.TrimSpace(d.Text) == "":
		return none, errors.New("no text to index (empty or white space only)")
	}
	if d.Metadata == nil {
		return none, nil
	}
	b, err := json.Marshal(d.Metadata) // keys sorted: the same metadata hashes the same
	if err != nil {
		return none, fmt.Errorf("metadata: %v", err)
	}
	if len(b) > maxMetadataBytes {
		return none, fmt.Errorf("metadata is %d bytes of JSON, more than %d", len(b), maxMetadataBytes)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// docHash identifies a document's content: unchanged documents are skipped.
func docHash(text string, meta sql.NullString) []byte {
	h := sha256.New()
	h.Write([]byte(text))
	h.Write([]byte{0})
	if meta.Valid {
		h.Write([]byte(meta.String))
	}
	return h.Sum(nil)
}

// checkChunks checks pre-embedded chunks' shape: ranges in order on character boundaries,
// unit dense vectors of the knowledge base's size, sparse weights positive and finite.
func (k *KB) checkChunks(d *Document) error {
	if len(d.Chunks) == 0 {
		return errors.New("chunks: none given (omit chunks to have the text chunked and embedded)")
	}
	for i, c := range d.Chunks {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("chunk %d: %s", i, fmt.Sprintf(format, a...))
		}
		switch {
		case c.Start < 0 || c.End > len(d.Text) || c.Start >= c.End:
			return bad("range [%d, %d) is not inside the %d-byte text", c.Start, c.End, len(d.Text))
		case i > 0 && c.Start <= d.Chunks[i-1].Start:
			return bad("chunks must be in text order")
		case !utf8.RuneStart(d.Text[c.Start]) || (c.End < len(d.Text) && !utf8.RuneStart(d.Text[c.End])):
			return bad("range [%d, %d) cuts a character", c.Start, c.End)
		case len(c.Dense) != k.cfg.Dim:
			return bad("dense has %d values, the knowledge base's embedder gives %d", len(c.Dense), k.cfg.Dim)
		case len(c.SparseIndices) != len(c.SparseValues):
			return bad("sparse has %d indices and %d values", len(c.SparseIndices), len(c.SparseValues))
		}
		var n float64
		for _, v := range c.Dense {
			n += float64(v) * float64(v)
		}
		if math.IsNaN(n) || math.Abs(math.Sqrt(n)-1) > 1e-3 {
			return bad("dense is not a unit vector (norm %.4g)", math.Sqrt(n))
		}
		for j, id := range c.SparseIndices {
			v := c.SparseValues[j]
			switch {
			case id < 0 || int(id) >= k.id.Vocab:
				return bad("sparse index %d is outside the vocabulary (%d)", id, k.id.Vocab)
			case j > 0 && id <= c.SparseIndices[j-1]:
				return bad("sparse indices must be ascending and distinct")
			case !(v > 0) || math.IsInf(float64(v), 0):
				return bad("sparse value %v is not a positive finite number", v)
			}
		}
	}
	return nil
}

// verifyChunks compares the re-embedded sample (embs entries with a Dense vector) with what
// the document carries.
func verifyChunks(d *Document, embs []gorerank.Embedding) error {
	for ci, em := range embs {
		if em.Dense == nil {
			continue
		}
		c := d.Chunks[ci]
		if cs := cosine(em.Dense, c.Dense); !(cs >= minProbeCosine) {
			return fmt.Errorf("chunk %d: its dense vector is not what this knowledge base's embedder gives its text (cosine %.4f < %.2f): embedded by another model?", ci, cs, minProbeCosine)
		}
		if cs := sparseCosine(em.Sparse, sparseMap(c.SparseIndices, c.SparseValues)); !(cs >= minSparseCosine) && len(em.Sparse)+len(c.SparseIndices) > 0 {
			return fmt.Errorf("chunk %d: its sparse weights are not what this knowledge base's embedder gives its text (cosine %.4f < %.2f)", ci, cs, minSparseCosine)
		}
	}
	return nil
}

func sparseMap(ids []int32, vals []float32) map[int32]float32 {
	m := make(map[int32]float32, len(ids))
	for i, id := range ids {
		m[id] = vals[i]
	}
	return m
}

// sparseCosine is the cosine of two lexical weight maps as vectors over the token ids.
func sparseCosine(a, b map[int32]float32) float64 {
	return float64(xlmr.LexicalScore(a, b)) / math.Sqrt(float64(xlmr.LexicalScore(a, a))*float64(xlmr.LexicalScore(b, b)))
}
