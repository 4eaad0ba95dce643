package hub_test

import (
	"context"
	"fmt"

	"github.com/gorerank/gorerank/internal/hub"
)

// A local model folder resolves to itself; a hub id like "BAAI/bge-reranker-v2-m3" would be
// looked up in (and downloaded into) the Hugging Face cache.
func ExampleResolve() {
	dir, commit, err := hub.Resolve(context.Background(), "../../testdata/tiny", hub.Options{})
	fmt.Println(dir, commit == "", err)
	fmt.Println(hub.IsRepoID("BAAI/bge-reranker-v2-m3"), hub.IsRepoID("./models/x"))
	// Output:
	// ../../testdata/tiny true <nil>
	// true false
}
