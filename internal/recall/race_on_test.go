//go:build race

package recall

const raceEnabled = true
