package kb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gorerank/gorerank/internal/recall"
)

// Stats describe a knowledge base.
type Stats struct {
	Config      Config `json:"config"`
	Documents   int64  `json:"documents"`
	Chunks      int64  `json:"chunks"`
	Tokens      int64  `json:"tokens"`       // tokens of all chunks
	TextBytes   int64  `json:"text_bytes"`   // bytes of all documents' texts
	DeadRows    int64  `json:"dead_rows"`    // vector rows of removed or replaced chunks, reclaimed by no one yet
	VectorBytes int64  `json:"vector_bytes"` // the vector file
	DBBytes     int64  `json:"db_bytes"`     // kb.db and its WAL
	MemoryBytes int64  `json:"memory_bytes"` // the in-memory index: vectors and postings
	Postings    int64  `json:"postings"`     // sparse weights indexed
}

// Stats reads what the knowledge base holds. The counts (documents, chunks, tokens, text
// bytes, dead rows) scan the database's tables once per committed state: a Stats with no
// commit since the last one (SQLite's data_version, as the index) reuses them and costs a
// pragma and three file stats, so that a server can put it in every /info. It reads no
// vector.
func (k *KB) Stats(ctx context.Context) (*Stats, error) {
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	// the state the index is at, read before the counts' transaction: counts cached under
	// it are of that state or a later one, and a later commit changes it
	k.mu.RLock()
	ver := k.version
	k.mu.RUnlock()
	c, err := k.counts(ctx, ver)
	if err != nil {
		return nil, err
	}
	s := &Stats{Config: k.cfg, Documents: c.documents, TextBytes: c.textBytes, Chunks: c.chunks, Tokens: c.tokens, DeadRows: c.deadRows}
	for _, name := range []string{dbName, dbName + "-wal"} {
		if st, err := os.Stat(filepath.Join(k.dir, name)); err == nil {
			s.DBBytes += st.Size()
		}
	}
	if st, err := os.Stat(k.vec.path); err == nil {
		s.VectorBytes = st.Size()
	}
	k.mu.RLock()
	ix := k.index
	s.Postings = int64(ix.sparse.Postings())
	// rows as stored, 8 bytes a posting (row, weight), 24 a token id's list header, and
	// the row maps (file row, document)
	s.MemoryBytes = int64(ix.dense.Len())*int64(k.vec.rowBytes) + 8*s.Postings + 24*int64(ix.sparse.Vocab()) + 12*int64(len(ix.fileRow))
	k.mu.RUnlock()
	return s, nil
}

// statCounts are the counts of Stats that scan the database.
type statCounts struct {
	documents, textBytes, chunks, tokens, deadRows int64
}

// counts returns the counts of the database's state ver: the cached ones when they are of
// it, else counted in one read transaction (one counting at a time).
func (k *KB) counts(ctx context.Context, ver int64) (statCounts, error) {
	k.statsMu.Lock()
	defer k.statsMu.Unlock()
	if k.statsOK && k.statsVer == ver {
		return k.stats, nil
	}
	var c statCounts
	tx, err := k.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c, dbErr(err, "begin")
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM docs`).Scan(&c.documents, &c.textBytes); err != nil {
		return c, dbErr(err, "count documents")
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM chunks`).Scan(&c.chunks, &c.tokens); err != nil {
		return c, dbErr(err, "count chunks")
	}
	rows, err := metaInt(ctx, tx, metaRows)
	if err != nil {
		return c, dbErr(err, "read rows")
	}
	c.deadRows = rows - c.chunks
	k.stats, k.statsVer, k.statsOK = c, ver, true
	return c, nil
}

