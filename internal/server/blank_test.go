package server

import (
	"strings"
	"testing"

	"github.com/gorerank/gorerank"
)

// dropEngine is fakeEngine with a tokenizer whose normalization drops the word "~" (as
// XLM-R's drops U+FFFD): a query of only "~" is blank to the pipeline, not to the text.
type dropEngine struct{ *fakeEngine }

func (d dropEngine) AppendIDs(dst []int32, text string, limit int, left bool) ([]int32, bool, error) {
	return d.fakeEngine.AppendIDs(dst, strings.ReplaceAll(text, "~", " "), limit, left)
}

func (d dropEngine) Pipeline() *gorerank.Pipeline {
	return gorerank.NewPipeline(d, d.fakeEngine.Pipeline().Template(), d.Info().MaxTokens)
}

// TestBlankQueryDoors: a query blank after the tokenizer's normalization is a 400 with
// ErrEmptyQuery's words on every rerank endpoint, with the cache on or off.
func TestBlankQueryDoors(t *testing.T) {
	for _, noCache := range []bool{false, true} {
		s := newTestServer(t, Config{NoCache: noCache}, dropEngine{&fakeEngine{}})
		for _, q := range []string{`\u200b\ufeff`, `\u0000`, ` \u2060 `, `~`, ` ~ \t ~`} {
			for _, c := range []struct{ path, body string }{
				{"/v1/rerank", `{"query": "` + q + `", "documents": ["a", "b"]}`},
				{"/v2/rerank", `{"query": "` + q + `", "documents": ["a"]}`},
				{"/rerank", `{"query": "` + q + `", "texts": ["a"]}`},
			} {
				r := do(t, s.Handler(), "POST", c.path, c.body)
				if r.status != 400 || !strings.Contains(string(r.body), `field \"query\": the query is empty or blank`) {
					t.Errorf("no cache %v, %s %s: %d %s; want 400 with the query empty or blank", noCache, c.path, c.body, r.status, r.body)
				}
			}
		}
		if r := do(t, s.Handler(), "POST", "/v1/rerank", `{"query": "~ a", "documents": ["a"]}`); r.status != 200 {
			t.Errorf("no cache %v, a query with a kept word: %d %s", noCache, r.status, r.body)
		}
	}
}
