package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// A small JSON Schema checker for exactly the subset openapi.json uses. Keywords it does not
// know are an error, so the spec cannot grow constraints the test silently skips. (A full
// validator such as kin-openapi would be a large dependency for ~150 lines of checking.)

var annotations = map[string]bool{"description": true, "default": true, "example": true, "title": true}

type schemaChecker struct{ root map[string]any }

func (c *schemaChecker) resolve(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	var cur any = c.root
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("bad $ref %q", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("dangling $ref %q", ref)
		}
	}
	return cur, nil
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func (c *schemaChecker) check(schema any, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: schema is not an object", at)
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kw := s[k]
		switch k {
		case "$ref":
			sub, err := c.resolve(kw.(string))
			if err != nil {
				return err
			}
			if err := c.check(sub, v, at); err != nil {
				return err
			}
		case "type":
			got := jsonType(v)
			var allowed []string
			switch t := kw.(type) {
			case string:
				allowed = []string{t}
			case []any:
				for _, x := range t {
					allowed = append(allowed, x.(string))
				}
			}
			if !slices.Contains(allowed, got) && !(got == "integer" && slices.Contains(allowed, "number")) {
				return fmt.Errorf("%s: %s, want %v", at, got, allowed)
			}
		case "enum":
			found := false
			for _, e := range kw.([]any) {
				found = found || fmt.Sprint(e) == fmt.Sprint(v)
			}
			if !found {
				return fmt.Errorf("%s: %v not in %v", at, v, kw)
			}
		case "properties":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for name, sub := range kw.(map[string]any) {
				if x, ok := obj[name]; ok {
					if err := c.check(sub, x, at+"."+name); err != nil {
						return err
					}
				}
			}
		case "required":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for _, name := range kw.([]any) {
				if _, ok := obj[name.(string)]; !ok {
					return fmt.Errorf("%s: missing required %q", at, name)
				}
			}
		case "additionalProperties":
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			props, _ := s["properties"].(map[string]any)
			for name, x := range obj {
				if _, known := props[name]; known {
					continue
				}
				switch ap := kw.(type) {
				case bool:
					if !ap {
						return fmt.Errorf("%s: unexpected property %q", at, name)
					}
				default:
					if err := c.check(ap, x, at+"."+name); err != nil {
						return err
					}
				}
			}
		case "items":
			arr, ok := v.([]any)
			if !ok {
				continue
			}
			for i, x := range arr {
				if err := c.check(kw, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		case "minItems":
			if arr, ok := v.([]any); ok && float64(len(arr)) < kw.(float64) {
				return fmt.Errorf("%s: %d items, want at least %v", at, len(arr), kw)
			}
		case "minLength":
			if str, ok := v.(string); ok && float64(utf8.RuneCountInString(str)) < kw.(float64) {
				return fmt.Errorf("%s: shorter than %v", at, kw)
			}
		case "minimum":
			if n, ok := v.(json.Number); ok {
				if f, _ := n.Float64(); f < kw.(float64) {
					return fmt.Errorf("%s: %v below minimum %v", at, f, kw)
				}
			}
		case "oneOf", "anyOf":
			n := 0
			var errs []string
			for _, sub := range kw.([]any) {
				if err := c.check(sub, v, at); err == nil {
					n++
				} else {
					errs = append(errs, err.Error())
				}
			}
			if n == 0 || (k == "oneOf" && n > 1) {
				return fmt.Errorf("%s: %d of the %s alternatives match (%s)", at, n, k, strings.Join(errs, "; "))
			}
		default:
			if !annotations[k] {
				return fmt.Errorf("%s: schema keyword %q not supported by the test checker", at, k)
			}
		}
	}
	return nil
}

var loadSpec = sync.OnceValues(func() (map[string]any, error) {
	var spec map[string]any
	err := json.Unmarshal(openAPISpec, &spec)
	return spec, err
})

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// checkResponse validates one real response against the spec's response for its path,
// method and status.
func checkResponse(t *testing.T, method, path string, r reply) {
	t.Helper()
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	c := &schemaChecker{root: spec}
	specPath := routePattern(path) // /v1/documents/ID is /v1/documents/{id}
	if strings.HasPrefix(path, "/docs") {
		specPath = "/docs"
	}
	pathItem, _ := spec["paths"].(map[string]any)[specPath].(map[string]any)
	op, ok := pathItem[strings.ToLower(method)].(map[string]any)
	if !ok {
		if r.status != 405 && r.status != 404 {
			t.Errorf("%s %s: not in the spec", method, path)
			return
		}
		// an undocumented method or path: the generic error body
		v, err := decodeNumbers(r.body)
		if err == nil {
			err = c.check(map[string]any{"$ref": "#/components/schemas/Error"}, v, "response")
		}
		if err != nil {
			t.Errorf("%s %s %d: %v", method, path, r.status, err)
		}
		return
	}
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(r.status)].(map[string]any)
	if !ok {
		t.Errorf("%s %s: status %d not documented (%s)", method, path, r.status, r.body)
		return
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		return
	}
	ct := r.header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		media, ok := content["application/json"].(map[string]any)
		if !ok {
			t.Errorf("%s %s %d: JSON body not documented", method, path, r.status)
			return
		}
		v, err := decodeNumbers(r.body)
		if err != nil {
			t.Errorf("%s %s: body is not JSON: %v", method, path, err)
			return
		}
		if err := c.check(media["schema"], v, "response"); err != nil {
			t.Errorf("%s %s %d: %v\nbody: %.400s", method, path, r.status, err, r.body)
		}
		if h, ok := resp["headers"].(map[string]any); ok {
			for name := range h {
				if r.header.Get(name) == "" {
					t.Errorf("%s %s %d: header %s documented but missing", method, path, r.status, name)
				}
			}
		}
	}
}

