package kb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver: SQLite in pure Go
)

// The database (kb.db) holds everything but the dense vectors: the configuration, the
// embedder's identity, documents, chunks with their sparse weights, and the record of which
// vector rows are live. SQLite runs in WAL mode with synchronous=FULL, so a committed
// transaction survives a crash or a power loss, and readers (searches, other processes) run
// while one writer adds documents.
const schema = `
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	sum   INTEGER NOT NULL -- CRC-32C of key and value
);
CREATE TABLE docs (
	num      INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: readers load what is new by num
	id       TEXT NOT NULL UNIQUE,
	hash     BLOB NOT NULL,    -- SHA-256 of the text and the metadata: unchanged documents are skipped
	metadata TEXT,             -- a JSON object, or NULL
	chunks   INTEGER NOT NULL,
	bytes    INTEGER NOT NULL, -- the text's length in bytes
	added    INTEGER NOT NULL, -- Unix time of the add
	sum      INTEGER NOT NULL, -- CRC-32C of id, hash, metadata, chunks, bytes, added
	text     TEXT NOT NULL     -- the document's text (last: loading the other columns does not read it)
);
CREATE TABLE chunks (
	row    INTEGER PRIMARY KEY, -- the chunk's row in the vector file
	doc    INTEGER NOT NULL,    -- docs.num
	seq    INTEGER NOT NULL,    -- 0, 1, … within the document
	start  INTEGER NOT NULL,    -- byte offsets of the chunk in the document's text
	end    INTEGER NOT NULL,
	tokens INTEGER NOT NULL,
	text   TEXT NOT NULL,
	sparse BLOB NOT NULL,       -- lexical weights: (uint32 id, float32 weight)… little-endian, then their CRC-32C
	vsum   INTEGER NOT NULL,    -- CRC-32C of the vector row
	sum    INTEGER NOT NULL     -- CRC-32C of doc, seq, start, end, tokens, text
);
CREATE INDEX chunks_by_doc ON chunks (doc, seq);
CREATE TABLE dead (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	row INTEGER NOT NULL        -- a vector row whose chunk was removed or replaced
);
`

// Meta keys.
const (
	metaFormat   = "format"   // the layout version of the folder: formatVersion
	metaConfig   = "config"   // Config as JSON
	metaIdentity = "identity" // identity as JSON
	metaRows     = "rows"     // vector rows written and committed: the high-water mark of the vector file
	metaVectors  = "vectors"  // the vector file's name
)

const formatVersion = "1"

// openDB opens (creating when create is set) the SQLite database at path.
func openDB(path string, create bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	mode := "rw"
	if create {
		mode = "rwc"
	}
	q.Set("mode", mode)
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// getMeta reads one meta value; ok is false when the key is absent.
func getMeta(ctx context.Context, q queryer, key string) (string, bool, error) {
	var v string
	var sum uint32
	err := q.QueryRowContext(ctx, `SELECT value, sum FROM meta WHERE key = ?`, key).Scan(&v, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if metaSum(key, v) != sum {
		return "", false, corruptf("meta %q does not match its checksum", key)
	}
	return v, true, nil
}

func setMeta(ctx context.Context, tx execer, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value, sum) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, sum = excluded.sum`, key, value, metaSum(key, value))
	return err
}

func metaSum(key, value string) uint32 { return crc([]byte(key + "\x00" + value)) }

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func metaInt(ctx context.Context, q queryer, key string) (int64, error) {
	v, ok, err := getMeta(ctx, q, key)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, corruptf("meta %q is missing", key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, corruptf("meta %q is %q, not a count", key, v)
	}
	return n, nil
}

// queryer is what *sql.DB, *sql.Conn and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// dbErr wraps a database error: SQLite's own corruption reports become a CorruptError.
func dbErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var ce *CorruptError
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isSQLiteCorrupt(err) {
		return &CorruptError{File: dbName, What: fmt.Sprintf("%s: %v", what, err)}
	}
	return fmt.Errorf("kb: %s: %w", what, err)
}
