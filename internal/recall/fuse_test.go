package recall

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestRRF(t *testing.T) {
	a := []Hit{{10, 0.9}, {20, 0.8}, {30, 0.7}}
	b := []Hit{{30, 5}, {40, 4}, {10, 3}, {30, 1}} // 30 twice: its best rank counts
	got := RRF([][]Hit{a, b}, 60, 0)
	// 10: 1/61 + 1/63; 30: 1/63 + 1/61; 20: 1/62; 40: 1/62 → ties broken by row.
	want := []Hit{
		{10, float32(1.0/61 + 1.0/63)},
		{30, float32(1.0/63 + 1.0/61)},
		{20, float32(1.0 / 62)},
		{40, float32(1.0 / 62)},
	}
	sameHits(t, "RRF", got, want)
	sameHits(t, "RRF n=2", RRF([][]Hit{a, b}, 60, 2), want[:2])
	sameHits(t, "RRF empty", RRF(nil, 60, 5), []Hit{})
	sameHits(t, "RRF k=0", RRF([][]Hit{a}, 0, 1), []Hit{{10, 1}})
}

// TestHybridOracle: Hybrid against brute force: the union of the two oracles' top depth,
// both scores of every row in it from the oracles, the weighted sum, sorted.
func TestHybridOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	ctx := context.Background()
	const n, dim, vocab = 3000, 32, 300
	for _, f := range formats {
		d, do := build(t, f, dim, n, unitVec, r)
		s, so := buildSparse(t, vocab, n, 12, false, r)
		for i := 0; i < n; i += 1 + r.IntN(9) {
			d.Delete(i)
			s.Delete(i)
			do.dead[i], so.dead[i] = true, true
		}
		keep := func(row int) bool { return row%5 != 0 }
		for _, w := range []Weights{PaperWeights, FlagEmbeddingWeights, {1, 0}, {0, 1}} {
			for _, depth := range []int{1, 10, 100} {
				qi, qv := sparseVec(r, vocab, 8, false)
				q := Query{Dense: unitVec(r, dim), Indices: qi, Values: qv}
				got, err := Hybrid(ctx, d, s, q, w, depth, 7, keep)
				if err != nil {
					t.Fatal(err)
				}
				// oracle
				rows := map[int]bool{}
				for _, h := range do.search(q.Dense, depth, keep) {
					rows[h.Row] = true
				}
				for _, h := range so.search(qi, qv, depth, keep) {
					rows[h.Row] = true
				}
				var want []Fused
				dsc := do.scores(q.Dense)
				for row := range rows {
					ds := dsc[row]
					ss, _ := so.score(qi, qv, row)
					sc := float32(float64(w.Dense)*float64(ds) + float64(w.Sparse)*float64(ss))
					want = append(want, Fused{Row: row, Score: sc, Dense: ds, Sparse: ss})
				}
				hits := make([]Hit, len(want))
				for i, f := range want {
					hits[i] = Hit{f.Row, f.Score}
				}
				sortHits(hits)
				hits = hits[:min(7, len(hits))]
				if len(got) != len(hits) {
					t.Fatalf("%s %v depth %d: %d results, want %d", f, w, depth, len(got), len(hits))
				}
				for i, g := range got {
					var wf Fused
					for _, x := range want {
						if x.Row == hits[i].Row {
							wf = x
						}
					}
					if g != wf {
						t.Fatalf("%s %v depth %d: result %d = %+v, want %+v", f, w, depth, i, g, wf)
					}
				}
			}
		}
	}
}

func TestHybridErrors(t *testing.T) {
	d, s := NewDense(F32, 3), NewSparse(10)
	d.Append([]float32{1, 0, 0})
	s.Add(0, []int32{1}, []float32{1})
	ctx := context.Background()
	if _, err := Hybrid(ctx, d, s, Query{Dense: []float32{1}}, PaperWeights, 5, 5, nil); !errors.Is(err, ErrDimension) {
		t.Errorf("short dense query: %v", err)
	}
	if _, err := Hybrid(ctx, d, s, Query{Dense: []float32{1, 0, 0}, Indices: []int32{11}, Values: []float32{1}}, PaperWeights, 5, 5, nil); !errors.Is(err, ErrSparse) {
		t.Errorf("bad sparse query: %v", err)
	}
	// A sparse row the dense index does not have.
	s.Add(7, []int32{1}, []float32{1})
	if _, err := Hybrid(ctx, d, s, Query{Dense: []float32{1, 0, 0}, Indices: []int32{1}, Values: []float32{1}}, PaperWeights, 5, 5, nil); !errors.Is(err, ErrRow) {
		t.Errorf("row 7 not in the dense index: %v", err)
	}
}