func checkRequest(t *testing.T, method, path, body string) {
	t.Helper()
	spec, _ := loadSpec()
	c := &schemaChecker{root: spec}
	op := spec["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	schema := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
	v, err := decodeNumbers([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.check(schema, v, "request"); err != nil {
		t.Errorf("valid request %s rejected by the spec: %v", body, err)
	}
}

// TestOpenAPIResponses drives every endpoint through its success and error paths and
// validates each real response against openapi.json.
func TestOpenAPIResponses(t *testing.T) {
	f := &fakeEngine{}
	s := newEmbedServer(t, Config{MaxDocuments: 5, MaxBodyBytes: 2048, MaxLength: 64, APIKey: "k"}, []Engine{f}, &fakeEmbedder{})
	notReady := newTestServer(t, Config{}, nil)
	auth := []string{"Authorization", "Bearer k"}
	long := strings.Repeat("w ", 100)
	type call struct {
		method, path, body string
		valid              bool // a valid request: must also pass the request schema
		srv                *Server
		noAuth             bool
	}
	calls := []call{
		{"POST", "/v1/rerank", `{"query": "capital of France", "documents": ["Paris is the capital of France", {"text": "Berlin"}], "model": "x"}`, true, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["a", "` + long + `"], "return_documents": false, "top_n": 1, "raw_scores": true}`, true, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["` + long + `"], "truncation": "windows", "max_chunks_per_doc": 1}`, true, nil, false},
		{"POST", "/rerank", `{"query": "q", "documents": ["a", "b"]}`, true, nil, false},
		{"POST", "/v2/rerank", `{"model": "rerank-v3.5", "query": "q", "documents": ["a", "b"], "top_n": 1}`, true, nil, false},
		{"POST", "/rerank", `{"query": "q", "texts": ["a", "b"], "return_text": true, "truncation_direction": "Left"}`, true, nil, false},
		{"POST", "/rerank", `{"query": "q", "texts": ["a"]}`, true, nil, false},
		{"POST", "/tokenize", `{"inputs": "hello world"}`, true, nil, false},
		{"POST", "/tokenize", `{"inputs": ["a", "b c"], "add_special_tokens": false}`, true, nil, false},
		{"POST", "/tokenize", `{"query": "q", "documents": ["a b"]}`, true, nil, false},
		{"POST", "/v1/embeddings", `{"model": "bge-m3", "input": ["a b", "c"]}`, true, nil, false},
		{"POST", "/v1/embeddings", `{"input": "a", "encoding_format": "base64"}`, true, nil, false},
		{"POST", "/v1/embeddings", `{"input": [[5, 6], [7]]}`, true, nil, false},
		{"POST", "/embed", `{"inputs": ["a b", "c"], "truncate": true, "truncation_direction": "Right"}`, true, nil, false},
		{"POST", "/embed_sparse", `{"inputs": "a b a"}`, true, nil, false},
		{"POST", "/embed_colbert", `{"inputs": ["a b"]}`, true, nil, false},
		{"POST", "/v1/embeddings", `{"input": []}`, false, nil, false},
		{"POST", "/v1/embeddings", `{"model": "nope", "input": "a", "dimensions": 3}`, false, nil, false},
		{"POST", "/embed", `{"inputs": "` + long + `", "truncate": false}`, false, nil, false},
		{"POST", "/embed", `{"inputs": "x"}`, false, notReady, false},
		{"GET", "/health", "", false, nil, true},
		{"GET", "/ready", "", false, nil, true},
		{"GET", "/info", "", false, nil, false},
		{"GET", "/metrics", "", false, nil, false},
		{"GET", "/openapi.json", "", false, nil, true},
		{"GET", "/docs", "", false, nil, true},
		{"GET", "/docs/", "", false, nil, true},
		{"GET", "/docs/missing.js", "", false, nil, true},
		// errors
		{"POST", "/v1/rerank", `{"query": `, false, nil, false},
		{"POST", "/v1/rerank", `{"query": "", "documents": ["a"]}`, false, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["a","b","c","d","e","f"]}`, false, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["` + strings.Repeat("x", 3000) + `"]}`, false, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["` + long + `"], "truncate": false}`, false, nil, false},
		{"POST", "/rerank", `{"query": "q"}`, false, nil, false},
		{"POST", "/tokenize", `{"inputs": 3}`, false, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["a"]}`, false, nil, true},
		{"GET", "/info", "", false, nil, true},
		{"GET", "/v1/rerank", "", false, nil, false},
		{"POST", "/health", "", false, nil, false},
		{"GET", "/nope", "", false, nil, false},
		{"POST", "/v1/rerank", `{"query": "q", "documents": ["a"]}`, false, notReady, false},
		{"GET", "/ready", "", false, notReady, false},
		{"GET", "/info", "", false, notReady, false},
		{"POST", "/tokenize", `{"inputs": "x"}`, false, notReady, false},
	}
	seen := map[string]bool{}
	for _, c := range calls {
		srv := c.srv
		if srv == nil {
			srv = s
		}
		var hdr []string
		if !c.noAuth {
			hdr = auth
		}
		r := do(t, srv.Handler(), c.method, c.path, c.body, hdr...)
		if c.valid {
			if r.status != 200 {
				t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, r.status, r.body)
			}
			checkRequest(t, c.method, c.path, c.body)
		}
		checkResponse(t, c.method, c.path, r)
		seen[fmt.Sprintf("%s %d", c.path, r.status)] = true
	}
	// every documented status of the scoring endpoints that a fake engine can produce was seen
	for _, want := range []string{"/v1/rerank 200", "/v1/rerank 400", "/v1/rerank 401", "/v1/rerank 405", "/v1/rerank 413", "/v1/rerank 503",
		"/rerank 200", "/rerank 400", "/tokenize 200", "/tokenize 400", "/tokenize 503",
		"/v1/embeddings 200", "/v1/embeddings 400", "/embed 200", "/embed 413", "/embed 503", "/embed_sparse 200", "/embed_colbert 200", "/info 401", "/info 503", "/ready 503", "/docs 301", "/docs/missing.js 404", "/nope 404"} {
		if !seen[want] {
			t.Errorf("not exercised: %s", want)
		}
	}
}

