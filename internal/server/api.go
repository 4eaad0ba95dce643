package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/jsonin"
)

// wireFormat is which of the three rerank dialects a request speaks.
type wireFormat int

const (
	formatCohere wireFormat = iota // POST /v1/rerank
	formatSeed                     // POST /rerank with "documents"
	formatTEI                      // POST /rerank with "texts"
)

// rawRequest is the union of the fields of the three dialects (and the truncation fields of
// Cohere v2 and vLLM). Pointers tell "absent" from zero. Keys match exactly (decodeObject);
// unknown keys are ignored.
type rawRequest struct {
	Model               *string           `json:"model"`
	Query               *string           `json:"query"`
	Documents           []json.RawMessage `json:"documents"`
	Texts               []json.RawMessage `json:"texts"`
	TopN                *int              `json:"top_n"`
	ReturnDocuments     *bool             `json:"return_documents"`
	ReturnText          *bool             `json:"return_text"`
	MaxLength           *int              `json:"max_length"`
	Truncate            *bool             `json:"truncate"`
	TruncationDirection *string           `json:"truncation_direction"`
	Truncation          *string           `json:"truncation"`
	RawScores           *bool             `json:"raw_scores"`
	MaxChunksPerDoc     *int              `json:"max_chunks_per_doc"`
	MaxTokensPerDoc     *int              `json:"max_tokens_per_doc"`     // Cohere v2
	TruncatePrompt      *int              `json:"truncate_prompt_tokens"` // vLLM
	TruncationSide      *string           `json:"truncation_side"`        // vLLM, HF: left or right
}

// rerankRequest is a validated request.
type rerankRequest struct {
	format     wireFormat
	model      string // "" when not given
	query      string
	docs       []string
	topN       int // 0: all
	returnDocs bool
	opts       scoreOptions
}

// field is the name of the documents field of the request's dialect.
func (r *rerankRequest) field() string {
	if r.format == formatTEI {
		return "texts"
	}
	return "documents"
}

// scoreOptions are the library's options for the request (everything that changes a logit)
// and how scores are reported.
type scoreOptions struct {
	score     gorerank.ScoreOptions
	rawScores bool
}

// limits are the server's request limits and defaults.
type limits struct {
	maxDocuments  int
	maxLength     int // the server's max_length (default and ceiling)
	defaultMode   gorerank.Truncation
	maxChunks     int
	windowOverlap int
	defaultReturn bool
}

// apiError is an error with an HTTP status and an error type for the JSON body.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// Error types of the JSON error body.
const (
	errInvalidRequest = "invalid_request_error"
	errTooLarge       = "payload_too_large"
	errUnauthorized   = "authentication_error"
	errOverloaded     = "overloaded"
	errNotFound       = "not_found"
	errMethod         = "method_not_allowed"
	errTimeout        = "timeout"
	errNotReady       = "not_ready"
	errInternal       = "internal_error"
	errKBCorrupt      = "knowledge_base_corrupt" // 500: a file of the served knowledge base fails its checksum
)

func badRequest(format string, a ...any) *apiError {
	return &apiError{status: 400, typ: errInvalidRequest, msg: fmt.Sprintf(format, a...)}
}

func tooLarge(format string, a ...any) *apiError {
	return &apiError{status: 413, typ: errTooLarge, msg: fmt.Sprintf(format, a...)}
}

// decodeJSON decodes a request body, which must be one JSON object, into the struct v: each
// field takes the value of the key equal to its json tag, exactly (encoding/json would also
// take "QUERY" for "query"; a gateway that validates the body would not). A key given twice
// is an error; unknown keys are ignored. Errors are ones a client can act on.
func decodeJSON(body []byte, v any) *apiError { return decodeBody(body, v, false) }

// decodeStrictJSON is decodeJSON for the server's own API (the knowledge base routes), which
// no other service's client speaks: a key that is no field of v is an error, so that a
// misspelt option ("topk") is not silently its default.
func decodeStrictJSON(body []byte, v any) *apiError { return decodeBody(body, v, true) }

