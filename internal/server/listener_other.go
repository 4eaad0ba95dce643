//go:build !linux

package server

import (
	"errors"
	"net"
)

// stopTaking is Linux-only: elsewhere the listener is closed at once (see listener.go).
func stopTaking(*net.TCPListener) error {
	return errors.New("server: no way to stop a listener while keeping its queue on this system")
}
