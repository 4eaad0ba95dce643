//go:build !amd64 || !gc || purego

package nn

// useVec is false: there are no vector row kernels on this platform or build.
var useVec = false

func geluBiasRow(d, x, b []float32)            { geluBiasRowGo(d, x, b) }
func expSubSum(x []float32, m float32) float32 { return expSubSumGo(x, m) }
func scaleMax(x []float32, s float32) float32  { return scaleMaxGo(x, s) }

func add(d, x, y []float32)                           { addGo(d, x, y) }
func sumF64(x []float32) float64                      { return sumF64Go(x) }
func sumSqDevF64(x []float32, m float32) float64      { return sumSqDevF64Go(x, m) }
func normAffine(d, x, w, b []float32, m, inv float32) { normAffineGo(d, x, w, b, m, inv) }