func decodeBody(body []byte, v any, strict bool) *apiError {
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; expected a JSON object")
	}
	if !json.Valid(body) {
		var x any
		err := json.Unmarshal(body, &x)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return badRequest("invalid JSON at byte %d: %v", se.Offset, se)
		}
		return badRequest("invalid JSON: %v", err)
	}
	if err := jsonin.CheckSurrogates(body); err != nil {
		return badRequest("%v", err)
	}
	obj, aerr := decodeObject(body)
	if aerr != nil {
		return aerr
	}
	if strict {
		if aerr := unknownKeys(obj, reflect.TypeOf(v).Elem()); aerr != nil {
			return aerr
		}
	}
	return fillStruct(obj, reflect.ValueOf(v).Elem())
}

// unknownKeys is an error naming the keys of obj that are no field of the struct type t
// (fields of embedded structs included), or nil.
func unknownKeys(obj map[string]json.RawMessage, t reflect.Type) *apiError {
	known := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			known[name] = true
		}
	}
	walk(t)
	var unknown, fields []string
	for k := range obj {
		if !known[k] || k == "" || k == "-" {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	for k := range known {
		if k != "" && k != "-" {
			fields = append(fields, fmt.Sprintf("%q", k))
		}
	}
	slices.Sort(unknown)
	slices.Sort(fields)
	word := "field"
	if len(unknown) > 1 {
		word = "fields"
	}
	return badRequest("unknown %s %s (the fields are %s)", word, strings.Join(unknown, ", "), strings.Join(fields, ", "))
}

// decodeObject splits a valid JSON object into its members; a repeated key is an error.
func decodeObject(body []byte) (map[string]json.RawMessage, *apiError) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, badRequest("request body must be a JSON object, got %s", jsonValueKind(head(bytes.TrimSpace(body))))
	}
	if k, dup := duplicateKey(body); dup {
		return nil, badRequest("key %q appears more than once", k)
	}
	return obj, nil
}

// duplicateKey finds a key given twice at the top level of a valid JSON object, in one pass
// over the bytes (no copy of the values: a body may hold megabytes of documents).
func duplicateKey(b []byte) (string, bool) {
	seen := map[string]bool{}
	depth, expectKey := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if depth == 1 && expectKey {
				var k string
				_ = json.Unmarshal(b[i:j+1], &k) // valid JSON: cannot fail
				if seen[k] {
					return k, true
				}
				seen[k], expectKey = true, false
			}
			i = j
		case '{', '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		}
	}
	return "", false
}

// fillStruct sets each field of the struct v (and of its embedded structs) from the member
// named exactly by its json tag.
func fillStruct(obj map[string]json.RawMessage, v reflect.Value) *apiError {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if err := fillStruct(obj, v.Field(i)); err != nil {
				return err
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		raw, ok := obj[name]
		if !ok || name == "" || name == "-" {
			continue
		}
		if err := json.Unmarshal(raw, v.Field(i).Addr().Interface()); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return badRequest("field %q: expected %s, got %s", name, jsonKind(te.Type.Kind().String()), te.Value)
			}
			return badRequest("field %q: %v", name, err)
		}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

// parseRerank validates a rerank request body; cohere is true for /v1/rerank and /v2/rerank.
func parseRerank(body []byte, cohere bool, lim limits) (*rerankRequest, *apiError) {
	var raw rawRequest
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	return parseRawRerank(&raw, cohere, lim)
}

