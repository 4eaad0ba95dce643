package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/server"
)

// Serve the tiny test model and rerank two documents in the TEI format.
func Example() {
	l, err := gorerank.LoadModel(context.Background(), "../../testdata/tiny", gorerank.Options{TokenizerPath: "../../testdata/tokenizer/tokenizer.json"})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	eng, err := server.NewXLMREngine(l, server.ModelInfo{ID: "tiny"})
	if err != nil {
		panic(err)
	}
	srv, err := server.New(server.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.SetEngine(eng); err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	resp, err := ts.Client().Post(ts.URL+"/rerank", "application/json", strings.NewReader(
		`{"query": "What is the capital of China?", "texts": ["Beijing is the capital of China.", "Paris is the capital of France."]}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Println(strings.Count(string(body), `"index"`), "results")
	// Output:
	// 200 application/json
	// 2 results
}

// Drain a server under a real http.Server: /ready says 503 from the first moment, requests
// are still served during the delay, then the listener stops taking connections, serves
// those already queued, closes, and accepted requests finish.
func ExampleServer_Shutdown() {
	srv, err := server.New(server.Config{})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ln = srv.Listener(ln) // so that Shutdown empties its accept queue instead of resetting it
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background(), hs, 200*time.Millisecond, 5*time.Second) }()
	for !srv.Draining() {
		time.Sleep(time.Millisecond)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("during the delay: /health", resp.StatusCode, "Connection: close =", resp.Close)
	fmt.Println("shutdown error:", <-done)
	_, err = http.Get("http://" + ln.Addr().String() + "/health")
	fmt.Println("after: refused =", err != nil)
	// Output:
	// during the delay: /health 200 Connection: close = true
	// shutdown error: <nil>
	// after: refused = true
}
