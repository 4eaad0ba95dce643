//go:build amd64 && gc && !purego && !linux

package tensor

import "errors"

// amxRequest: only Linux is known to need and grant the tile data permission this way.
func amxRequest() error { return errors.New("tensor: AMX tiles are only used on Linux") }
