package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Draining: how the server leaves a load balancer without losing a request.
//
// Behind a Kubernetes Service the pod's endpoint is removed asynchronously after SIGTERM, so
// new connections keep arriving for a few seconds, and clients with pooled keep-alive
// connections keep sending on them. [Server.Shutdown] therefore runs in three steps:
//
//  1. drain (at once): /ready answers 503 so that readiness probes take the pod out of
//     rotation, and every response carries "Connection: close" so keep-alive clients open
//     their next connection elsewhere. Everything else is served as before: scoring requests
//     arriving now are accepted and answered normally (the drain never answers 503 itself).
//  2. delay: the listener stays open for the shutdown delay, long enough for the endpoint
//     removal to reach every proxy.
//  3. stop: the listener stops taking connections, the connections already in its accept
//     queue are accepted and served, and then it closes (listener.go; later connection
//     attempts are refused, which a client or proxy retries elsewhere: nothing was sent);
//     idle connections are closed, every request already accepted is finished, within the
//     shutdown timeout; then the batch workers finish the queue and stop.

// BeginDrain starts draining: /ready answers 503 from now on and responses carry
// "Connection: close". Scoring goes on. It is idempotent.
func (s *Server) BeginDrain() {
	if !s.draining.Swap(true) {
		s.m.ready.Set(0)
		s.log.Info("draining: /ready answers 503, keep-alive connections are closed after their next response")
	}
}

// Draining reports whether [Server.BeginDrain] has been called.
func (s *Server) Draining() bool { return s.draining.Load() }

// ErrShutdownTimeout is returned by [Server.Shutdown] when accepted requests were still
// running at the end of the shutdown timeout; their connections were closed.
var ErrShutdownTimeout = errors.New("server: shutdown timeout: requests still running were cut off")

// Shutdown drains hs, which serves [Server.Handler]: [Server.BeginDrain], then it keeps
// serving for delay (0: no delay; the delay ends early when ctx ends), then it empties and
// closes the listeners made by [Server.Listener] (serve one of them), then hs.Shutdown waits
// up to timeout for every accepted request, and finally [Server.Close] finishes the queue.
// When the timeout passes first, the remaining connections are closed (their requests'
// contexts end, so their queued pairs are dropped) and the error wraps [ErrShutdownTimeout].
func (s *Server) Shutdown(ctx context.Context, hs *http.Server, delay, timeout time.Duration) error {
	s.BeginDrain()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	s.lnMu.Lock()
	lns := s.listeners
	s.lnMu.Unlock()
	for _, l := range lns {
		if !l.drain(time.Second) {
			s.log.Warn("draining: closed the listener without emptying its accept queue (not supported here): connections waiting in it are reset")
		}
	}
	s.log.Info("draining: listener closed, finishing accepted requests", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	if serr := hs.Shutdown(sctx); serr != nil {
		_ = hs.Close()
		err = fmt.Errorf("%w: %v", ErrShutdownTimeout, serr)
	}
	s.Close()
	return err
}

// closeWhileDraining sets "Connection: close" on every response that starts while the server
// drains, so that net/http closes the connection after it and the client reconnects (to
// another replica once the endpoint is gone).
func (s *Server) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// notDraining is /ready's check: 503 with Retry-After while draining.
func (s *Server) notDraining(w http.ResponseWriter) error {
	if s.draining.Load() {
		w.Header().Set("Retry-After", "5")
		return &apiError{status: 503, typ: errNotReady, msg: "shutting down: draining connections"}
	}
	return nil
}
