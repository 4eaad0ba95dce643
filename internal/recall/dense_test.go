package recall

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorerank/gorerank/tensor"
)

var formats = []Format{F32, F16, Int8}

// oracle is the brute-force reference of a Dense index: the vectors as appended, scored
// through their encoding (EncodeRow) by tensor's naive float64 kernels.
type oracle struct {
	f    Format
	dim  int
	vecs [][]float32
	dead map[int]bool
	// the encoded vectors' values, as the kernels below take them, for vecs[:done]
	mat  []float32 // F32, Int8: the decoded rows
	bits []uint16  // F16: the binary16 bits
	done int
}

func newOracle(f Format, dim int) *oracle {
	return &oracle{f: f, dim: dim, dead: map[int]bool{}}
}

// encode brings mat or bits up to date with vecs.
func (o *oracle) encode() {
	enc := make([]byte, RowBytes(o.f, o.dim))
	w := make([]float32, o.dim)
	for ; o.done < len(o.vecs); o.done++ {
		if err := EncodeRow(enc, o.vecs[o.done], o.f); err != nil {
			panic(err)
		}
		if o.f == F16 {
			for i := range o.dim {
				o.bits = append(o.bits, uint16(enc[2*i])|uint16(enc[2*i+1])<<8)
			}
			continue
		}
		if err := DecodeRow(w, enc, o.f); err != nil {
			panic(err)
		}
		o.mat = append(o.mat, w...)
	}
}

// scores are the exact scores of q with every row: tensor's naive oracles over the encoded rows.
func (o *oracle) scores(q []float32) []float32 {
	o.encode()
	n := len(o.vecs)
	dst := make([]float32, n)
	if o.f == F16 {
		tensor.MatMulNTF16Ref(dst, q, o.bits, 1, n, o.dim)
	} else {
		tensor.GemmNTRef(false, dst, n, q, o.dim, o.mat, o.dim, 1, n, o.dim)
	}
	return dst
}

func (o *oracle) search(q []float32, k int, keep func(int) bool) []Hit {
	all := []Hit{}
	for r, s := range o.scores(q) {
		if o.dead[r] || (keep != nil && !keep(r)) {
			continue
		}
		all = append(all, Hit{r, s})
	}
	slices.SortFunc(all, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return a.Row - b.Row
	})
	return all[:min(k, len(all))]
}

// Vector generators.
func unitVec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var ss float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		ss += float64(v[i]) * float64(v[i])
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

// intVec has small integer values: many rows score exactly alike (ties).
func intVec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.IntN(3) - 1)
	}
	return v
}

// nearTies are copies of one vector with one value moved by a few ulps: scores a float32
// kernel cannot order, only the exact score can.
func nearTies(base []float32) func(r *rand.Rand, dim int) []float32 {
	return func(r *rand.Rand, dim int) []float32 {
		v := slices.Clone(base)
		i := r.IntN(dim)
		for range r.IntN(4) {
			v[i] = math.Nextafter32(v[i], float32(r.IntN(2)*2-1))
		}
		return v
	}
}

type gen struct {
	name string
	vec  func(r *rand.Rand, dim int) []float32
}

func gens(r *rand.Rand, dim int) []gen {
	return []gen{
		{"unit", unitVec},
		{"int", intVec},
		{"neartie", nearTies(unitVec(r, dim))},
	}
}

func build(t testing.TB, f Format, dim, n int, vec func(*rand.Rand, int) []float32, r *rand.Rand) (*Dense, *oracle) {
	t.Helper()
	d, o := NewDense(f, dim), newOracle(f, dim)
	for i := range n {
		v := vec(r, dim)
		row, err := d.Append(v)
		if err != nil || row != i {
			t.Fatalf("Append %d: row %d, %v", i, row, err)
		}
		o.vecs = append(o.vecs, v)
	}
	return d, o
}

func sameHits(t *testing.T, what string, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: hit %d = %v, want %v\n got %v\nwant %v", what, i, got[i], want[i], got, want)
		}
	}
}

func TestDenseSearchOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	sizes := []int{0, 1, 5, 63, 64, 65, 200, 1023, 1024, 1025, 2600}
	dims := []int{1, 7, 64, 300}
	if testing.Short() {
		sizes, dims = []int{0, 1, 65, 1025}, []int{7, 64}
	}
	for _, f := range formats {
		for _, dim := range dims {
			for _, g := range gens(r, dim) {
				for _, n := range sizes {
					d, o := build(t, f, dim, n, g.vec, r)
					for range 3 {
						q := g.vec(r, dim)
						if g.name == "neartie" {
							q = unitVec(r, dim)
						}
						for _, k := range []int{1, 3, 10, 100, n + 5} {
							got, err := d.Search(ctx, q, k, nil)
							if err != nil {
								t.Fatal(err)
							}
							sameHits(t, fmt.Sprintf("%s dim %d %s n %d k %d", f, dim, g.name, n, k), got, o.search(q, k, nil))
						}
					}
					// Deletes and a filter.
					for i := 0; i < n; i += 1 + r.IntN(7) {
						if err := d.Delete(i); err != nil {
							t.Fatal(err)
						}
						o.dead[i] = true
					}
					if d.Live() != n-len(o.dead) {
						t.Fatalf("Live %d, want %d", d.Live(), n-len(o.dead))
					}
					keep := func(row int) bool { return row%3 != 1 }
					q := unitVec(r, dim)
					for _, k := range []int{1, 10, n} {
						got, err := d.Search(ctx, q, k, keep)
						if err != nil {
							t.Fatal(err)
						}
						sameHits(t, fmt.Sprintf("%s dim %d %s n %d k %d deletes+filter", f, dim, g.name, n, k), got, o.search(q, k, keep))
					}
				}
			}
		}
	}
}

// TestDenseInt8Widened: the Int8 path that widens rows to float32 (taken where tensor's int8
// kernel is not exact, see int8Exact) against the oracle.
func TestDenseInt8Widened(t *testing.T) {
	forceWiden = true
	defer func() { forceWiden = false }()
	r := rand.New(rand.NewPCG(61, 62))
	for _, dim := range []int{7, 300} {
		for _, g := range gens(r, dim) {
			for _, n := range []int{1, 700, 2100} {
				d, o := build(t, Int8, dim, n, g.vec, r)
				for i := 0; i < n; i += 1 + r.IntN(7) {
					d.Delete(i)
					o.dead[i] = true
				}
				q := unitVec(r, dim)
				for _, k := range []int{1, 10, 100} {
					got, err := d.Search(context.Background(), q, k, nil)
					if err != nil {
						t.Fatal(err)
					}
					sameHits(t, fmt.Sprintf("dim %d %s n %d k %d", dim, g.name, n, k), got, o.search(q, k, nil))
				}
			}
		}
	}
}

