//go:build race

package tensor

// lowpRace: the race detector makes sync.Pool drop items, so calls allocate.
const lowpRace = true