// parseRawRerank validates a decoded rerank request.
func parseRawRerank(raw *rawRequest, cohere bool, lim limits) (*rerankRequest, *apiError) {
	r := &rerankRequest{format: formatCohere}
	if raw.Model != nil {
		r.model = *raw.Model
	}
	if !cohere {
		r.format = formatSeed
	}
	var items []json.RawMessage
	field := "documents"
	switch {
	case raw.Documents != nil && raw.Texts != nil:
		return nil, badRequest(`give either "documents" or "texts", not both`)
	case raw.Texts != nil && cohere:
		return nil, badRequest(`/v1/rerank takes "documents"; "texts" is the TEI format of POST /rerank`)
	case raw.Texts != nil:
		r.format, items, field = formatTEI, raw.Texts, "texts"
	case raw.Documents != nil:
		items = raw.Documents
	default:
		if cohere {
			return nil, badRequest(`field "documents" is required`)
		}
		return nil, badRequest(`field "documents" (or "texts", TEI format) is required`)
	}
	if raw.Query == nil {
		return nil, badRequest(`field "query" is required`)
	}
	if err := gorerank.CheckQuery(*raw.Query); err != nil {
		return nil, badRequest(`field "query": %s`, strings.TrimPrefix(err.Error(), "gorerank: "))
	}
	r.query = *raw.Query
	if len(items) == 0 {
		return nil, badRequest("field %q must not be empty", field)
	}
	if len(items) > lim.maxDocuments {
		return nil, tooLarge("field %q has %d entries, over the limit of %d (--max-documents)", field, len(items), lim.maxDocuments)
	}
	r.docs = make([]string, len(items))
	for i, m := range items {
		s, err := parseDocument(m, r.format != formatTEI)
		if err != nil {
			return nil, badRequest("%s[%d]: %v", field, i, err)
		}
		r.docs[i] = s
	}
	if raw.TopN != nil {
		if *raw.TopN < 0 {
			return nil, badRequest(`field "top_n" must not be negative (0 means all documents), got %d`, *raw.TopN)
		}
		r.topN = *raw.TopN
	}
	switch r.format {
	case formatTEI:
		r.returnDocs = raw.ReturnText != nil && *raw.ReturnText
	case formatSeed:
		r.returnDocs = raw.ReturnDocuments == nil || *raw.ReturnDocuments
	default:
		r.returnDocs = lim.defaultReturn
		if raw.ReturnDocuments != nil {
			r.returnDocs = *raw.ReturnDocuments
		}
	}
	o, err := parseScoreOptions(raw, lim)
	if err != nil {
		return nil, err
	}
	r.opts = o
	return r, nil
}