// TestDenseZeroQuery: every score is exactly 0; the k first live rows win the tie.
func TestDenseZeroQuery(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, f := range formats {
		d, o := build(t, f, 16, 3000, unitVec, r)
		d.Delete(1)
		o.dead[1] = true
		q := make([]float32, 16)
		got, err := d.Search(context.Background(), q, 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameHits(t, f.String(), got, o.search(q, 5, nil))
	}
}

// TestDenseInt8OutlierQuery: a query whose quantization is poor (one large value) widens the
// int8 bound; the result stays exact.
func TestDenseInt8OutlierQuery(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	d, o := build(t, Int8, 128, 5000, unitVec, r)
	q := unitVec(r, 128)
	q[7] = 50
	got, err := d.Search(context.Background(), q, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameHits(t, "outlier", got, o.search(q, 20, nil))
}

func TestDenseScoreRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, f := range formats {
		d, o := build(t, f, 33, 1500, unitVec, r)
		d.Delete(4)
		q := unitVec(r, 33)
		rows := []int{1499, 0, 4, 1024, 7, 7}
		dst := make([]float32, len(rows))
		if err := d.ScoreRows(q, rows, dst); err != nil {
			t.Fatal(err)
		}
		want := o.scores(q)
		for i, row := range rows {
			if dst[i] != want[row] {
				t.Errorf("%s: row %d: %v, want %v", f, row, dst[i], want[row])
			}
		}
		if err := d.ScoreRows(q, []int{1500}, dst); !errors.Is(err, ErrRow) {
			t.Errorf("%s: row 1500: %v, want ErrRow", f, err)
		}
		if err := d.ScoreRows(q[:5], rows, dst); !errors.Is(err, ErrDimension) {
			t.Errorf("%s: short query: %v, want ErrDimension", f, err)
		}
	}
}

func TestDenseErrors(t *testing.T) {
	ctx := context.Background()
	d := NewDense(F16, 4)
	if _, err := d.Append([]float32{1, 2, 3}); !errors.Is(err, ErrDimension) {
		t.Errorf("short vector: %v", err)
	}
	if _, err := d.Append([]float32{1, float32(math.NaN()), 3, 4}); !errors.Is(err, ErrNotFinite) {
		t.Errorf("NaN: %v", err)
	}
	if _, err := d.Append([]float32{1, 70000, 3, 4}); !errors.Is(err, ErrRange) {
		t.Errorf("f16 overflow: %v", err)
	}
	if d.Len() != 0 {
		t.Fatalf("failed appends added rows: Len %d", d.Len())
	}
	if row, err := d.Append([]float32{1, 2, 3, 4}); row != 0 || err != nil {
		t.Fatalf("Append: %d, %v", row, err)
	}
	if _, err := d.Search(ctx, []float32{1, 2}, 3, nil); !errors.Is(err, ErrDimension) {
		t.Errorf("short query: %v", err)
	}
	if _, err := d.Search(ctx, []float32{1, 2, float32(math.Inf(1)), 4}, 3, nil); !errors.Is(err, ErrNotFinite) {
		t.Errorf("Inf query: %v", err)
	}
	if err := d.Delete(1); !errors.Is(err, ErrRow) {
		t.Errorf("Delete(1): %v", err)
	}
	if err := d.Delete(-1); !errors.Is(err, ErrRow) {
		t.Errorf("Delete(-1): %v", err)
	}
	if h, err := d.Search(ctx, []float32{1, 0, 0, 0}, 0, nil); len(h) != 0 || err != nil {
		t.Errorf("k=0: %v, %v", h, err)
	}
	if err := d.Vector(make([]float32, 4), 1); !errors.Is(err, ErrRow) {
		t.Errorf("Vector(1): %v", err)
	}
}

func TestDenseAppendEncoded(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ctx := context.Background()
	for _, f := range formats {
		a, _ := build(t, f, 50, 300, unitVec, r)
		b := NewDense(f, 50)
		enc := make([]byte, RowBytes(f, 50))
		v := make([]float32, 50)
		for i := range a.Len() {
			a.Vector(v, i)
			// Re-encoding the stored values gives the same stored values (idempotent formats).
			if err := EncodeRow(enc, v, f); err != nil {
				t.Fatal(err)
			}
			if _, err := b.AppendEncoded(enc); err != nil {
				t.Fatal(err)
			}
		}
		q := unitVec(r, 50)
		ha, _ := a.Search(ctx, q, 30, nil)
		hb, _ := b.Search(ctx, q, 30, nil)
		sameHits(t, f.String()+" reloaded", hb, ha)
		if _, err := b.AppendEncoded(enc[1:]); !errors.Is(err, ErrDimension) {
			t.Errorf("%s short row: %v", f, err)
		}
	}
	b := NewDense(Int8, 2)
	var re *RowError
	if _, err := b.AppendEncoded([]byte{0, 0, 0x80, 0x3f, 1, 0x80}); !errors.As(err, &re) || re.Offset != 5 {
		t.Errorf("int8 -128: %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("a rejected row was added")
	}
}

// TestDenseCancel: a cancelled context stops the search, before it starts and between blocks.
func TestDenseCancel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	d, _ := build(t, F32, 8, 20*chunkRows, unitVec, r)
	q := unitVec(r, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Search(ctx, q, 5, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	var calls atomic.Int64
	keep := func(int) bool { calls.Add(1); cancel(); return true }
	if _, err := d.Search(ctx, q, 5, keep); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during: %v", err)
	}
	if c := calls.Load(); c > 4*chunkRows { // the blocks in flight when it was cancelled
		t.Errorf("keep called %d times after cancel", c)
	}
}

// TestDenseConcurrent: searches, appends and deletes at once (run with -race). Every result is
// checked against ScoreRows and the order.
func TestDenseConcurrent(t *testing.T) {
	for _, f := range formats {
		r := rand.New(rand.NewPCG(13, 14))
		d := NewDense(f, 24)
		vecs := make([][]float32, 6000)
		for i := range vecs {
			vecs[i] = unitVec(r, 24)
		}
		var wg sync.WaitGroup
		var stop atomic.Bool
		var searches atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stop.Store(true)
			for i, v := range vecs {
				if i%500 == 0 { // let the searches run while the index grows
					for s := searches.Load(); searches.Load() < s+3 && !t.Failed(); {
						runtime.Gosched()
					}
				}
				if _, err := d.Append(v); err != nil {
					t.Error(err)
					return
				}
				if i%17 == 0 {
					d.Delete(i / 2)
				}
			}
		}()
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rr := rand.New(rand.NewPCG(uint64(w), 15))
				for ; !stop.Load(); searches.Add(1) {
					q := unitVec(rr, 24)
					n0 := d.Len()
					hits, err := d.Search(context.Background(), q, 10, nil)
					if err != nil {
						t.Error(err)
						return
					}
					if len(hits) < min(10, n0-n0/17-1) {
						t.Errorf("%d hits of %d rows", len(hits), n0)
					}
					rows := make([]int, len(hits))
					for i, h := range hits {
						rows[i] = h.Row
						if i > 0 && !better(hits[i-1], h) {
							t.Errorf("out of order: %v", hits)
						}
					}
					sc := make([]float32, len(rows))
					if err := d.ScoreRows(q, rows, sc); err != nil {
						t.Error(err)
					}
					for i := range sc {
						if sc[i] != hits[i].Score {
							t.Errorf("row %d: search %v, ScoreRows %v", rows[i], hits[i].Score, sc[i])
						}
					}
					v := make([]float32, 24)
					if err := d.Vector(v, max(0, n0-1)); n0 > 0 && err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("%s: %d searches during 6000 appends", f, searches.Load())
		// At rest, the final index against the oracle.
		o := newOracle(f, 24)
		o.vecs = vecs
		for i := range vecs {
			if d.Deleted(i) {
				o.dead[i] = true
			}
		}
		q := unitVec(r, 24)
		got, _ := d.Search(context.Background(), q, 40, nil)
		sameHits(t, f.String()+" after", got, o.search(q, 40, nil))
	}
}

// TestDenseSearchAllocs: the allocations of a search do not grow with the index.
func TestDenseSearchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	r := rand.New(rand.NewPCG(16, 17))
	for _, f := range formats {
		small, _ := build(t, f, 64, 2*chunkRows, unitVec, r)
		large, _ := build(t, f, 64, 20*chunkRows, unitVec, r)
		q := unitVec(r, 64)
		ctx := context.Background()
		count := func(d *Dense) float64 {
			d.Search(ctx, q, 50, nil) // warm the pools
			return testing.AllocsPerRun(20, func() { d.Search(ctx, q, 50, nil) })
		}
		a, b := count(small), count(large)
		if b > a || b > 4 {
			t.Errorf("%s: %v allocations per search at 2k rows, %v at 20k", f, a, b)
		}
	}
}

// TestChunkGrowth: rows keep their values as the first chunk doubles and chunks are added.
func TestChunkGrowth(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 19))
	for _, f := range formats {
		d, o := build(t, f, 5, 3*chunkRows+7, unitVec, r)
		for _, row := range []int{0, 3, 63, 64, 100, 511, 1023} {
			d.Delete(row)
			o.dead[row] = true
		}
		// more rows after the deletes: the grown copies keep the tombstones
		for range 10 {
			v := unitVec(r, 5)
			d.Append(v)
			o.vecs = append(o.vecs, v)
		}
		got, want := make([]float32, 5), make([]float32, 5)
		enc := make([]byte, RowBytes(f, 5))
		for row := range o.vecs {
			d.Vector(got, row)
			EncodeRow(enc, o.vecs[row], f)
			DecodeRow(want, enc, f)
			if !slices.Equal(got, want) {
				t.Fatalf("%s row %d: %v, want %v", f, row, got, want)
			}
			if d.Deleted(row) != o.dead[row] {
				t.Fatalf("%s row %d: Deleted %v", f, row, d.Deleted(row))
			}
		}
	}
}

// TestHugeK: k far beyond the index is cut to its size (the heaps are allocated for k).
func TestHugeK(t *testing.T) {
	ctx := context.Background()
	d := NewDense(F32, 2)
	d.Append([]float32{1, 0})
	d.Append([]float32{0, 1})
	h, err := d.Search(ctx, []float32{1, 2}, math.MaxInt, nil)
	sameHits(t, "dense", h, []Hit{{1, 2}, {0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSparse(3)
	s.Add(4, []int32{1}, []float32{1})
	h, err = s.Search(ctx, []int32{1}, []float32{2}, math.MaxInt, nil)
	sameHits(t, "sparse", h, []Hit{{4, 2}})
	if err != nil {
		t.Fatal(err)
	}
}
