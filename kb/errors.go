package kb

import (
	"errors"
	"fmt"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrNotKB: the folder holds no knowledge base (no kb.db).
	ErrNotKB = errors.New("kb: not a knowledge base (no kb.db; create one with kb init)")
	// ErrExists: Create was given a folder that already holds a knowledge base.
	ErrExists = errors.New("kb: a knowledge base already exists there")
	// ErrNoEmbedder: adding and searching need the knowledge base's embedder (Options.Embedder).
	ErrNoEmbedder = errors.New("kb: no embedder given: adding and searching need the one the knowledge base was built with")
	// ErrNotFound: no document has that id.
	ErrNotFound = errors.New("kb: no such document")
	// ErrEmptyQuery: the query is empty or blank.
	ErrEmptyQuery = errors.New("kb: the query is empty or blank")
	// ErrOptions: search options out of their range or unknown (top_k, top_n, mode, fusion,
	// weights, filter).
	ErrOptions = errors.New("kb: invalid search options")
)

// CorruptError reports a knowledge base whose files do not hold what its database commits to:
// a truncated or bit-flipped vector file, a chunk whose checksum does not match, SQLite's own
// corruption reports. Nothing corrupt is ever served: the call that meets it fails with this.
// Check reads everything and returns the first one; a knowledge base that has one is rebuilt
// from its source documents (kb init a new folder, kb add them), or restored from a copy.
type CorruptError struct {
	// File is the damaged file's name in the knowledge base's folder: kb.db (the database:
	// configuration, documents, chunks, sparse weights) or the vector file (vectors.bin).
	File string
	What string
}

func (e *CorruptError) Error() string {
	if e.File == "" {
		return "kb: corrupt knowledge base: " + e.What
	}
	return "kb: corrupt knowledge base: " + e.File + ": " + e.What
}

// corruptf is a CorruptError of the database, kb.db.
func corruptf(format string, a ...any) error {
	return &CorruptError{File: dbName, What: fmt.Sprintf(format, a...)}
}

// corruptVecf is a CorruptError of the vector file at path.
func corruptVecf(path, format string, a ...any) error {
	return &CorruptError{File: filepath.Base(path), What: fmt.Sprintf(format, a...)}
}

// EmbedderError: the embedder given is not the one the knowledge base was built with.
type EmbedderError struct {
	Built string // the embedder recorded at kb init
	Why   string // how the given one differs
}

func (e *EmbedderError) Error() string {
	return fmt.Sprintf("kb: the embedder given is not the one this knowledge base was built with (%s): %s; its vectors would not be comparable: use that embedder or build a new knowledge base",
		e.Built, e.Why)
}

// DocError is why one document was not added: it is reported per document, the others go on.
type DocError struct {
	ID  string
	Err error
}

func (e *DocError) Error() string { return fmt.Sprintf("document %q: %v", e.ID, e.Err) }
func (e *DocError) Unwrap() error { return e.Err }

// isSQLiteCorrupt says whether err is SQLite's report of a malformed database file.
func isSQLiteCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}
