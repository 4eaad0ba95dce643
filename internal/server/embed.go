package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/xlmr"
)

// The embedding routes: OpenAI's POST /v1/embeddings and TEI's POST /embed, /embed_sparse and
// /embed_colbert, through gorerank.Embed or gorerank.EmbedTokens (the policy every door
// applies) with the shared batcher as the forward pass.

// embedRequest is the union of the fields of OpenAI's and TEI's embedding requests. Keys
// match exactly; unknown keys are ignored.
type embedRequest struct {
	Model               *string         `json:"model"`
	Input               json.RawMessage `json:"input"`  // OpenAI
	Inputs              json.RawMessage `json:"inputs"` // TEI
	EncodingFormat      *string         `json:"encoding_format"`
	Dimensions          *int            `json:"dimensions"`
	User                *string         `json:"user"`
	Normalize           *bool           `json:"normalize"`
	Truncate            *bool           `json:"truncate"`
	TruncationDirection *string         `json:"truncation_direction"`
	PromptName          *string         `json:"prompt_name"`
}

// embedInput is a parsed input: texts, or (OpenAI) texts given as token ids.
type embedInput struct {
	field string // "input" or "inputs", for errors
	texts []string
	ids   [][]int32
	// noCache: the texts are neither looked up in the cache nor kept there (a knowledge
	// base's chunks: it keeps their embeddings itself)
	noCache bool
}

func (in *embedInput) len() int { return max(len(in.texts), len(in.ids)) }

// subset is the inputs at the indices idx, in that order.
func (in *embedInput) subset(idx []int) *embedInput {
	if len(idx) == in.len() {
		return in
	}
	sub := &embedInput{field: in.field}
	for _, i := range idx {
		if in.texts != nil {
			sub.texts = append(sub.texts, in.texts[i])
		} else {
			sub.ids = append(sub.ids, in.ids[i])
		}
	}
	return sub
}

// parseEmbedInput reads a string, a list of strings, a list of token ids or a list of lists
// of token ids (the last two only where ids are allowed).
func parseEmbedInput(raw json.RawMessage, field string, ids bool, maxInputs int) (*embedInput, *apiError) {
	in := &embedInput{field: field}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badRequest("field %q is required", field)
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		in.texts = []string{one}
		return in, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, badRequest("field %q must be a string or a list of strings%s, got %s", field, idsWord(ids), jsonValueKind(head(raw)))
	}
	if len(list) == 0 {
		return nil, badRequest("field %q must not be empty", field)
	}
	if len(list) > maxInputs {
		return nil, tooLarge("field %q has %d inputs, over the limit of %d (--max-documents)", field, len(list), maxInputs)
	}
	switch first := head(list[0]); {
	case strings.HasPrefix(first, `"`), strings.HasPrefix(first, "{"):
		// strings, or Jina's {"text": ...} objects (its embeddings API and clients send them)
		in.texts = make([]string, len(list))
		for i, e := range list {
			if json.Unmarshal(e, &in.texts[i]) == nil {
				continue
			}
			var obj struct {
				Text *string `json:"text"`
			}
			if json.Unmarshal(e, &obj) != nil || obj.Text == nil {
				return nil, badRequest(`%s[%d] must be a string or an object with a "text" string, got %s`, field, i, jsonValueKind(head(e)))
			}
			in.texts[i] = *obj.Text
		}
	case ids && strings.HasPrefix(first, "["):
		in.ids = make([][]int32, len(list))
		for i, e := range list {
			if json.Unmarshal(e, &in.ids[i]) != nil {
				return nil, badRequest("%s[%d] must be a list of token ids (integers) like the inputs before it", field, i)
			}
		}
	case ids:
		var one []int32
		if json.Unmarshal(raw, &one) != nil {
			return nil, badRequest("field %q must be a string, a list of strings, a list of token ids or a list of lists of token ids", field)
		}
		in.ids = [][]int32{one}
	default:
		return nil, badRequest("field %q must be a string or a list of strings, got a list of %s", field, jsonValueKind(first))
	}
	return in, nil
}

func idsWord(ids bool) string {
	if ids {
		return " (or token ids)"
	}
	return ""
}

// teiTruncation reads TEI's truncate and truncation_direction (default: truncate, from the
// right, as /info's auto_truncate says).
func teiTruncation(req *embedRequest) (gorerank.EmbedOptions, *apiError) {
	o := gorerank.EmbedOptions{Truncate: true}
	if req.Truncate != nil {
		o.Truncate = *req.Truncate
	}
	if req.TruncationDirection != nil {
		switch strings.ToLower(*req.TruncationDirection) {
		case "right":
		case "left":
			o.Left = true
		default:
			return o, badRequest(`field "truncation_direction" must be "Left" or "Right", got %q`, *req.TruncationDirection)
		}
	}
	return o, nil
}

