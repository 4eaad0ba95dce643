//go:build !race

package tensor

const lowpRace = false
