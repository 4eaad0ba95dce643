//go:build !amd64 || !gc || purego

package tensor

// purego: this build has no assembly (the generic tier only, whatever the CPU).
const purego = true

func hardwareOnlyTiers() []*cpuTier { return nil }