// The spec documents exactly the server's routes.
func TestOpenAPICoversRoutes(t *testing.T) {
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if spec["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", spec["openapi"])
	}
	var documented []string
	for p := range spec["paths"].(map[string]any) {
		documented = append(documented, p)
	}
	sort.Strings(documented)
	s := newTestServer(t, Config{}, nil)
	want := []string{"/docs"}
	for p := range s.routeTable() {
		want = append(want, p)
	}
	sort.Strings(want)
	if !slices.Equal(documented, want) {
		t.Errorf("documented %v, want %v", documented, want)
	}
	// every $ref resolves and every schema uses only supported keywords
	c := &schemaChecker{root: spec}
	for name, sch := range spec["components"].(map[string]any)["schemas"].(map[string]any) {
		_ = c.check(sch, nil, name) // type errors are expected for nil; keyword errors are not
		if err := walkKeywords(sch); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	refs := regexp.MustCompile(`"\$ref":\s*"([^"]+)"`).FindAllSubmatch(openAPISpec, -1)
	for _, m := range refs {
		if _, err := c.resolve(string(m[1])); err != nil {
			t.Error(err)
		}
	}
	if len(refs) < 10 {
		t.Errorf("only %d refs", len(refs))
	}
	_ = math.Inf
}

var knownKeywords = map[string]bool{"$ref": true, "type": true, "enum": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "minItems": true, "minLength": true, "minimum": true, "oneOf": true, "anyOf": true}

