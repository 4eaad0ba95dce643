package kb

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/recall"
)

// Config is what a knowledge base is built with, fixed at Create and recorded in it.
type Config struct {
	// Embedder and Reranker are the model references given at init (a folder or a hub id):
	// what the CLI and the server open when they are not told otherwise. The embedder's
	// identity (not this name) is what Open checks.
	Embedder string `json:"embedder"`
	Reranker string `json:"reranker,omitempty"`
	// ChunkTokens is the most tokens of a chunk (the embedder's tokenizer, special tokens
	// excluded); Overlap the tokens a chunk repeats from the end of the one before.
	ChunkTokens int `json:"chunk_tokens"`
	Overlap     int `json:"overlap"`
	// Vectors is how dense vectors are stored and scanned: "f32", "f16" or "int8".
	Vectors string `json:"vectors"`
	// Dim is the dense vector size, from the embedder.
	Dim int `json:"dim"`
}

// Defaults for Config.
const (
	DefaultChunkTokens = 256
	DefaultOverlap     = 32
	// DefaultVectors is f16: half the memory and scan time of f32 (a 1M-chunk scan is bound
	// by memory bandwidth: f32 misses 300 ms on 2 cores, f16 takes ~140 ms), and a stored
	// value is within 2⁻¹¹ of the float32 one, far below what moves a ranking.
	DefaultVectors = "f16"
	// DefaultMaxDocBytes bounds one document's text (Options.MaxDocBytes).
	DefaultMaxDocBytes = 16 << 20
)

// Formats lists the vector formats Config.Vectors accepts.
var Formats = []string{"f32", "f16", "int8"}

func parseFormat(s string) (recall.Format, error) {
	switch s {
	case "f32":
		return recall.F32, nil
	case "f16":
		return recall.F16, nil
	case "int8":
		return recall.Int8, nil
	}
	return 0, fmt.Errorf("kb: unknown vector format %q (want f32, f16 or int8)", s)
}

func (c *Config) check() error {
	if c.Embedder == "" {
		return errors.New("kb: Config.Embedder is empty")
	}
	if c.ChunkTokens < 16 {
		return fmt.Errorf("kb: chunk tokens must be at least 16 (got %d)", c.ChunkTokens)
	}
	if c.Overlap < 0 || c.Overlap > c.ChunkTokens/2 {
		return fmt.Errorf("kb: overlap must be between 0 and half the chunk tokens, %d (got %d)", c.ChunkTokens/2, c.Overlap)
	}
	if _, err := parseFormat(c.Vectors); err != nil {
		return err
	}
	return nil
}

// Options are what Open takes beside the folder.
type Options struct {
	// Embedder is the knowledge base's embedder: needed to add documents and to search,
	// and checked against the identity recorded at Create (EmbedderError).
	Embedder *gorerank.Embedder
	// Reranker, when set, reorders what recall found (Search).
	Reranker *gorerank.Reranker
	// MaxDocBytes bounds one document's text; 0: DefaultMaxDocBytes.
	MaxDocBytes int

	// EmbedFunc and RerankFunc, when set, run the models' forward passes instead of
	// Embedder.Embed and Reranker.Rerank: the seam a server uses to put the knowledge
	// base's work through its own batching and admission. They must compute what those
	// would (the same models).
	EmbedFunc  func(ctx context.Context, texts []string, o gorerank.EmbedOptions) ([]gorerank.Embedding, error)
	RerankFunc func(ctx context.Context, query string, docs []string) ([]gorerank.Result, error)
}

// embed embeds texts with the knowledge base's embedder (EmbedFunc when set).
func (k *KB) embed(ctx context.Context, texts []string, o gorerank.EmbedOptions) ([]gorerank.Embedding, error) {
	if k.opt.EmbedFunc != nil {
		return k.opt.EmbedFunc(ctx, texts, o)
	}
	return k.opt.Embedder.Embed(ctx, texts, o)
}

