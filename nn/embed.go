package nn

import (
	"github.com/gorerank/gorerank/tensor"
	"github.com/x448/float16"
)

// Gather copies rows of an embedding table: dst (len(ids),dim) row i = table (·,dim) row ids[i].
// An id outside the table is a programmer bug (validate ids first) and panics.
func Gather(dst, table []float32, ids []int32, dim int) {
	checkLen("Gather", len(ids)*dim, dst)
	rows := len(table) / dim
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic("nn: Gather: id outside the table")
		}
		copy(dst[i*dim:(i+1)*dim], table[int(id)*dim:(int(id)+1)*dim])
	}
}

// GatherHalf is Gather for a table of F16 or BF16 bits (p is F16, or BF16 / BF16Compute):
// each gathered value is widened to float32 exactly.
func GatherHalf(dst []float32, table []uint16, ids []int32, dim int, p Precision) {
	checkLen("GatherHalf", len(ids)*dim, dst)
	rows := len(table) / dim
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic("nn: GatherHalf: id outside the table")
		}
		d, src := dst[i*dim:(i+1)*dim], table[int(id)*dim:(int(id)+1)*dim]
		if p == F16 {
			for j, b := range src {
				d[j] = float16.Frombits(b).Float32()
			}
		} else {
			for j, b := range src {
				d[j] = tensor.BF16ToFloat32(b)
			}
		}
	}
}

// Add computes dst (n) += x elementwise, n = len(dst).
func Add(dst, x []float32) {
	checkLen("Add", len(dst), x)
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += v
	}
}

// AddRow computes dst (rows,n) += row (n), broadcasting row over every row of dst.
func AddRow(dst, row []float32, rows, n int) {
	checkLen("AddRow", rows*n, dst)
	checkLen("AddRow", n, row)
	row = row[:n]
	for r := 0; r < rows; r++ {
		d := dst[r*n : (r+1)*n]
		for i, v := range row {
			d[i] += v
		}
	}
}