func walkKeywords(schema any) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return nil
	}
	for k, v := range s {
		if !knownKeywords[k] && !annotations[k] {
			return fmt.Errorf("keyword %q", k)
		}
		switch k {
		case "properties":
			for _, sub := range v.(map[string]any) {
				if err := walkKeywords(sub); err != nil {
					return err
				}
			}
		case "items", "additionalProperties":
			if err := walkKeywords(v); err != nil {
				return err
			}
		case "oneOf", "anyOf":
			for _, sub := range v.([]any) {
				if err := walkKeywords(sub); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// The checker must reject what the spec forbids, or the response test proves nothing.
func TestSchemaCheckerRejects(t *testing.T) {
	spec, _ := loadSpec()
	c := &schemaChecker{root: spec}
	ref := func(n string) any { return map[string]any{"$ref": "#/components/schemas/" + n} }
	good := `{"id": "x", "model": "m", "results": [{"index": 0, "relevance_score": 0.5}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}`
	v, _ := decodeNumbers([]byte(good))
	if err := c.check(ref("RerankResponse"), v, "r"); err != nil {
		t.Fatalf("good response rejected: %v", err)
	}
	for _, bad := range []string{
		`{"id": "x", "model": "m", "results": [{"relevance_score": 0.5}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}`,
		`{"id": "x", "model": "m", "results": [{"index": 0, "relevance_score": "high"}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}`,
		`{"id": "x", "model": "m", "results": [{"index": 1.5, "relevance_score": 0.5}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}`,
		`{"id": "x", "model": "m", "results": [{"index": -1, "relevance_score": 0.5}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}`,
		`{"id": "x", "model": "m", "results": [], "usage": {"prompt_tokens": 1, "total_tokens": 1}, "extra": 1}`,
		`{"id": "x", "model": "m", "results": []}`,
	} {
		v, _ := decodeNumbers([]byte(bad))
		if err := c.check(ref("RerankResponse"), v, "r"); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	v, _ = decodeNumbers([]byte(`{"error": {"message": "m", "type": "nonsense"}}`))
	if err := c.check(ref("Error"), v, "e"); err == nil {
		t.Error("error type outside the enum accepted")
	}
	if err := c.check(map[string]any{"pattern": "x"}, "y", "p"); err == nil {
		t.Error("unknown keyword accepted")
	}
}
