package recall

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gorerank/gorerank/tensor"
)

// Storage: rows live in chunks of chunkRows rows that never move once full, so a search reads
// them without a lock while rows are appended (see Dense). The last chunk starts at
// firstChunkRows and doubles (a copy) until it is full, so that a small index stays small.
const (
	chunkRows      = 1024
	firstChunkRows = 64
)

// Dense is an exact dense-vector index: rows in one Format, scored by dot product with a query
// (see the package documentation for the exact score and the search).
//
// Locking: writers (Append, AppendEncoded, Delete) are serialised by a mutex; readers (Search,
// ScoreRows, Vector, Len, Live, Deleted) take no lock and never wait for a writer. A reader
// sees every row whose Append returned before the reader started, and perhaps later ones; a
// Delete that overlaps a Search may or may not hide its row from that search. All methods are
// safe for concurrent use.
type Dense struct {
	format   Format
	dim      int
	kernRows int // rows per kernel call (see NewDense)

	mu     sync.Mutex               // serialises writers
	chunks atomic.Pointer[[]*chunk] // copy on write; rows [c·chunkRows, (c+1)·chunkRows) in chunk c
	n      atomic.Int64             // rows appended: rows < n are complete and never change
	ndead  atomic.Int64             // tombstones set
}

// chunk holds up to cap rows (cap = len(norm)). Only the storage of the Dense's format is
// allocated.
type chunk struct {
	f32   []float32       // (cap, dim) F32 rows
	f16   []uint16        // (cap, dim) F16 bits
	q     []int8          // (cap, dim) Int8 values
	scale []float32       // (cap) Int8 scales
	comp  []int32         // (cap) Int8: 128·Σ q, what tensor's VNNI kernels subtract
	norm  []float32       // (cap) an upper bound of each stored row's L2 norm (see bound)
	dead  []atomic.Uint64 // (cap/64) tombstones
}

// NewDense returns an empty index of rows of dim values stored in format f. An invalid format,
// dim < 1, or dim > tensor.Int8MaxK for Int8 are programmer bugs and panic.
func NewDense(f Format, dim int) *Dense {
	if !f.valid() {
		panic("recall: NewDense: invalid format " + f.String())
	}
	if dim < 1 || (f == Int8 && dim > tensor.Int8MaxK) {
		panic(fmt.Sprintf("recall: NewDense: dimension %d out of range", dim))
	}
	// Rows per kernel call: tensor runs a product on the calling goroutine alone below 4 MFLOP
	// (float32 and half: 2·rows·dim) and below rows·dim = 2²⁰ (int8). Search runs one call
	// per worker, on every core already, so it keeps each call under those sizes: the kernels
	// then never recruit helpers of their own. (Were tensor's thresholds to change, only the
	// speed would, not the results.)
	limit := 1 << 21 // float32, F16: rows·dim < 2²¹
	if f == Int8 {
		limit = 1 << 20
	}
	kr := chunkRows
	for kr > 4 && kr*dim >= limit {
		kr /= 2
	}
	d := &Dense{format: f, dim: dim, kernRows: kr}
	d.chunks.Store(new([]*chunk))
	return d
}

// Format is the storage format of the rows.
func (d *Dense) Format() Format { return d.format }

// Dim is the number of values of each row.
func (d *Dense) Dim() int { return d.dim }

// Len is the number of rows appended, deleted ones included: the next Append gets row Len().
func (d *Dense) Len() int { return int(d.n.Load()) }

// Live is the number of rows appended and not deleted.
func (d *Dense) Live() int { return int(d.n.Load() - d.ndead.Load()) }

func (d *Dense) newChunk(rows int) *chunk {
	c := &chunk{norm: make([]float32, rows), dead: make([]atomic.Uint64, rows/64)}
	switch d.format {
	case F32:
		c.f32 = make([]float32, rows*d.dim)
	case F16:
		c.f16 = make([]uint16, rows*d.dim)
	case Int8:
		c.q = make([]int8, rows*d.dim)
		c.scale = make([]float32, rows)
		c.comp = make([]int32, rows)
	}
	return c
}

// slot returns the chunk that row n goes into, and its offset there, adding or growing the
// last chunk as needed (with d.mu held). A new or grown chunk is published before the caller
// writes the row and publishes n, so a reader that sees the row also sees its chunk.
func (d *Dense) slot() (*chunk, int, int) {
	row := int(d.n.Load())
	ci, off := row/chunkRows, row%chunkRows
	list := *d.chunks.Load()
	switch {
	case ci == len(list):
		c := d.newChunk(chunkRows)
		if ci == 0 {
			c = d.newChunk(firstChunkRows)
		}
		d.publish(append(list[:len(list):len(list)], c))
	case off == len(list[ci].norm):
		old := list[ci]
		c := d.newChunk(min(chunkRows, 2*off))
		copy(c.f32, old.f32)
		copy(c.f16, old.f16)
		copy(c.q, old.q)
		copy(c.scale, old.scale)
		copy(c.comp, old.comp)
		copy(c.norm, old.norm)
		for i := range old.dead { // Delete holds d.mu too: no bit is set meanwhile
			c.dead[i].Store(old.dead[i].Load())
		}
		nl := append([]*chunk(nil), list...)
		nl[ci] = c
		d.publish(nl)
	}
	list = *d.chunks.Load()
	return list[ci], off, row
}

