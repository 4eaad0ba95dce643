package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// TensorInfo describes a tensor to be written before its data exists (see NewWriter).
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
}

// Writer streams a safetensors file: NewWriter writes the header for a fixed list of
// tensors, then the caller writes their data, in that order, through Write; Close checks
// that exactly the announced number of bytes arrived. Nothing is buffered beyond what the
// underlying writer buffers, so files larger than memory can be produced.
type Writer struct {
	w         io.Writer
	remaining int64 // data bytes still expected
}

// DataAlign is the alignment, in the file and so in a memory map of it, of the data region
// the writers here produce, and of every tensor Write lays out whose size is a multiple of it:
// a kernel's 64-byte vector loads from a weight in place then never straddle cache lines.
const DataAlign = 64

// NewWriter validates infos, writes the header (metadata first, then the tensors in the
// given order, padded with spaces so that the data starts at a multiple of DataAlign bytes)
// and returns a Writer for the data. Names must be unique and non-empty, dtypes known, dims
// non-negative.
func NewWriter(w io.Writer, infos []TensorInfo, metadata map[string]string) (*Writer, error) {
	hdr, total, err := encodeHeader(infos, metadata)
	if err != nil {
		return nil, err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return nil, fmt.Errorf("weights: write header: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("weights: write header: %w", err)
	}
	return &Writer{w: w, remaining: total}, nil
}

// Write writes tensor data; it refuses bytes beyond the announced total.
func (sw *Writer) Write(p []byte) (int, error) {
	if int64(len(p)) > sw.remaining {
		return 0, fmt.Errorf("weights: %d data bytes written beyond the header's total", int64(len(p))-sw.remaining)
	}
	n, err := sw.w.Write(p)
	sw.remaining -= int64(n)
	if err != nil {
		return n, fmt.Errorf("weights: write data: %w", err)
	}
	return n, nil
}

// Remaining is the number of data bytes still expected.
func (sw *Writer) Remaining() int64 { return sw.remaining }

// Close reports an error when fewer data bytes were written than the header announced.
// It does not close the underlying writer.
func (sw *Writer) Close() error {
	if sw.remaining != 0 {
		return fmt.Errorf("weights: %d data bytes missing at close", sw.remaining)
	}
	return nil
}

// encodeHeader builds the padded JSON header and returns it with the data region size.
func encodeHeader(infos []TensorInfo, metadata map[string]string) ([]byte, int64, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		sep()
		b.WriteString(`"__metadata__":{`)
		for i, k := range slices.Sorted(mapsKeys(metadata)) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	seen := make(map[string]bool, len(infos))
	var off int64
	for _, t := range infos {
		switch {
		case t.Name == "" || t.Name == "__metadata__":
			return nil, 0, fmt.Errorf("weights: write: invalid tensor name %q", t.Name)
		case seen[t.Name]:
			return nil, 0, fmt.Errorf("weights: write: duplicate tensor name %q", t.Name)
		case dtypeBits[t.DType] == 0:
			return nil, 0, fmt.Errorf("weights: write: tensor %q: %w %q", t.Name, ErrDType, t.DType)
		}
		seen[t.Name] = true
		size, ok := byteLen(t.DType, t.Shape)
		if !ok {
			return nil, 0, fmt.Errorf("weights: write: tensor %q: invalid shape %v for %s", t.Name, t.Shape, t.DType)
		}
		sep()
		writeJSONString(&b, t.Name)
		b.WriteString(`:{"dtype":`)
		writeJSONString(&b, string(t.DType))
		b.WriteString(`,"shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(off, 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(off+size, 10))
		b.WriteString("]}")
		off += size
	}
	b.WriteByte('}')
	for (8+b.Len())%DataAlign != 0 { // the 8-byte length prefix comes first
		b.WriteByte(' ')
	}
	return b.Bytes(), off, nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// writeJSONString writes s as a JSON string (no HTML escaping).
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)           // cannot fail for a string
	b.Truncate(b.Len() - 1) // Encode appends '\n'
}

// Write writes tensors and metadata as a safetensors stream. Each tensor's Data must hold
// exactly Shape × dtype size bytes. The tensors whose size is a multiple of DataAlign come
// first, in the given order, then the others: every one of the former starts DataAlign-aligned
// (safetensors has no padding between tensors, and readers find tensors by name).
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	var aligned, rest []Tensor
	for _, t := range tensors {
		if len(t.Data)%DataAlign == 0 {
			aligned = append(aligned, t)
		} else {
			rest = append(rest, t)
		}
	}
	tensors = append(aligned, rest...)
	infos := make([]TensorInfo, len(tensors))
	for i, t := range tensors {
		infos[i] = TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape}
		if size, ok := byteLen(t.DType, t.Shape); ok && size != int64(len(t.Data)) {
			return fmt.Errorf("weights: write: tensor %q: %d data bytes, shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, size)
		}
	}
	sw, err := NewWriter(w, infos, metadata)
	if err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := sw.Write(t.Data); err != nil {
			return err
		}
	}
	return sw.Close()
}

// WriteFile is Write to a new file at path. The file is written under a temporary name in
// the same directory and renamed into place, so a failed write leaves no partial file.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return CreateFile(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}

// CreateFile runs fill on a buffered writer over a temporary file next to path and renames
// it to path when fill succeeds; on any error the temporary file is removed.
func CreateFile(path string, fill func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}
