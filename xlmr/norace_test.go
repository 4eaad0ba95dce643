//go:build !race

package xlmr

const raceEnabled = false
