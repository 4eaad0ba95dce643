package kb_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/kb"
)

// A knowledge base from a few documents, searched. (The models' folders are placeholders:
// with BAAI/bge-m3 and BAAI/bge-reranker-v2-m3 the scores mean something.)
func Example() {
	ctx := context.Background()
	emb, err := gorerank.OpenEmbedder("models/bge-m3", gorerank.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emb.Close()
	dir, _ := os.MkdirTemp("", "kb")
	defer os.RemoveAll(dir)
	k, err := kb.Create(ctx, dir, kb.Config{Embedder: "models/bge-m3"}, emb)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer k.Close()
	res, err := k.Add(ctx, []kb.Document{
		{ID: "notice", Text: "根据公司规定，正式员工离职需提前三十天以书面形式通知公司。"},
		{ID: "leave", Text: "员工每年可享受五天带薪年假，工作满十年后增至十天。"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res[0].Status, res[1].Status)
	found, err := k.Search(ctx, "员工离职需要提前多久通知公司?", kb.SearchOptions{TopN: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range found.Hits {
		fmt.Println(h.DocID, h.Text)
	}
}