// rerank scores docs against query (RerankFunc when set); ok is false without a reranker.
func (k *KB) rerank(ctx context.Context, query string, docs []string) (res []gorerank.Result, ok bool, err error) {
	switch {
	case k.opt.RerankFunc != nil:
		res, err = k.opt.RerankFunc(ctx, query, docs)
	case k.opt.Reranker != nil:
		res, err = k.opt.Reranker.Rerank(ctx, query, docs, gorerank.ScoreOptions{})
	default:
		return nil, false, nil
	}
	return res, true, err
}

// KB is an open knowledge base. Safe for concurrent use: searches run while documents
// are added, from this process or another one.
type KB struct {
	dir    string
	db     *sql.DB
	cfg    Config
	format recall.Format
	id     identity
	vec    *vectorFile
	opt    Options

	wmu sync.Mutex // one writer at a time in this process (SQLite's lock serializes processes)

	mu      sync.RWMutex // guards the index below
	watch   *sql.Conn    // the connection whose PRAGMA data_version says another commit happened
	version int64        // data_version when the index was last brought up to date
	index   *index

	statsMu  sync.Mutex // guards the cache of Stats' counts below (info.go)
	stats    statCounts
	statsVer int64 // the data_version they are of
	statsOK  bool
}

// index is the in-memory part: what recall scans and what maps its rows back.
type index struct {
	dense    *recall.Dense
	sparse   *recall.Sparse
	fileRow  []int64  // index row → vector file row (increasing)
	rowDoc   []int32  // index row → docs entry
	docs     []docRef // every document loaded (removed ones stay until a full load)
	mark     int64    // vector rows committed when loaded (meta rows)
	lastDoc  int64    // largest docs.num loaded
	lastDead int64    // largest dead.seq seen
	vectors  string   // the vector file's name when loaded
}

// docRef is what search needs of a document without going to the database.
type docRef struct {
	num  int64
	id   string
	meta map[string]any // nil without metadata
}

const (
	dbName      = "kb.db"
	vectorsName = "vectors.bin"
)

// Create makes a knowledge base in dir (created if missing; it must not hold one already)
// built with embedder e: its identity is recorded, and cfg.Dim is taken from it. Zero
// fields of cfg take the defaults.
func Create(ctx context.Context, dir string, cfg Config, e *gorerank.Embedder) (*KB, error) {
	if e == nil {
		return nil, ErrNoEmbedder
	}
	if cfg.ChunkTokens == 0 {
		cfg.ChunkTokens = DefaultChunkTokens
	}
	if cfg.Overlap == 0 {
		cfg.Overlap = min(DefaultOverlap, cfg.ChunkTokens/4)
	}
	if cfg.Vectors == "" {
		cfg.Vectors = DefaultVectors
	}
	cfg.Dim = e.Model().Config.HiddenSize
	if err := cfg.check(); err != nil {
		return nil, err
	}
	format, _ := parseFormat(cfg.Vectors)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dir, dbName)
	if _, err := os.Stat(dbPath); err == nil {
		// A kb.db without its format record is an init that did not finish: start again.
		db, err := openDB(dbPath, false)
		if err == nil {
			_, done, _ := getMeta(ctx, db, metaFormat)
			db.Close()
			if done {
				return nil, fmt.Errorf("%w: %s", ErrExists, dir)
			}
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(dbPath + suffix)
		}
	}
	id, err := identify(ctx, e, cfg.Embedder)
	if err != nil {
		return nil, err
	}
	vpath := filepath.Join(dir, vectorsName)
	os.Remove(vpath) // left by an interrupted init: no database commits to it
	if err := createVectorFile(vpath, format, cfg.Dim); err != nil {
		return nil, err
	}
	db, err := openDB(dbPath, true)
	if err != nil {
		return nil, err
	}
	err = func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		cj, _ := json.Marshal(cfg)
		ij, _ := json.Marshal(id)
		for _, kv := range [][2]string{{metaConfig, string(cj)}, {metaIdentity, string(ij)},
			{metaRows, "0"}, {metaVectors, vectorsName}, {metaFormat, formatVersion}} {
			if err := setMeta(ctx, tx, kv[0], kv[1]); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("kb: init %s: %w", dir, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return Open(ctx, dir, Options{Embedder: e})
}

// syncDir makes the creation of the files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open opens the knowledge base in dir. With o.Embedder it checks that the embedder is the
// one the knowledge base was built with; without, it can list, export and remove, not add
// or search. Every vector row and sparse vector is checked against its checksum as it is
// loaded (CorruptError).
func Open(ctx context.Context, dir string, o Options) (*KB, error) {
	dbPath := filepath.Join(dir, dbName)
	if _, err := os.Stat(dbPath); err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotKB, dir)
		}
		return nil, err
	}
	db, err := openDB(dbPath, false)
	if err != nil {
		return nil, dbErr(err, "open "+dbPath)
	}
	k, err := open(ctx, dir, db, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	return k, nil
}