func (d *Dense) publish(list []*chunk) { d.chunks.Store(&list) }

// snapshot is what a reader works on: n rows, in chunks. Loading n first, then the chunk list
// (published before n), gives a list that holds every row < n.
func (d *Dense) snapshot() (int, []*chunk) {
	n := int(d.n.Load())
	return n, *d.chunks.Load()
}

// Append adds a row and returns its number (the rows are numbered 0, 1, 2, … in the order
// they are appended). vec (Dim values) is stored in the index's format, as EncodeRow would
// encode it. It fails with ErrDimension, ErrNotFinite or ErrRange (as EncodeRow), and then adds
// nothing.
// Append allocates only when it starts or grows a chunk (every 1024 rows).
func (d *Dense) Append(vec []float32) (int, error) {
	if len(vec) != d.dim {
		return -1, fmt.Errorf("recall: Append: %d values, the index has dimension %d: %w", len(vec), d.dim, ErrDimension)
	}
	if err := checkFinite(vec); err != nil {
		return -1, fmt.Errorf("recall: Append: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, off, row := d.slot()
	lo, hi := off*d.dim, (off+1)*d.dim
	switch d.format {
	case F32:
		copy(c.f32[lo:hi], vec)
	case F16:
		dst := c.f16[lo:hi]
		for i, v := range vec {
			h, err := toHalf(v, i)
			if err != nil {
				return -1, fmt.Errorf("recall: Append: %w", err)
			}
			dst[i] = h
		}
	case Int8:
		tensor.QuantizeInt8(c.q[lo:hi], c.scale[off:off+1], vec, 1, d.dim)
		if err := checkScale(c.scale[off]); err != nil {
			return -1, fmt.Errorf("recall: Append: %w", err)
		}
	}
	d.finish(c, off)
	d.n.Store(int64(row + 1))
	return row, nil
}

// AppendEncoded adds a row from its encoding (EncodeRow, in the index's format: RowBytes bytes)
// and returns its number. It stores exactly the encoded values, so an index reloaded from
// stored rows scores exactly as the one they were written from. A wrong length is ErrDimension;
// bytes that EncodeRow cannot have written are a *RowError; either way nothing is added.
func (d *Dense) AppendEncoded(src []byte) (int, error) {
	if want := RowBytes(d.format, d.dim); len(src) != want {
		return -1, fmt.Errorf("recall: AppendEncoded: %d bytes, a %s row of %d values is %d: %w", len(src), d.format, d.dim, want, ErrDimension)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, off, row := d.slot()
	lo, hi := off*d.dim, (off+1)*d.dim
	switch d.format {
	case F32:
		dst := c.f32[lo:hi]
		for i := range dst {
			v := math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			if !finite(v) {
				return -1, &RowError{F32, 4 * i, "value not finite"}
			}
			dst[i] = v
		}
	case F16:
		dst := c.f16[lo:hi]
		for i := range dst {
			h := binary.LittleEndian.Uint16(src[2*i:])
			if h&0x7c00 == 0x7c00 {
				return -1, &RowError{F16, 2 * i, "value not finite"}
			}
			dst[i] = h
		}
	case Int8:
		s, err := decodeScale(src)
		if err != nil {
			return -1, err
		}
		for i, b := range src[4:] {
			if b == 0x80 {
				return -1, &RowError{Int8, 4 + i, "value -128"}
			}
		}
		copy(c.q[lo:hi], int8s(src[4:]))
		c.scale[off] = s
	}
	d.finish(c, off)
	d.n.Store(int64(row + 1))
	return row, nil
}

// finish computes the per-row terms of a row just written: its norm bound and, for Int8, the
// compensation term of tensor's int8 kernels.
func (d *Dense) finish(c *chunk, off int) {
	lo, hi := off*d.dim, (off+1)*d.dim
	var ss float64
	switch d.format {
	case F32:
		for _, v := range c.f32[lo:hi] {
			ss += float64(v) * float64(v)
		}
	case F16:
		for _, h := range c.f16[lo:hi] {
			v := float64(halfToFloat(h))
			ss += v * v
		}
	case Int8:
		s := c.scale[off]
		var sum int32
		for _, q := range c.q[lo:hi] {
			v := float64(float32(s * float32(q)))
			ss += v * v
			sum += int32(q)
		}
		c.comp[off] = 128 * sum
	}
	c.norm[off] = normUp(ss)
}

// normUp is a float32 at least √ss: the norm bound kept per row.
func normUp(ss float64) float32 {
	r := math.Sqrt(ss) * (1 + 0x1p-40)
	f := float32(r)
	if float64(f) < r {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// Delete marks row deleted (a tombstone): searches skip it from then on. Its storage stays
// (the index is append-only; the KB rebuilds to reclaim it). Deleting a deleted row does
// nothing; a row outside [0, Len()) is ErrRow.
func (d *Dense) Delete(row int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, list := d.snapshot()
	if row < 0 || row >= n {
		return fmt.Errorf("recall: Delete: row %d of %d: %w", row, n, ErrRow)
	}
	c, off := list[row/chunkRows], row%chunkRows
	w, bit := &c.dead[off/64], uint64(1)<<(off%64)
	if w.Load()&bit == 0 {
		w.Or(bit)
		d.ndead.Add(1)
	}
	return nil
}

// Deleted says whether row has been deleted (false outside [0, Len())).
func (d *Dense) Deleted(row int) bool {
	n, list := d.snapshot()
	if row < 0 || row >= n {
		return false
	}
	return list[row/chunkRows].isDead(row % chunkRows)
}

func (c *chunk) isDead(off int) bool { return c.dead[off/64].Load()&(1<<(off%64)) != 0 }

// Vector writes the stored values of row (deleted or not) into dst (Dim values): what the
// index scores, the decoded form of the row's encoding. A row outside [0, Len()) is ErrRow;
// a dst of another length panics.
func (d *Dense) Vector(dst []float32, row int) error {
	if len(dst) != d.dim {
		panic(fmt.Sprintf("recall: Vector: dst has %d values, the index has dimension %d", len(dst), d.dim))
	}
	n, list := d.snapshot()
	if row < 0 || row >= n {
		return fmt.Errorf("recall: Vector: row %d of %d: %w", row, n, ErrRow)
	}
	d.decode(dst, list[row/chunkRows], row%chunkRows)
	return nil
}

// decode writes the stored values of row off of c into dst (Dim values).
func (d *Dense) decode(dst []float32, c *chunk, off int) {
	lo, hi := off*d.dim, (off+1)*d.dim
	switch d.format {
	case F32:
		copy(dst, c.f32[lo:hi])
	case F16:
		for i, h := range c.f16[lo:hi] {
			dst[i] = halfToFloat(h)
		}
	case Int8:
		s := c.scale[off]
		for i, q := range c.q[lo:hi] {
			dst[i] = float32(s * float32(q))
		}
	}
}

// ScoreRows writes the exact score of query with each of rows into dst (len(dst) ≥ len(rows),
// else it panics): the score Search gives, for any row in [0, Len()), deleted or not. It is
// how a fusion scores candidates that another list found. A row out of range is ErrRow.
// No allocation.
func (d *Dense) ScoreRows(query []float32, rows []int, dst []float32) error {
	if len(dst) < len(rows) {
		panic("recall: ScoreRows: dst shorter than rows")
	}
	if err := d.checkQuery("ScoreRows", query); err != nil {
		return err
	}
	n, list := d.snapshot()
	for i, r := range rows {
		if r < 0 || r >= n {
			return fmt.Errorf("recall: ScoreRows: row %d of %d: %w", r, n, ErrRow)
		}
		dst[i] = d.exact(query, list[r/chunkRows], r%chunkRows)
	}
	return nil
}

func (d *Dense) checkQuery(op string, q []float32) error {
	if len(q) != d.dim {
		return fmt.Errorf("recall: %s: query of %d values, the index has dimension %d: %w", op, len(q), d.dim, ErrDimension)
	}
	if err := checkFinite(q); err != nil {
		return fmt.Errorf("recall: %s: query: %w", op, err)
	}
	return nil
}

// exact is the score of q with row off of c: the float64 sum, in index order, of the products
// of q's values with the row's decoded values, rounded to float32. Every product of two float32
// is exact in float64, so only the sum rounds; tensor's naive oracles (GemmNTRef,
// MatMulNTF16Ref) compute the same number.
func (d *Dense) exact(q []float32, c *chunk, off int) float32 {
	lo, hi := off*d.dim, (off+1)*d.dim
	var s float64
	switch d.format {
	case F32:
		w := c.f32[lo:hi]
		for i, x := range q[:len(w)] {
			s += float64(x) * float64(w[i])
		}
	case F16:
		w := c.f16[lo:hi]
		for i, x := range q[:len(w)] {
			s += float64(x) * float64(halfToFloat(w[i]))
		}
	case Int8:
		w, sc := c.q[lo:hi], c.scale[off]
		for i, x := range q[:len(w)] {
			s += float64(x) * float64(float32(sc*float32(w[i])))
		}
	}
	return float32(s)
}