// DocInfo is a stored document: its record and its chunks.
type DocInfo struct {
	ID       string         `json:"id"`
	Text     string         `json:"text"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Bytes    int64          `json:"bytes"`
	Added    time.Time      `json:"added"`
	Chunks   []ChunkInfo    `json:"chunks"`
}

// ChunkInfo is one stored chunk.
type ChunkInfo struct {
	Chunk  int    `json:"chunk"`
	Start  int    `json:"start"`
	End    int    `json:"end"`
	Tokens int    `json:"tokens"`
	Text   string `json:"text"`
	// Dense and the sparse weights, when asked for (Export).
	Dense         []float32 `json:"dense,omitempty"`
	SparseIndices []int32   `json:"-"`
	SparseValues  []float32 `json:"-"`
}

// Get reads one document and its chunks (ErrNotFound when there is none with that id).
func (k *KB) Get(ctx context.Context, id string) (*DocInfo, error) {
	var d *DocInfo
	err := k.walk(ctx, id, false, func(di *DocInfo) error { d = di; return nil })
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return d, nil
}

// Export calls fn for every document in id order with its chunks, their dense vectors
// (decoded from the stored format) and sparse weights: what a vector database imports.
// Every record is checked against its checksum on the way.
func (k *KB) Export(ctx context.Context, fn func(*DocInfo) error) error {
	return k.walk(ctx, "", true, fn)
}

// walk reads one document (id != "") or all of them, in one read transaction.
func (k *KB) walk(ctx context.Context, id string, vectors bool, fn func(*DocInfo) error) error {
	tx, err := k.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbErr(err, "begin")
	}
	defer tx.Rollback()
	q := `SELECT num, id, hash, metadata, chunks, bytes, added, sum, text FROM docs`
	var args []any
	if id != "" {
		q += ` WHERE id = ?`
		args = append(args, id)
	}
	docs, err := tx.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return dbErr(err, "read documents")
	}
	defer docs.Close()
	buf := make([]byte, k.vec.rowBytes)
	for docs.Next() {
		var r docRow
		var text string
		if err := docs.Scan(&r.num, &r.id, &r.hash, &r.meta, &r.chunks, &r.bytes, &r.added, &r.sum, &text); err != nil {
			return dbErr(err, "read documents")
		}
		if r.checksum() != r.sum || !bytes.Equal(docHash(text, r.meta), r.hash) {
			return corruptf("document %q: its record does not match its checksum", r.id)
		}
		d := &DocInfo{ID: r.id, Text: text, Bytes: r.bytes, Added: time.Unix(r.added, 0).UTC()}
		if r.meta.Valid {
			if err := json.Unmarshal([]byte(r.meta.String), &d.Metadata); err != nil {
				return corruptf("document %q: metadata: %v", r.id, err)
			}
		}
		if id != "" && r.id != id {
			return corruptf("the index of document ids points %q at %q", id, r.id)
		}
		cs, err := tx.QueryContext(ctx, `SELECT row, doc, seq, start, end, tokens, text, sparse, vsum, sum FROM chunks WHERE doc = ? ORDER BY seq`, r.num)
		if err != nil {
			return dbErr(err, "read chunks")
		}
		for cs.Next() {
			var c ChunkInfo
			var row, doc int64
			var sparse []byte
			var vsum, sum uint32
			if err := cs.Scan(&row, &doc, &c.Chunk, &c.Start, &c.End, &c.Tokens, &c.Text, &sparse, &vsum, &sum); err != nil {
				cs.Close()
				return dbErr(err, "read chunks")
			}
			if doc != r.num || c.Chunk != len(d.Chunks) {
				cs.Close()
				return corruptf("document %q: the chunk index points at chunk %d of document number %d", r.id, c.Chunk, doc)
			}
			if chunkSum(r.num, int64(c.Chunk), int64(c.Start), int64(c.End), int64(c.Tokens), c.Text) != sum {
				cs.Close()
				return corruptf("chunk %d of document %q does not match its checksum", c.Chunk, r.id)
			}
			if vectors {
				if c.SparseIndices, c.SparseValues, err = decodeSparse(nil, nil, sparse); err != nil {
					cs.Close()
					return corruptf("chunk %d of document %q: sparse weights: %v", c.Chunk, r.id, err)
				}
				if err := k.vec.readRows(buf, row); err != nil {
					cs.Close()
					return err
				}
				if crc(buf) != vsum {
					cs.Close()
					return corruptVecf(k.vec.path, "the vector of chunk %d of document %q does not match its checksum", c.Chunk, r.id)
				}
				c.Dense = make([]float32, k.cfg.Dim)
				if err := recall.DecodeRow(c.Dense, buf, k.format); err != nil {
					cs.Close()
					return corruptVecf(k.vec.path, "the vector of chunk %d of document %q: %v", c.Chunk, r.id, err)
				}
			}
			d.Chunks = append(d.Chunks, c)
		}
		cs.Close()
		if err := cs.Err(); err != nil {
			return dbErr(err, "read chunks")
		}
		if len(d.Chunks) != int(r.chunks) {
			return corruptf("document %q records %d chunks and has %d", r.id, r.chunks, len(d.Chunks))
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return dbErr(docs.Err(), "read documents")
}

// Check reads everything the knowledge base holds and checks it: SQLite's integrity check,
// every document, chunk, sparse vector and vector row against its checksum, the vector file
// against the rows the database commits. It returns the first problem (a *CorruptError).
func (k *KB) Check(ctx context.Context) error {
	var msg string
	if err := k.db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&msg); err != nil {
		return dbErr(err, "integrity check")
	}
	if msg != "ok" {
		return corruptf("SQLite integrity check: %s", msg)
	}
	var n int64
	if err := k.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM chunks c LEFT JOIN docs d ON c.doc = d.num WHERE d.num IS NULL`).Scan(&n); err != nil {
		return dbErr(err, "check chunks")
	}
	if n > 0 {
		return corruptf("%d chunks belong to no document", n)
	}
	return k.Export(ctx, func(*DocInfo) error { return nil })
}