// ReadConfig reads the configuration a knowledge base was built with (the models to open
// for it, its chunking and vector format) without loading its index.
func ReadConfig(ctx context.Context, dir string) (Config, error) {
	dbPath := filepath.Join(dir, dbName)
	if _, err := os.Stat(dbPath); err != nil {
		if os.IsNotExist(err) {
			return Config{}, fmt.Errorf("%w: %s", ErrNotKB, dir)
		}
		return Config{}, err
	}
	db, err := openDB(dbPath, false)
	if err != nil {
		return Config{}, dbErr(err, "open "+dbPath)
	}
	defer db.Close()
	if _, ok, err := getMeta(ctx, db, metaFormat); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: %s (an init that did not finish: run kb init again)", ErrNotKB, dir)
		}
		return Config{}, dbErr(err, "read "+dbName)
	}
	cj, ok, err := getMeta(ctx, db, metaConfig)
	if err != nil || !ok {
		if err == nil {
			err = corruptf("no config")
		}
		return Config{}, dbErr(err, "read config")
	}
	var c Config
	if err := json.Unmarshal([]byte(cj), &c); err != nil {
		return Config{}, corruptf("config: %v", err)
	}
	return c, nil
}

func open(ctx context.Context, dir string, db *sql.DB, o Options) (*KB, error) {
	if o.MaxDocBytes <= 0 {
		o.MaxDocBytes = DefaultMaxDocBytes
	}
	k := &KB{dir: dir, db: db, opt: o}
	v, ok, err := getMeta(ctx, db, metaFormat)
	if err != nil {
		return nil, dbErr(err, "read "+dbName)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s (an init that did not finish: run kb init again)", ErrNotKB, dir)
	}
	if v != formatVersion {
		return nil, fmt.Errorf("kb: %s is format %q; this build reads format %q", dir, v, formatVersion)
	}
	cj, _, err := getMeta(ctx, db, metaConfig)
	if err != nil {
		return nil, dbErr(err, "read config")
	}
	if err := json.Unmarshal([]byte(cj), &k.cfg); err != nil {
		return nil, corruptf("config: %v", err)
	}
	if k.format, err = parseFormat(k.cfg.Vectors); err != nil {
		return nil, corruptf("config: %v", err)
	}
	ij, _, err := getMeta(ctx, db, metaIdentity)
	if err != nil {
		return nil, dbErr(err, "read identity")
	}
	if err := json.Unmarshal([]byte(ij), &k.id); err != nil {
		return nil, corruptf("identity: %v", err)
	}
	if o.Embedder != nil {
		if err := k.id.check(ctx, o.Embedder); err != nil {
			return nil, err
		}
	}
	vname, _, err := getMeta(ctx, db, metaVectors)
	if err != nil {
		return nil, dbErr(err, "read vector file name")
	}
	if vname != filepath.Base(vname) || vname == "" {
		return nil, corruptf("vector file name %q", vname)
	}
	if k.vec, err = openVectorFile(filepath.Join(dir, vname), k.format, k.cfg.Dim); err != nil {
		return nil, err
	}
	if k.watch, err = db.Conn(ctx); err != nil {
		k.vec.close()
		return nil, err
	}
	if err := k.refresh(ctx); err != nil {
		k.watch.Close()
		k.vec.close()
		return nil, err
	}
	return k, nil
}

// Close releases the knowledge base's files.
func (k *KB) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.watch.Close()
	if e := k.vec.close(); err == nil {
		err = e
	}
	if e := k.db.Close(); err == nil {
		err = e
	}
	return err
}