// parseScoreOptions reads the fields that decide truncation into the library's options:
// max_length (or vLLM's truncate_prompt_tokens), truncate, truncation,
// truncation_direction (TEI) or truncation_side (vLLM, HF), max_chunks_per_doc,
// max_tokens_per_doc (Cohere v2), and raw_scores. The server checks its own limits here;
// the library checks the rest when scoring.
func parseScoreOptions(raw *rawRequest, lim limits) (scoreOptions, *apiError) {
	o := gorerank.ScoreOptions{MaxLength: lim.maxLength, Truncation: lim.defaultMode, MaxWindows: lim.maxChunks, WindowOverlap: lim.windowOverlap}
	switch {
	case raw.MaxLength != nil && raw.TruncatePrompt != nil:
		return scoreOptions{}, badRequest(`give "max_length" or "truncate_prompt_tokens", not both`)
	case raw.MaxLength != nil:
		n := *raw.MaxLength
		if n < 1 || n > lim.maxLength {
			return scoreOptions{}, badRequest(`field "max_length" must be between 1 and %d (--max-length), got %d`, lim.maxLength, n)
		}
		o.MaxLength = n
	case raw.TruncatePrompt != nil:
		switch n := *raw.TruncatePrompt; {
		case n == -1: // vLLM: the model's limit
		case n < 1 || n > lim.maxLength:
			return scoreOptions{}, badRequest(`field "truncate_prompt_tokens" must be -1 or between 1 and %d (--max-length), got %d`, lim.maxLength, n)
		default:
			o.MaxLength = n
		}
	}
	if raw.Truncate != nil {
		o.Strict = !*raw.Truncate
	}
	if raw.Truncation != nil {
		t, err := gorerank.ParseTruncation(*raw.Truncation)
		if err != nil || *raw.Truncation == "" {
			return scoreOptions{}, badRequest(`field "truncation" must be one of %s, got %q`, truncationNames(), *raw.Truncation)
		}
		o.Truncation = t
	}
	side := func(field, v string) (bool, *apiError) {
		switch strings.ToLower(v) {
		case "right":
			return false, nil
		case "left":
			return true, nil
		}
		return false, badRequest(`field %q must be "left" or "right", got %q`, field, v)
	}
	if raw.TruncationDirection != nil {
		left, err := side("truncation_direction", *raw.TruncationDirection)
		if err != nil {
			return scoreOptions{}, err
		}
		o.Left = left
	}
	if raw.TruncationSide != nil {
		left, err := side("truncation_side", *raw.TruncationSide)
		if err != nil {
			return scoreOptions{}, err
		}
		if raw.TruncationDirection != nil && left != o.Left {
			return scoreOptions{}, badRequest(`fields "truncation_side" and "truncation_direction" disagree`)
		}
		o.Left = left
	}
	if raw.MaxChunksPerDoc != nil {
		n := *raw.MaxChunksPerDoc
		if n < 1 || n > lim.maxChunks {
			return scoreOptions{}, badRequest(`field "max_chunks_per_doc" must be between 1 and %d (--max-chunks), got %d`, lim.maxChunks, n)
		}
		o.MaxWindows = n
	}
	if raw.MaxTokensPerDoc != nil {
		n := *raw.MaxTokensPerDoc
		if n < 1 {
			return scoreOptions{}, badRequest(`field "max_tokens_per_doc" must be at least 1, got %d`, n)
		}
		o.MaxDocTokens = n
	}
	return scoreOptions{score: o, rawScores: raw.RawScores != nil && *raw.RawScores}, nil
}

func truncationNames() string {
	var names []string
	for _, t := range gorerank.Truncations {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// parseDocument reads a string, or (when objects are allowed) an object with a "text" string.
func parseDocument(m json.RawMessage, allowObject bool) (string, error) {
	t := head(bytes.TrimLeft(m, " \t\r\n")) // (not the whole value: it may be megabytes)
	if strings.HasPrefix(t, `"`) {
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	if allowObject && strings.HasPrefix(t, "{") {
		obj, aerr := decodeObject(m)
		if aerr != nil {
			return "", errors.New(aerr.msg)
		}
		text, ok := obj["text"]
		if !ok {
			return "", errors.New(`object has no "text" field`)
		}
		var s string
		if err := json.Unmarshal(text, &s); err != nil || bytes.HasPrefix(bytes.TrimSpace(text), []byte("null")) {
			return "", errors.New(`"text" must be a string`)
		}
		return s, nil
	}
	if allowObject {
		return "", fmt.Errorf(`must be a string or an object with a "text" string, got %s`, jsonValueKind(t))
	}
	return "", fmt.Errorf("must be a string, got %s", jsonValueKind(t))
}

// head is the start of a JSON value, enough for jsonValueKind.
func head(b []byte) string { return string(b[:min(len(b), 8)]) }

func jsonValueKind(t string) string {
	switch {
	case t == "":
		return "nothing"
	case strings.HasPrefix(t, "null"):
		return "null"
	case strings.HasPrefix(t, "true"), strings.HasPrefix(t, "false"):
		return "a boolean"
	case strings.HasPrefix(t, "["):
		return "an array"
	case strings.HasPrefix(t, "{"):
		return "an object"
	}
	return "a number"
}

// tokenizeRequest is the body of POST /tokenize: TEI's {"inputs", "add_special_tokens"}, or a
// pair request {"query", "documents", max_length?, truncation?...} that shows exactly the ids
// the model would see.
type tokenizeRequest struct {
	Inputs           json.RawMessage `json:"inputs"`
	AddSpecialTokens *bool           `json:"add_special_tokens"`
	rawRequest
}
