package recall

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gorerank/gorerank/tensor"
)

// TestBound checks the assumption the exact search rests on, on the CPU tier in use: for every
// row, the kernel's approximate score ã and the exact score e satisfy
// |ã − e| ≤ norm·c + 8u·|ã| + a (see denseJob.prepare). Were tensor's kernels to change their
// accuracy (say, an int8 tier that no longer multiplies the int8 values exactly), this test,
// not a silently wrong top k, is what fails. Data: unit vectors, vectors with large values
// that cancel, outlier queries, tiny and huge magnitudes.
func TestBound(t *testing.T) {
	t.Logf("tier %s; int8 kernel exact: %v", tensor.Tier(), int8Exact())
	testBound(t)
	if int8Exact() {
		forceWiden = true
		defer func() { forceWiden = false }()
		t.Logf("Int8 widened to float32")
		testBound(t)
	}
}

func testBound(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	const u8 = 8 * 0x1p-24
	for _, f := range formats {
		for _, dim := range []int{3, 64, 1024} {
			for _, kind := range []string{"unit", "cancel", "outlier", "tiny", "big"} {
				vec := func() []float32 {
					v := unitVec(r, dim)
					switch kind {
					case "cancel": // large terms that cancel: |e| ≪ Σ|xᵢwᵢ|
						for i := range v {
							v[i] = float32(r.IntN(2)*2-1) * (1 + float32(r.Float64())*1e-3)
						}
					case "tiny":
						for i := range v {
							v[i] *= 1e-19
						}
					case "big":
						for i := range v {
							v[i] *= 1e4
						}
					}
					return v
				}
				d := NewDense(f, dim)
				for range 300 {
					d.Append(vec())
				}
				for range 5 {
					q := vec()
					if kind == "outlier" {
						q[r.IntN(dim)] = 30
					}
					j := &denseJob{d: d, query: q, ctx: context.Background()}
					j.n, j.chunks = d.snapshot()
					j.prepare()
					s := &denseSlot{scores: make([]float32, d.kernRows)}
					c := j.chunks[0]
					for b := 0; b < j.n; b += d.kernRows {
						m := min(d.kernRows, j.n-b)
						ap := j.approx(s, c, b, m)
						for i, a := range ap {
							e := float64(d.exact(q, c, b+i))
							af := float64(a)
							bound := float64(c.norm[b+i])*j.c + u8*math.Abs(af) + j.a
							if !(math.Abs(af-e) <= bound) {
								t.Fatalf("%s dim %d %s row %d: approx %v exact %v: |Δ| %.3g > bound %.3g", f, dim, kind, b+i, a, e, math.Abs(af-e), bound)
							}
						}
					}
				}
			}
		}
	}
}

// TestInt8KernelExact: where the probe (int8Exact) says so, GemmInt8NT returns
// float32(Σ qa·q)·(sa·s) with the integer sum exact on any shape, as the Int8 bound assumes.
func TestInt8KernelExact(t *testing.T) {
	if !int8Exact() {
		t.Skipf("the int8 kernel of tier %s is not exact: Int8 searches widen rows to float32", tensor.Tier())
	}
	r := rand.New(rand.NewPCG(53, 54))
	for _, k := range []int{1, 5, 64, 1000, 1024} {
		const n = 37
		qa, q := make([]int8, k), make([]int8, n*k)
		for i := range qa {
			qa[i] = int8(r.IntN(255) - 127)
		}
		for i := range q {
			q[i] = int8(r.IntN(255) - 127)
		}
		scale := make([]float32, n)
		for i := range scale {
			scale[i] = float32(r.Float64())
		}
		sa := []float32{0.01}
		got := make([]float32, n)
		tensor.GemmInt8NT(got, qa, sa, tensor.NewInt8Weights(q, scale, n, k), nil, 1)
		for j := range n {
			var acc int64
			for p := range k {
				acc += int64(qa[p]) * int64(q[j*k+p])
			}
			if want := float32(acc) * (sa[0] * scale[j]); got[j] != want {
				t.Fatalf("k %d row %d: %v, want %v", k, j, got[j], want)
			}
		}
	}
}
