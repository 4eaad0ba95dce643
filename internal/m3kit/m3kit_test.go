package m3kit

import "testing"

func TestMaxAbs(t *testing.T) {
	r := &Ref{ID: "x", Dense: []float64{1, 0}, Sparse: map[string]float64{"5": 0.5}, ColBERT: [][]float64{{1, 2}}}
	d, s, c, err := r.MaxAbs([]float32{0.75, 0}, map[int32]float32{5: 0.5, 9: 0.25}, [][]float32{{1, 1.5}})
	if err != nil || d != 0.25 || s != 0.25 || c != 0.5 { // id 9 on one side only counts against 0
		t.Errorf("MaxAbs = %v %v %v %v", d, s, c, err)
	}
	if _, _, _, err := r.MaxAbs([]float32{1}, nil, [][]float32{{1, 2}}); err == nil {
		t.Error("a dense vector of the wrong length was compared")
	}
	if _, _, _, err := r.MaxAbs([]float32{1, 0}, nil, [][]float32{{1}}); err == nil {
		t.Error("a ColBERT vector of the wrong length was compared")
	}
}

// The kit is found from this package's folder, and its refs read.
func TestDirAndRefs(t *testing.T) {
	refs := Refs(t, Dir(t))
	if len(refs) != 301 || len(refs[1].Dense) != 32 {
		t.Errorf("%d refs, %d dense values", len(refs), len(refs[1].Dense))
	}
}