// embed runs the texts of in through m: the cache, then for the others admission's token
// gate, the pipeline's single-text policy, the batcher. It returns the embeddings in order
// (each holding the outputs o asks for) and the tokens read.
func (s *Server) embed(ctx context.Context, w http.ResponseWriter, b *batcher, m *served, in *embedInput, o gorerank.EmbedOptions) ([]gorerank.Embedding, int, error) {
	p := m.pipeline()
	if miss := o.Outputs &^ m.embed.Outputs(); miss != 0 {
		return nil, 0, badRequest("model %s does not compute the %s output (its folder has no %s)", m.info.ID, outputName(miss), headFile(miss))
	}
	o, err := p.CheckEmbed(o)
	if err != nil {
		return nil, 0, s.scoreError(ctx, err, in.field, nil)
	}
	out := make([]gorerank.Embedding, in.len())
	keys := make([]cacheKey, in.len())
	var miss []int
	cache := s.cache
	if in.noCache {
		cache = nil
	}
	for i := range out {
		if cache == nil {
			miss = append(miss, i)
			continue
		}
		keys[i] = embedKey(m.info.ID, in, i, o)
		if v, ok := cache.get(keys[i]); ok {
			out[i] = gorerank.Embedding{Embedding: *v.emb, Tokens: int(v.tokens), Truncated: v.truncated}
			s.m.cacheHits.Inc()
			continue
		}
		s.m.cacheMisses.Inc()
		miss = append(miss, i)
	}
	if len(miss) > 0 {
		embs, err := s.embedMisses(ctx, w, b, m, in.subset(miss), o)
		if err != nil {
			return nil, 0, s.scoreError(ctx, err, in.field, miss)
		}
		for n, i := range miss {
			v := cacheValue{emb: cachedEmbedding(&embs[n].Embedding, o.Outputs), tokens: int32(embs[n].Tokens), truncated: embs[n].Truncated}
			out[i] = gorerank.Embedding{Embedding: *v.emb, Tokens: embs[n].Tokens, Truncated: v.truncated}
			cache.put(keys[i], v)
		}
	}
	tokens := 0
	for _, e := range out {
		tokens += e.Tokens
	}
	return out, tokens, nil
}

// embedMisses runs the texts of in that the cache did not answer: admission's token gate,
// the pipeline's single-text policy, the batcher. o is checked.
func (s *Server) embedMisses(ctx context.Context, w http.ResponseWriter, b *batcher, m *served, in *embedInput, o gorerank.EmbedOptions) ([]gorerank.Embedding, error) {
	p := m.pipeline()
	// gate 2 (admit.go): a text becomes at most one token per character plus the word
	// boundary and the special tokens (text normalization that expands characters can
	// exceed it: the difference is reserved once tokenized)
	tmpl := p.Template()
	specials := len(tmpl.SinglePrefix) + len(tmpl.SingleSuffix)
	bound := int64(0)
	for i := range in.len() {
		n := o.MaxLength
		if in.texts != nil {
			n = min(n, utf8.RuneCountInString(in.texts[i])+1+specials)
		} else {
			n = min(n, len(in.ids[i])+specials)
		}
		bound += int64(n)
	}
	if err := s.reserveTokens(w, ctx, bound); err != nil {
		return nil, err
	}
	forward := func(ctx context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
		tokens := 0
		for _, seq := range seqs {
			tokens += len(seq)
		}
		if err := s.settleTokens(w, ctx, int64(tokens)); err != nil {
			return err
		}
		res, err := b.submit(ctx, m.lane, seqs, want)
		if err != nil {
			return err
		}
		for k := range out {
			out[k] = res[k].emb
		}
		return nil
	}
	if in.texts != nil {
		return gorerank.Embed(ctx, p, in.texts, o, forward)
	}
	return gorerank.EmbedTokens(ctx, p, in.ids, m.embed.Vocab(), o, forward)
}

func outputName(o xlmr.Outputs) string {
	switch {
	case o&xlmr.OutputSparse != 0:
		return "sparse"
	case o&xlmr.OutputColBERT != 0:
		return "colbert"
	}
	return "dense"
}

func headFile(o xlmr.Outputs) string {
	switch {
	case o&xlmr.OutputSparse != 0:
		return "sparse_linear.pt"
	case o&xlmr.OutputColBERT != 0:
		return "colbert_linear.pt"
	}
	return "weights"
}

// pickEmbedder parses the request's model and finds the embedder.
func (s *Server) pickEmbedder(w http.ResponseWriter, req *embedRequest) (*modelSet, *served, error) {
	st, err := s.modelsOrUnavailable(w)
	if err != nil {
		return nil, nil, err
	}
	name := ""
	if req.Model != nil {
		name = *req.Model
	}
	m, err := st.pick(taskEmbed, name)
	if err != nil {
		return nil, nil, err
	}
	if req.Dimensions != nil && *req.Dimensions != m.embed.Dim() {
		return nil, nil, badRequest(`field "dimensions": %d, but model %s has %d dimensions (it cannot shorten its vectors)`, *req.Dimensions, m.info.ID, m.embed.Dim())
	}
	return st, m, nil
}

