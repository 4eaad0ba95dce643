package server

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// stopTaking makes the listening socket take no new connection while the ones in its accept
// queue stay (listener.go). Two ways, the first the kernel allows:
//
//   - a classic BPF program that drops every packet, attached to the socket
//     (SO_ATTACH_FILTER): a new SYN is dropped on every interface; its client's
//     retransmission meets the closed port a second later and is refused;
//   - binding the socket to a device that its connections do not arrive on
//     (SO_BINDTODEVICE, unprivileged since Linux 5.7): the kernel finds no listener for a
//     new SYN and refuses it at once. For a loopback address that is any other device, for
//     every other address the loopback device: connections arriving over loopback to a
//     wildcard address are then still taken, and reset at the close.
//
// Kernels built without socket filters (some micro-VM kernels) take the second way.
func stopTaking(ln *net.TCPListener) error {
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	prog := unix.SockFprog{Len: uint16(len(drop)), Filter: &drop[0]}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	}); err != nil {
		return err
	}
	if ferr == nil {
		return nil
	}
	dev, err := otherDevice(ln.Addr().(*net.TCPAddr).IP)
	if err != nil {
		return fmt.Errorf("socket filter: %v; %w", ferr, err)
	}
	var berr error
	if err := rc.Control(func(fd uintptr) { berr = unix.BindToDevice(int(fd), dev) }); err != nil {
		return err
	}
	if berr != nil {
		return fmt.Errorf("socket filter: %v; binding to device %s: %w", ferr, dev, berr)
	}
	return nil
}

// otherDevice names a network device that connections to ip do not arrive on.
func otherDevice(ip net.IP) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	wantLoopback := !ip.IsLoopback()
	for _, i := range ifs {
		if (i.Flags&net.FlagLoopback != 0) == wantLoopback {
			return i.Name, nil
		}
	}
	return "", errors.New("no network device to bind the listener to")
}
