//go:build !amd64 || !gc || purego

package tensor

func lowpExtraTestTiers() []*lowpTier { return nil }
