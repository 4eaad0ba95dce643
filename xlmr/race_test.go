//go:build race

package xlmr

// raceEnabled: the race detector makes sync.Pool drop items at random, so allocation
// counts are only asserted in normal builds.
const raceEnabled = true
