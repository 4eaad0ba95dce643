package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Truncation modes (request field "truncation", flag --truncation).
const (
	TruncLongestFirst = "longest_first" // HF default: cut the longer side token by token
	TruncOnlySecond   = "only_second"   // cut only the document
	TruncFlag         = "flag"          // FlagReranker: query capped at 3/4 of max_length, then only_second
	TruncWindows      = "windows"       // long documents: score overlapping windows, keep the maximum
)

var truncModes = []string{TruncLongestFirst, TruncOnlySecond, TruncFlag, TruncWindows}

// wireFormat is which of the three rerank dialects a request speaks.
type wireFormat int

const (
	formatCohere wireFormat = iota // POST /v1/rerank
	formatSeed                     // POST /rerank with "documents"
	formatTEI                      // POST /rerank with "texts"
)

// rawRequest is the union of the fields of the three dialects. Pointers tell "absent" from
// zero; unknown fields are ignored.
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
}

// rerankRequest is a validated request.
type rerankRequest struct {
	format     wireFormat
	query      string
	docs       []string
	topN       int // 0: all
	returnDocs bool
	opts       scoreOptions
}

// scoreOptions are the knobs that change a logit (and so are part of the cache key).
type scoreOptions struct {
	maxLength int
	truncate  bool // false: a pair over maxLength is an error
	mode      string
	left      bool // truncate from the left
	maxChunks int  // windows mode: most windows per document
	rawScores bool
}

// limits are the server's request limits.
type limits struct {
	maxDocuments  int
	maxLength     int // the server's max_length (default and ceiling)
	defaultMode   string
	maxChunks     int
	minMaxLength  int
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
)

func badRequest(format string, a ...any) *apiError {
	return &apiError{status: 400, typ: errInvalidRequest, msg: fmt.Sprintf(format, a...)}
}

func tooLarge(format string, a ...any) *apiError {
	return &apiError{status: 413, typ: errTooLarge, msg: fmt.Sprintf(format, a...)}
}

// decodeJSON decodes a request body into v with errors a client can act on.
func decodeJSON(body []byte, v any) *apiError {
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return badRequest("request body is empty; expected a JSON object")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("request body must be a JSON object, got %s", te.Value)
		}
		return badRequest("field %q: expected %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	default:
		return badRequest("invalid JSON: %v", err)
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float32", "float64":
		return "an integer"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

// parseRerank validates a rerank request body. path is "/v1/rerank" or "/rerank".
func parseRerank(body []byte, cohere bool, lim limits) (*rerankRequest, *apiError) {
	var raw rawRequest
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	r := &rerankRequest{format: formatCohere}
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
	if strings.TrimSpace(*raw.Query) == "" {
		return nil, badRequest(`field "query" must not be empty`)
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
		if *raw.TopN < 1 {
			return nil, badRequest(`field "top_n" must be at least 1, got %d`, *raw.TopN)
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
	o, err := parseScoreOptions(&raw, lim)
	if err != nil {
		return nil, err
	}
	r.opts = o
	return r, nil
}

// parseScoreOptions reads max_length, truncate, truncation, truncation_direction,
// max_chunks_per_doc and raw_scores.
func parseScoreOptions(raw *rawRequest, lim limits) (scoreOptions, *apiError) {
	o := scoreOptions{maxLength: lim.maxLength, truncate: true, mode: lim.defaultMode, maxChunks: lim.maxChunks}
	if raw.MaxLength != nil {
		n := *raw.MaxLength
		if n < lim.minMaxLength || n > lim.maxLength {
			return o, badRequest(`field "max_length" must be between %d and %d (--max-length), got %d`, lim.minMaxLength, lim.maxLength, n)
		}
		o.maxLength = n
	}
	if raw.Truncate != nil {
		o.truncate = *raw.Truncate
	}
	if raw.Truncation != nil {
		m := *raw.Truncation
		ok := false
		for _, v := range truncModes {
			ok = ok || v == m
		}
		if !ok {
			return o, badRequest(`field "truncation" must be one of %s, got %q`, strings.Join(truncModes, ", "), m)
		}
		o.mode = m
	}
	if raw.TruncationDirection != nil {
		switch strings.ToLower(*raw.TruncationDirection) {
		case "right":
		case "left":
			o.left = true
		default:
			return o, badRequest(`field "truncation_direction" must be "Right" or "Left", got %q`, *raw.TruncationDirection)
		}
	}
	if raw.MaxChunksPerDoc != nil {
		n := *raw.MaxChunksPerDoc
		if n < 1 || n > lim.maxChunks {
			return o, badRequest(`field "max_chunks_per_doc" must be between 1 and %d (--max-chunks), got %d`, lim.maxChunks, n)
		}
		o.maxChunks = n
	}
	o.rawScores = raw.RawScores != nil && *raw.RawScores
	return o, nil
}

// parseDocument reads a string, or (when objects are allowed) an object with a "text" string.
func parseDocument(m json.RawMessage, allowObject bool) (string, error) {
	t := strings.TrimLeft(string(m), " \t\r\n")
	if strings.HasPrefix(t, `"`) {
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	if allowObject && strings.HasPrefix(t, "{") {
		var obj struct {
			Text *json.RawMessage `json:"text"`
		}
		if err := json.Unmarshal(m, &obj); err != nil {
			return "", err
		}
		if obj.Text == nil {
			return "", errors.New(`object has no "text" field`)
		}
		var s string
		if err := json.Unmarshal(*obj.Text, &s); err != nil || strings.HasPrefix(strings.TrimSpace(string(*obj.Text)), "null") {
			return "", errors.New(`"text" must be a string`)
		}
		return s, nil
	}
	if allowObject {
		return "", fmt.Errorf(`must be a string or an object with a "text" string, got %s`, jsonValueKind(t))
	}
	return "", fmt.Errorf("must be a string, got %s", jsonValueKind(t))
}

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
