package kb

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/gorerank/gorerank/internal/recall"
)

// The vector file (vectors.bin) holds the dense vectors, one fixed-size row per chunk in
// recall's row encoding, after a 64-byte header. Rows are only appended: a removed or
// replaced chunk's row stays until the file is rewritten, and the database says which rows
// are live (chunks.row) and how many are committed (meta rows). A writer writes its rows
// past the committed mark and syncs them before the transaction that commits them, so a
// crash leaves at most rows past the mark, which the next writer overwrites. Each row's
// CRC-32C is in the database (chunks.vsum) and is checked when the row is loaded.
const (
	vectorMagic      = "GRKBVEC1"
	vectorHeaderSize = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

type vectorFile struct {
	f        *os.File
	path     string
	format   recall.Format
	dim      int
	rowBytes int
}

func vectorHeader(format recall.Format, dim int) []byte {
	h := make([]byte, vectorHeaderSize)
	copy(h, vectorMagic)
	binary.LittleEndian.PutUint32(h[8:], uint32(format))
	binary.LittleEndian.PutUint32(h[12:], uint32(dim))
	binary.LittleEndian.PutUint32(h[16:], uint32(recall.RowBytes(format, dim)))
	binary.LittleEndian.PutUint32(h[60:], crc(h[:60]))
	return h
}

// createVectorFile writes a new, empty vector file and syncs it.
func createVectorFile(path string, format recall.Format, dim int) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(vectorHeader(format, dim)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openVectorFile opens a vector file and checks its header against what the database says.
func openVectorFile(path string, format recall.Format, dim int) (*vectorFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, corruptVecf(path, "the vector file %s is missing", path)
		}
		return nil, err
	}
	h := make([]byte, vectorHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		f.Close()
		return nil, corruptVecf(path, "the vector file %s has no header (%v)", path, err)
	}
	want := vectorHeader(format, dim)
	if string(h) != string(want) {
		f.Close()
		return nil, corruptVecf(path, "the vector file %s has a header that does not match the database (format %s, dim %d)", path, format, dim)
	}
	return &vectorFile{f: f, path: path, format: format, dim: dim, rowBytes: recall.RowBytes(format, dim)}, nil
}

func (v *vectorFile) offset(row int64) int64 { return vectorHeaderSize + row*int64(v.rowBytes) }

// rowsOnDisk is how many whole rows the file holds.
func (v *vectorFile) rowsOnDisk() (int64, error) {
	st, err := v.f.Stat()
	if err != nil {
		return 0, err
	}
	return (st.Size() - vectorHeaderSize) / int64(v.rowBytes), nil
}

// writeRows writes rows (whole encoded rows) from row first on and syncs the file.
func (v *vectorFile) writeRows(first int64, rows []byte) error {
	if len(rows)%v.rowBytes != 0 {
		return fmt.Errorf("kb: internal error: %d bytes is not whole vector rows", len(rows))
	}
	if _, err := v.f.WriteAt(rows, v.offset(first)); err != nil {
		return err
	}
	return v.f.Sync()
}

// readRows reads len(dst)/rowBytes rows from row first on.
func (v *vectorFile) readRows(dst []byte, first int64) error {
	n, err := v.f.ReadAt(dst, v.offset(first))
	if n == len(dst) {
		return nil
	}
	if err == io.EOF || err == nil {
		return corruptVecf(v.path, "the vector file %s is truncated: row %d is not there", v.path, first+int64(n/v.rowBytes))
	}
	return err
}

func (v *vectorFile) close() error { return v.f.Close() }

// rowWindow reads rows in ascending order a block at a time (one read for many rows, where
// loading the index would make a read per row).
type rowWindow struct {
	v      *vectorFile
	limit  int64 // rows past this are not read (the committed mark)
	first  int64 // the first row in buf
	n      int64 // rows in buf
	buf    []byte
	blockN int64
}

func (v *vectorFile) window(limit int64) *rowWindow {
	return &rowWindow{v: v, limit: limit, blockN: max(1, (1<<20)/int64(v.rowBytes))}
}

// row returns row r's bytes, valid until the next call.
func (w *rowWindow) row(r int64) ([]byte, error) {
	if r < w.first || r >= w.first+w.n {
		n := min(w.blockN, w.limit-r)
		if n <= 0 {
			return nil, corruptVecf(w.v.path, "row %d is past the %d committed", r, w.limit)
		}
		need := int(n) * w.v.rowBytes
		if cap(w.buf) < need {
			w.buf = make([]byte, need)
		}
		w.buf = w.buf[:need]
		if err := w.v.readRows(w.buf, r); err != nil {
			w.n = 0
			return nil, err
		}
		w.first, w.n = r, n
	}
	off := int(r-w.first) * w.v.rowBytes
	return w.buf[off : off+w.v.rowBytes], nil
}
