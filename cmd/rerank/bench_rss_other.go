//go:build !unix

package main

// rusageMaxRSS is unknown where getrusage does not exist.
func rusageMaxRSS() int64 { return -1 }
