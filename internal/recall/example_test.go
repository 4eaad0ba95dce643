package recall_test

import (
	"context"
	"fmt"

	"github.com/gorerank/gorerank/internal/recall"
)

// Three chunks with dense vectors (dimension 3 here; bge-m3's is 1024) and sparse lexical
// weights, searched densely, lexically, and by bge-m3's weighted hybrid and by RRF.
func Example() {
	ctx := context.Background()
	dense := recall.NewDense(recall.F16, 3)
	sparse := recall.NewSparse(recall.M3Vocab)
	chunks := []struct {
		vec  []float32
		ids  []int32
		vals []float32
	}{
		{[]float32{1, 0, 0}, []int32{6, 1176}, []float32{0.2, 0.3}},
		{[]float32{0.6, 0.8, 0}, []int32{1176}, []float32{0.1}},
		{[]float32{0, 0.6, 0.8}, []int32{6, 99}, []float32{0.5, 0.4}},
	}
	for _, c := range chunks {
		row, _ := dense.Append(c.vec)
		sparse.Add(row, c.ids, c.vals)
	}
	dense.Delete(1)

	q := recall.Query{Dense: []float32{0.8, 0.6, 0}, Indices: []int32{6}, Values: []float32{0.5}}
	dh, _ := dense.Search(ctx, q.Dense, 10, nil)
	sh, _ := sparse.Search(ctx, q.Indices, q.Values, 10, nil)
	fmt.Println("dense: ", dh) // row 1 is deleted from the dense index only; 0.6 is 0.6000977 in F16
	fmt.Println("sparse:", sh)

	fused, _ := recall.Hybrid(ctx, dense, sparse, q, recall.PaperWeights, 10, 2, nil)
	for _, f := range fused {
		fmt.Printf("hybrid: row %d score %.4f = 1·%.4f + 0.3·%.4f\n", f.Row, f.Score, f.Dense, f.Sparse)
	}
	fmt.Println("rrf:   ", recall.RRF([][]recall.Hit{dh, sh}, 60, 2))

	// The stored form of a row (what the knowledge base writes to disk).
	enc := make([]byte, recall.RowBytes(recall.Int8, 3))
	recall.EncodeRow(enc, []float32{0.5, -1, 0.25}, recall.Int8)
	fmt.Printf("int8 row: % x\n", enc)
	// Output:
	// dense:  [{0 0.8} {2 0.3600586}]
	// sparse: [{2 0.25} {0 0.1}]
	// hybrid: row 0 score 0.8300 = 1·0.8000 + 0.3·0.1000
	// hybrid: row 2 score 0.4351 = 1·0.3601 + 0.3·0.2500
	// rrf:    [{0 0.032522473} {2 0.032522473}]
	// int8 row: 04 02 01 3c 40 81 20
}