// Config returns what the knowledge base was built with.
func (k *KB) Config() Config { return k.cfg }

// Dir is the knowledge base's folder.
func (k *KB) Dir() string { return k.dir }

// refresh brings the index up to date with what is committed: nothing when no commit
// happened since (SQLite's data_version), what is new otherwise.
func (k *KB) refresh(ctx context.Context) error {
	var ver int64
	if err := k.watch.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&ver); err != nil {
		return dbErr(err, "data_version")
	}
	k.mu.RLock()
	fresh := k.index != nil && ver == k.version
	k.mu.RUnlock()
	if fresh {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.index != nil && ver == k.version {
		return nil
	}
	if err := k.load(ctx); err != nil {
		// load adds to the index as it reads: a failure part way (a damaged row, the
		// caller's context ending) may leave some of the new rows in it without their
		// mark, and loading again from the mark would add them twice. Drop the index: the
		// next refresh loads everything.
		k.index = nil
		return err
	}
	k.version = ver
	return nil
}

// load reads what is new since the index was loaded (everything the first time), in one read
// transaction so that it is one consistent state. Called with k.mu held.
func (k *KB) load(ctx context.Context) error {
	tx, err := k.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbErr(err, "begin")
	}
	defer tx.Rollback()
	mark, err := metaInt(ctx, tx, metaRows)
	if err != nil {
		return dbErr(err, "read rows")
	}
	vname, _, err := getMeta(ctx, tx, metaVectors)
	if err != nil {
		return dbErr(err, "read vector file name")
	}
	ix := k.index
	if ix == nil || ix.vectors != vname {
		ix = &index{
			dense:    recall.NewDense(k.format, k.cfg.Dim),
			sparse:   recall.NewSparse(k.id.Vocab),
			vectors:  vname,
			lastDead: -1,
		}
		// Every dead row so far is below the mark and not in chunks: nothing to delete.
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM dead`).Scan(&ix.lastDead); err != nil {
			return dbErr(err, "read dead rows")
		}
	}
	if mark < ix.mark {
		return corruptf("the database commits %d vector rows, fewer than the %d already loaded", mark, ix.mark)
	}
	onDisk, err := k.vec.rowsOnDisk()
	if err != nil {
		return err
	}
	if onDisk < mark {
		return corruptVecf(k.vec.path, "the vector file %s is truncated: it holds %d rows, the database commits %d", k.vec.path, onDisk, mark)
	}

	// New documents.
	rows, err := tx.QueryContext(ctx, `SELECT num, id, hash, metadata, chunks, bytes, added, sum FROM docs WHERE num > ? ORDER BY num`, ix.lastDoc)
	if err != nil {
		return dbErr(err, "read documents")
	}
	docAt := make(map[int64]int32)
	for i, d := range ix.docs {
		docAt[d.num] = int32(i)
	}
	for rows.Next() {
		var r docRow
		if err := rows.Scan(&r.num, &r.id, &r.hash, &r.meta, &r.chunks, &r.bytes, &r.added, &r.sum); err != nil {
			rows.Close()
			return dbErr(err, "read documents")
		}
		if r.checksum() != r.sum {
			rows.Close()
			return corruptf("document %q: its record does not match its checksum", r.id)
		}
		ref := docRef{num: r.num, id: r.id}
		if r.meta.Valid {
			if err := json.Unmarshal([]byte(r.meta.String), &ref.meta); err != nil {
				rows.Close()
				return corruptf("document %q: metadata: %v", r.id, err)
			}
		}
		docAt[r.num] = int32(len(ix.docs))
		ix.docs = append(ix.docs, ref)
		ix.lastDoc = r.num
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbErr(err, "read documents")
	}

	// Rows that died since: their chunks were removed or replaced.
	if k.index == ix {
		rows, err = tx.QueryContext(ctx, `SELECT seq, row FROM dead WHERE seq > ? ORDER BY seq`, ix.lastDead)
		if err != nil {
			return dbErr(err, "read dead rows")
		}
		for rows.Next() {
			var seq, row int64
			if err := rows.Scan(&seq, &row); err != nil {
				rows.Close()
				return dbErr(err, "read dead rows")
			}
			if i, ok := slices.BinarySearch(ix.fileRow, row); ok {
				ix.dense.Delete(i)
				ix.sparse.Delete(i)
			}
			ix.lastDead = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(err, "read dead rows")
		}
	}

	// New chunks: their sparse weights from the database, their vectors from the file.
	rows, err = tx.QueryContext(ctx, `SELECT row, doc, sparse, vsum FROM chunks WHERE row >= ? ORDER BY row`, ix.mark)
	if err != nil {
		return dbErr(err, "read chunks")
	}
	defer rows.Close()
	win := k.vec.window(mark)
	var ids []int32
	var ws []float32
	for rows.Next() {
		var row, doc int64
		var sparse []byte
		var vsum uint32
		if err := rows.Scan(&row, &doc, &sparse, &vsum); err != nil {
			return dbErr(err, "read chunks")
		}
		if row >= mark {
			return corruptf("chunk row %d is past the %d committed vector rows", row, mark)
		}
		d, ok := docAt[doc]
		if !ok {
			return corruptf("chunk row %d belongs to document number %d, which does not exist", row, doc)
		}
		if ids, ws, err = decodeSparse(ids[:0], ws[:0], sparse); err != nil {
			return corruptf("chunk row %d of document %q: sparse weights: %v", row, ix.docs[d].id, err)
		}
		buf, err := win.row(row)
		if err != nil {
			return err
		}
		if crc(buf) != vsum {
			return corruptVecf(k.vec.path, "the vector of chunk row %d (document %q) does not match its checksum", row, ix.docs[d].id)
		}
		i, err := ix.dense.AppendEncoded(buf)
		if err != nil {
			return corruptVecf(k.vec.path, "the vector of chunk row %d (document %q): %v", row, ix.docs[d].id, err)
		}
		if err := ix.sparse.Add(i, ids, ws); err != nil {
			return corruptf("chunk row %d of document %q: sparse weights: %v", row, ix.docs[d].id, err)
		}
		ix.fileRow = append(ix.fileRow, row)
		ix.rowDoc = append(ix.rowDoc, d)
	}
	if err := rows.Err(); err != nil {
		return dbErr(err, "read chunks")
	}
	ix.mark = mark
	if err := tx.Commit(); err != nil {
		return dbErr(err, "read")
	}
	k.index = ix
	return nil
}

// docRow is a row of the docs table.
type docRow struct {
	num    int64
	id     string
	hash   []byte
	meta   sql.NullString
	chunks int64
	bytes  int64
	added  int64
	sum    uint32
}

func (r *docRow) checksum() uint32 {
	var b []byte
	b = appendField(b, []byte(r.id))
	b = appendField(b, r.hash)
	if r.meta.Valid {
		b = appendField(b, []byte(r.meta.String))
	} else {
		b = append(b, 0xff)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(r.chunks))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.bytes))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.added))
	return crc(b)
}

// chunkSum is the checksum of a chunk's record but its vector and sparse weights (which
// carry their own).
func chunkSum(doc, seq, start, end, tokens int64, text string) uint32 {
	b := make([]byte, 0, 40+len(text))
	for _, v := range []int64{doc, seq, start, end, tokens} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = append(b, text...)
	return crc(b)
}

func appendField(b, f []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// encodeSparse lays out lexical weights as (uint32 id, float32 weight) pairs, ids ascending,
// followed by their CRC-32C.
func encodeSparse(ids []int32, ws []float32) []byte {
	b := make([]byte, 0, 8*len(ids)+4)
	for i, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(ws[i]))
	}
	return binary.LittleEndian.AppendUint32(b, crc(b))
}

func decodeSparse(ids []int32, ws []float32, b []byte) ([]int32, []float32, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 {
		return ids, ws, errors.New("bad length " + strconv.Itoa(len(b)))
	}
	body := b[:len(b)-4]
	if crc(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return ids, ws, errors.New("checksum mismatch")
	}
	for i := 0; i < len(body); i += 8 {
		ids = append(ids, int32(binary.LittleEndian.Uint32(body[i:])))
		ws = append(ws, math.Float32frombits(binary.LittleEndian.Uint32(body[i+4:])))
	}
	return ids, ws, nil
}
