//go:build amd64 && gc && !purego && !lowp_amx

package tensor

// amxOptIn: the AMX tier has not yet run on AMX hardware, so it stays out of the tier
// list unless the build asks for it with -tags lowp_amx.
const amxOptIn = false
