package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

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
