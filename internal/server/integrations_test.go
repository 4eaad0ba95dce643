package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixture is one file of testdata/integrations (its README gives the fields): the exact
// body a search engine's provider sends, and how that engine reads the answer.
type fixture struct {
	Engine     string            `json:"engine"`
	Source     string            `json:"source"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
	Compatible bool              `json:"compatible"`
	Gap        string            `json:"gap"`
	Expect     struct {
		Status      int                 `json:"status"`
		Root        string              `json:"root"`
		JSONPaths   []string            `json:"json_paths"`
		Lengths     map[string]int      `json:"lengths"`
		Dense       []string            `json:"dense"`
		DenseBase64 []string            `json:"dense_base64"`
		Sparse      []string            `json:"sparse"`
		KeysOnly    map[string][]string `json:"keys_only"`
		Indices     *struct {
			Path  string `json:"path"`
			Count int    `json:"count"`
			Order string `json:"order"`
		} `json:"indices"`
	} `json:"expect"`
}

// TestIntegrations replays what Milvus, Elasticsearch, OpenSearch, Weaviate and the Qdrant
// client paths send (docs/INTEGRATIONS.md; each fixture cites the source it was read from)
// to a server of the tiny reranker and the m3-tiny embedder, and reads the answers the way
// each engine does. A fixture marked incompatible must still fail, so that closing its gap
// is noticed and the fixture updated.
func TestIntegrations(t *testing.T) {
	_, emb := m3Tiny(t)
	s := newEmbedServer(t, Config{APIKey: "k"}, []Engine{loadTiny(t)}, emb)
	files, err := filepath.Glob("testdata/integrations/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("%d fixtures: %v", len(files), err)
	}
	engines := map[string]bool{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		engines[f.Engine] = true
		name := filepath.Base(file)
		if f.Source == "" || f.Path == "" || f.Expect.Status == 0 {
			t.Errorf("%s: source, path and expect.status are required", name)
			continue
		}
		req := httptest.NewRequest(f.Method, f.Path, bytes.NewReader(f.Body))
		for k, v := range f.Headers {
			req.Header.Set(k, strings.ReplaceAll(v, "API_KEY", "k"))
		}
		if req.Header.Get("Authorization") == "" {
			req.Header.Set("Authorization", "Bearer k")
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		problems := f.check(w.Code, w.Body.Bytes(), emb.Dim())
		switch {
		case f.Compatible && len(problems) > 0:
			t.Errorf("%s (%s): %s\nanswer: %.400s", name, f.Source, strings.Join(problems, "; "), w.Body.Bytes())
		case !f.Compatible && len(problems) == 0:
			t.Errorf("%s: marked incompatible (%s) but the answer now parses as the engine needs: update the fixture and docs/INTEGRATIONS.md", name, f.Gap)
		case !f.Compatible:
			t.Logf("%s: known gap (%s): %s", name, f.Gap, strings.Join(problems, "; "))
		}
	}
	for _, e := range []string{"milvus", "elasticsearch", "opensearch", "weaviate", "qdrant"} {
		if !engines[e] {
			t.Errorf("no fixture for %s", e)
		}
	}
}

// check reads an answer as the fixture's engine does and lists what it would fail on.
func (f *fixture) check(status int, body []byte, dim int) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if status != f.Expect.Status {
		bad("status %d, want %d", status, f.Expect.Status)
		return problems
	}
	var root any
	if err := json.Unmarshal(body, &root); err != nil {
		bad("answer is not JSON: %v", err)
		return problems
	}
	switch r := root.(type) {
	case []any:
		if f.Expect.Root == "object" {
			bad("root is an array, the engine needs an object")
		}
	case map[string]any:
		if f.Expect.Root == "array" {
			bad("root is an object, the engine needs an array")
		}
	default:
		bad("root is %T", r)
	}
	get := func(path string) []any {
		v, err := jsonPath(root, path)
		if err != nil {
			bad("%s: %v", path, err)
		}
		return v
	}
	for _, p := range f.Expect.JSONPaths {
		get(p)
	}
	for p, n := range f.Expect.Lengths {
		for _, v := range get(p) {
			if a, ok := v.([]any); !ok || len(a) != n {
				bad("%s: want an array of %d, got %.80v", p, n, v)
			}
		}
	}
	for _, p := range f.Expect.Dense {
		for _, v := range get(p) {
			a, ok := v.([]any)
			if !ok || len(a) != dim {
				bad("%s: want %d numbers", p, dim)
				continue
			}
			for _, x := range a {
				if _, ok := x.(float64); !ok {
					bad("%s: %v is not a number", p, x)
					break
				}
			}
		}
	}
	for _, p := range f.Expect.DenseBase64 {
		for _, v := range get(p) {
			s, _ := v.(string)
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(raw) != 4*dim {
				bad("%s: want base64 of %d bytes, got %d (%v)", p, 4*dim, len(raw), err)
			}
		}
	}
	for _, p := range f.Expect.Sparse {
		for _, v := range get(p) {
			a, ok := v.([]any)
			if !ok {
				bad("%s: want an array of {index, value}", p)
				continue
			}
			last := -1.0
			for _, e := range a {
				o, ok := e.(map[string]any)
				idx, iok := o["index"].(float64)
				_, vok := o["value"].(float64)
				if !ok || !iok || !vok || len(o) != 2 || idx <= last {
					bad("%s: entry %v is not {index, value} with indices ascending", p, e)
					break
				}
				last = idx
			}
		}
	}
	for p, keys := range f.Expect.KeysOnly {
		for _, v := range get(p) {
			o, _ := v.(map[string]any)
			for k := range o {
				if !slices.Contains(keys, k) {
					bad("%s: unknown key %q (the engine's parser refuses it)", p, k)
				}
			}
		}
	}
	if ix := f.Expect.Indices; ix != nil {
		got := get(ix.Path)
		seen := map[int]bool{}
		for i, v := range got {
			n, ok := v.(float64)
			if !ok || n < 0 || int(n) >= ix.Count || seen[int(n)] || (ix.Order == "request" && int(n) != i) {
				bad("%s: indices %v, want 0..%d (%s order)", ix.Path, got, ix.Count-1, ix.Order)
				break
			}
			seen[int(n)] = true
		}
		if len(got) != ix.Count {
			bad("%s: %d indices, want %d", ix.Path, len(got), ix.Count)
		}
	}
	return problems
}

var pathStep = regexp.MustCompile(`^(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[(\*|\d+)\])`)

// jsonPath evaluates the README's JSONPath subset ($, .name, [N], [*]); a missing key, an
// index out of range or an empty array under [*] is an error.
func jsonPath(root any, path string) ([]any, error) {
	if !strings.HasPrefix(path, "$") {
		return nil, fmt.Errorf("path must start with $")
	}
	cur := []any{root}
	for rest := path[1:]; rest != ""; {
		m := pathStep.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("bad path at %q", rest)
		}
		rest = rest[len(m[0]):]
		var next []any
		for _, v := range cur {
			switch {
			case m[1] != "":
				o, ok := v.(map[string]any)
				x, found := o[m[1]]
				if !ok || !found {
					return nil, fmt.Errorf("no key %q", m[1])
				}
				next = append(next, x)
			case m[2] == "*":
				a, ok := v.([]any)
				if !ok || len(a) == 0 {
					return nil, fmt.Errorf("[*]: not a non-empty array")
				}
				next = append(next, a...)
			default:
				i, _ := strconv.Atoi(m[2])
				a, ok := v.([]any)
				if !ok || i >= len(a) {
					return nil, fmt.Errorf("[%d]: out of range", i)
				}
				next = append(next, a[i])
			}
		}
		cur = next
	}
	return cur, nil
}