func (s *Server) readEmbedRequest(w http.ResponseWriter, r *http.Request) (*embedRequest, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var req embedRequest
	if aerr := decodeJSON(body, &req); aerr != nil {
		return nil, aerr
	}
	return &req, nil
}

// OpenAI's response.
type (
	openAIEmbeddings struct {
		Object string            `json:"object"`
		Data   []openAIEmbedding `json:"data"`
		Model  string            `json:"model"`
		Usage  usage             `json:"usage"`
	}
	openAIEmbedding struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"` // []float32, or a base64 string
	}
)

// handleOpenAIEmbeddings is POST /v1/embeddings: the dense output.
func (s *Server) handleOpenAIEmbeddings(w http.ResponseWriter, r *http.Request) error {
	req, err := s.readEmbedRequest(w, r)
	if err != nil {
		return err
	}
	base64Out := false
	if req.EncodingFormat != nil {
		switch *req.EncodingFormat {
		case "float":
		case "base64":
			base64Out = true
		default:
			return badRequest(`field "encoding_format" must be "float" or "base64", got %q`, *req.EncodingFormat)
		}
	}
	in, aerr := parseEmbedInput(req.Input, "input", true, s.cfg.MaxDocuments)
	if aerr != nil {
		return aerr
	}
	st, m, err := s.pickEmbedder(w, req)
	if err != nil {
		return err
	}
	// OpenAI refuses an input longer than the model's context instead of cutting it
	embs, tokens, err := s.embed(r.Context(), w, st.batch, m, in, gorerank.EmbedOptions{Outputs: xlmr.OutputDense})
	if err != nil {
		return err
	}
	resp := openAIEmbeddings{Object: "list", Data: make([]openAIEmbedding, len(embs)), Model: m.info.ID,
		Usage: usage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, e := range embs {
		var v any = e.Dense
		if base64Out {
			b := make([]byte, 4*len(e.Dense))
			for k, x := range e.Dense {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(x))
			}
			v = base64.StdEncoding.EncodeToString(b)
		}
		resp.Data[i] = openAIEmbedding{Object: "embedding", Index: i, Embedding: v}
	}
	writeJSON(w, 200, resp)
	return nil
}

// teiEmbed reads a TEI embedding request and runs it for the outputs want.
func (s *Server) teiEmbed(w http.ResponseWriter, r *http.Request, want xlmr.Outputs) ([]gorerank.Embedding, error) {
	req, err := s.readEmbedRequest(w, r)
	if err != nil {
		return nil, err
	}
	if req.Normalize != nil && !*req.Normalize && want == xlmr.OutputDense {
		return nil, badRequest(`field "normalize": false is not supported: bge-m3's dense vector is the normalised <s> state (FlagEmbedding's output)`)
	}
	if req.PromptName != nil {
		return nil, badRequest(`field "prompt_name": the model has no prompts`)
	}
	in, aerr := parseEmbedInput(req.Inputs, "inputs", false, s.cfg.MaxDocuments)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := teiTruncation(req)
	if aerr != nil {
		return nil, aerr
	}
	o.Outputs = want
	st, m, err := s.pickEmbedder(w, req)
	if err != nil {
		return nil, err
	}
	embs, _, err := s.embed(r.Context(), w, st.batch, m, in, o)
	return embs, err
}

// handleEmbed is TEI's POST /embed: one dense vector per input.
func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) error {
	embs, err := s.teiEmbed(w, r, xlmr.OutputDense)
	if err != nil {
		return err
	}
	out := make([][]float32, len(embs))
	for i, e := range embs {
		out[i] = e.Dense
	}
	writeJSON(w, 200, out)
	return nil
}

// sparseValue is one entry of TEI's sparse embedding.
type sparseValue struct {
	Index int32   `json:"index"`
	Value float32 `json:"value"`
}

// handleEmbedSparse is TEI's POST /embed_sparse: per input, its lexical weights by token id,
// ids ascending.
func (s *Server) handleEmbedSparse(w http.ResponseWriter, r *http.Request) error {
	embs, err := s.teiEmbed(w, r, xlmr.OutputSparse)
	if err != nil {
		return err
	}
	out := make([][]sparseValue, len(embs))
	for i := range embs {
		ids, vals := embs[i].SparseSorted()
		out[i] = make([]sparseValue, len(ids))
		for k := range ids {
			out[i][k] = sparseValue{ids[k], vals[k]}
		}
	}
	writeJSON(w, 200, out)
	return nil
}

// handleEmbedColBERT is POST /embed_colbert: per input, one vector per token after <s>.
func (s *Server) handleEmbedColBERT(w http.ResponseWriter, r *http.Request) error {
	embs, err := s.teiEmbed(w, r, xlmr.OutputColBERT)
	if err != nil {
		return err
	}
	out := make([][][]float32, len(embs))
	for i, e := range embs {
		out[i] = e.ColBERT
	}
	writeJSON(w, 200, out)
	return nil
}
