package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Emptying the accept queue: the last step of a drain that resets nothing.
//
// Connections whose handshake the kernel completed wait in the listening socket's accept
// queue until the server accepts them, and their clients may already have sent a request.
// Closing the listener resets every one of them: requests that reached the machine would be
// lost after they were sent. So the listener is stopped in two moves. First it stops taking
// new connections while it stays open: on Linux a socket filter that drops every packet is
// attached to the listening socket, so a new SYN is dropped (the client's retransmission
// later meets the closed port and is refused: nothing was sent), while the connections
// already queued are untouched (each is a socket of its own). Then the queue is accepted
// until it is empty, each of those connections is served (with Connection: close), and
// only then is the socket closed. Where the filter cannot be attached (other systems), the
// listener is closed at once, as net/http does.
//
// One race is left, and it is the kernel's: a handshake whose last ACK arrives in the instant
// between the filter and the close is dropped with it; its client, which believed itself
// connected, gets a reset. On loopback that window is microseconds; behind a load balancer
// the endpoint has been removed for the whole shutdown delay by then.

// drainPoll is how long Accept waits for one more queued connection before it takes the
// queue to be empty: connections already queued are returned at once.
const drainPoll = 20 * time.Millisecond

// listener is a TCP listener that [Server.Shutdown] can empty before it closes.
type listener struct {
	*net.TCPListener
	draining  atomic.Bool
	drained   chan struct{} // closed when Accept has found the queue empty, or on Close
	closeOnce sync.Once
	closeErr  error
}

// Listener returns ln prepared for a drain that resets nothing: serve the returned listener
// (http.Server.Serve) and [Server.Shutdown] empties its accept queue before closing it.
// A listener that is not TCP is returned as it is.
func (s *Server) Listener(ln net.Listener) net.Listener {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return ln
	}
	l := &listener{TCPListener: tl, drained: make(chan struct{})}
	s.lnMu.Lock()
	s.listeners = append(s.listeners, l)
	s.lnMu.Unlock()
	return l
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		if l.draining.Load() {
			_ = l.SetDeadline(time.Now().Add(drainPoll))
		}
		c, err := l.TCPListener.Accept()
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if l.draining.Load() {
				_ = l.Close() // the queue is empty
				return nil, net.ErrClosed
			}
			continue
		}
		return c, err
	}
}

// Close closes the socket once; later calls return the first call's result.
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.closeErr = l.TCPListener.Close()
		close(l.drained)
	})
	return l.closeErr
}

// drain stops taking connections, lets Accept empty the queue, and closes the socket; it
// returns whether the queue was emptied (false: the listener was closed at once).
func (l *listener) drain(wait time.Duration) bool {
	if err := stopTaking(l.TCPListener); err != nil {
		_ = l.Close()
		return false
	}
	l.draining.Store(true)
	_ = l.SetDeadline(time.Now().Add(drainPoll)) // wakes an Accept that is waiting without one
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-l.drained:
	case <-t.C: // nobody is accepting (Serve has returned)
		_ = l.Close()
	}
	return true
}
