//go:build amd64 && gc && !purego && lowp_amx

package tensor

// amxOptIn: built with -tags lowp_amx, the AMX tier is used where available.
const amxOptIn = true
