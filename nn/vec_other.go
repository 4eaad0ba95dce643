//go:build !amd64 || !gc || purego

package nn

// useVec is false: there are no vector row kernels on this platform or build.
var useVec = false

func geluBiasRow(d, x, b []float32)            { geluBiasRowGo(d, x, b) }
func expSubSum(x []float32, m float32) float32 { return expSubSumGo(x, m) }
func scaleMax(x []float32, s float32) float32  { return scaleMaxGo(x, s) }
