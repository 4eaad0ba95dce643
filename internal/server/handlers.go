package server

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

//go:embed openapi.json
var openAPISpec []byte

//go:embed swaggerui
var swaggerFS embed.FS

// Response shapes of the three dialects.
type (
	v1Response struct {
		ID            string       `json:"id"`
		Model         string       `json:"model"`
		Results       []v1Result   `json:"results"`
		RankedResults []seedResult `json:"ranked_results,omitempty"`
		Usage         usage        `json:"usage"`
		Meta          *meta        `json:"meta,omitempty"`
	}
	// meta is Cohere's ApiMeta: its SDKs' response schema requires it.
	meta struct {
		APIVersion  apiVersion  `json:"api_version"`
		BilledUnits billedUnits `json:"billed_units"`
	}
	apiVersion struct {
		Version string `json:"version"`
	}
	billedUnits struct {
		SearchUnits int `json:"search_units"` // Cohere: one per query and 100 documents
	}
	v1Result struct {
		Index          int      `json:"index"`
		RelevanceScore float64  `json:"relevance_score"`
		Document       *docText `json:"document,omitempty"`
		Truncated      bool     `json:"truncated,omitempty"`
	}
	docText struct {
		Text string `json:"text"`
	}
	seedResult struct {
		Index     int     `json:"index"`
		Score     float64 `json:"score"`
		Text      string  `json:"text"`
		Truncated bool    `json:"truncated,omitempty"`
	}
	teiResult struct {
		Index     int     `json:"index"`
		Score     float64 `json:"score"`
		Text      *string `json:"text,omitempty"`
		Truncated bool    `json:"truncated,omitempty"`
	}
	usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	}
	tokenOut struct {
		ID       int32  `json:"id"`
		Text     string `json:"text"`
		Special  bool   `json:"special"`
		Start    *int   `json:"start"`
		Stop     *int   `json:"stop"`
		Sequence *int   `json:"sequence,omitempty"`
	}
)

func (s *Server) handleV1Rerank(w http.ResponseWriter, r *http.Request) error {
	return s.serveRerank(w, r, "1")
}

func (s *Server) handleV2Rerank(w http.ResponseWriter, r *http.Request) error {
	return s.serveRerank(w, r, "2")
}

func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) error {
	return s.serveRerank(w, r, "")
}

// serveRerank answers the three dialects; cohereVersion is "1" or "2" on /v1/rerank and
// /v2/rerank, "" on /rerank.
func (s *Server) serveRerank(w http.ResponseWriter, r *http.Request, cohereVersion string) error {
	cohere := cohereVersion != ""
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, aerr := parseRerank(body, cohere, s.lim)
	if aerr != nil {
		return aerr
	}
	st, err := s.modelsOrUnavailable(w)
	if err != nil {
		return err
	}
	m, err := st.pick(taskRerank, req.model)
	if err != nil {
		return err
	}
	res, tokens, err := s.rank(r.Context(), w, st.batch, m, req.query, req.docs, req.opts, req.field())
	if err != nil {
		return err
	}
	if req.topN > 0 && req.topN < len(res) {
		res = res[:req.topN]
	}
	raw := req.opts.rawScores
	if req.format == formatTEI {
		out := make([]teiResult, len(res))
		for k, x := range res {
			out[k] = teiResult{Index: x.Index, Score: score(x, raw), Truncated: x.Truncated}
			if req.returnDocs {
				out[k].Text = &req.docs[x.Index]
			}
		}
		writeJSON(w, 200, out)
		return nil
	}
	resp := v1Response{ID: w.Header().Get("X-Request-Id"), Model: m.info.ID, Results: make([]v1Result, len(res)),
		Usage: usage{PromptTokens: tokens, TotalTokens: tokens}}
	for k, x := range res {
		// Cohere's result has index, relevance_score and document only, and strict clients
		// (Elasticsearch's Cohere parser) fail on any other key: truncation is reported in
		// the other dialects
		resp.Results[k] = v1Result{Index: x.Index, RelevanceScore: score(x, raw), Truncated: x.Truncated && !cohere}
		if req.returnDocs {
			resp.Results[k].Document = &docText{req.docs[x.Index]}
		}
	}
	if cohere {
		resp.Meta = &meta{APIVersion: apiVersion{cohereVersion}, BilledUnits: billedUnits{(len(req.docs) + 99) / 100}}
	}
	if req.format == formatSeed {
		resp.RankedResults = make([]seedResult, len(res))
		for k, x := range res {
			resp.RankedResults[k] = seedResult{Index: x.Index, Score: score(x, raw), Text: req.docs[x.Index], Truncated: x.Truncated}
		}
	}
	writeJSON(w, 200, resp)
	return nil
}

func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req tokenizeRequest
	if aerr := decodeJSON(body, &req); aerr != nil {
		return aerr
	}
	st, err := s.modelsOrUnavailable(w)
	if err != nil {
		return err
	}
	name := ""
	if req.Model != nil {
		name = *req.Model
	}
	m, err := st.pickTokenizer(name)
	if err != nil {
		return err
	}
	tok := m.tokenizer()
	// /tokenize shows whole texts with tokens and offsets (~150 bytes of answer a token), so
	// its answer is bounded: each text by what any model input could use, the whole answer
	// by --max-inflight-tokens, whose budget it holds while it is built (admit.go). Texts are
	// counted first with a count that stops at the limit.
	perText := s.cfg.MaxLength * s.cfg.MaxChunks
	total := s.cfg.MaxInflightTokens
	counted := 0
	count := func(field string, texts ...string) error {
		for i, t := range texts {
			limit := max(min(perText, total-counted), 1) // Count's 0 would be no limit
			n, more, err := m.pipeline().Count(t, limit)
			if err != nil {
				return fmt.Errorf("tokenizing: %w", err)
			}
			switch {
			case more && n >= perText:
				return tooLarge("%s[%d] has more than %d tokens (--max-length × --max-chunks), more than /tokenize shows", field, i, perText)
			case more || counted+n > total:
				return tooLarge("the texts have more than %d tokens in all (--max-inflight-tokens), more than one /tokenize answer holds; send fewer at a time", total)
			}
			counted += n
		}
		return nil
	}
	var out [][]tokenOut
	if req.Inputs != nil && string(req.Inputs) != "null" {
		var texts []string
		if err := json.Unmarshal(req.Inputs, &texts); err != nil {
			var one string
			if err := json.Unmarshal(req.Inputs, &one); err != nil {
				return badRequest(`field "inputs" must be a string or an array of strings`)
			}
			texts = []string{one}
		}
		if len(texts) == 0 {
			return badRequest(`field "inputs" must not be empty`)
		}
		if len(texts) > s.cfg.MaxDocuments {
			return tooLarge(`field "inputs" has %d entries, over the limit of %d (--max-documents)`, len(texts), s.cfg.MaxDocuments)
		}
		if err := s.reserveTokens(w, r.Context(), int64(len(texts))*int64(perText)); err != nil {
			return err
		}
		if err := count("inputs", texts...); err != nil {
			return err
		}
		special := req.AddSpecialTokens == nil || *req.AddSpecialTokens
		for _, t := range texts {
			enc, err := tok.Encode(t, tokenizer.Options{NoSpecial: !special, MaxLength: 0})
			if err != nil {
				return fmt.Errorf("tokenizing: %w", err)
			}
			out = append(out, tokensOf(enc, false))
		}
		writeJSON(w, 200, out)
		return nil
	}
	rr, aerr := parseRawRerank(&req.rawRequest, false, s.lim)
	if aerr != nil {
		return badRequest(`give "inputs" (texts) or "query" and "documents" (pairs): %s`, aerr.msg)
	}
	if m.task != taskRerank { // pairs are a reranker's input
		if m, err = st.pick(taskRerank, name); err != nil {
			return err
		}
		tok = m.tokenizer()
	}
	if err := s.reserveTokens(w, r.Context(), int64(len(rr.docs)+1)*int64(perText)); err != nil {
		return err
	}
	if err := count("query", rr.query); err != nil {
		return err
	}
	if err := count(rr.field(), rr.docs...); err != nil {
		return err
	}
	// the ids the model sees (the scoring pipeline, every text whole for exact positions),
	// with the tokens and offsets of each text's own encoding
	p := m.pipeline().Exact()
	var inputs []gorerank.Input
	show := func(_ context.Context, in []gorerank.Input, _ []float32) error { // what /tokenize shows instead of a forward pass
		inputs = in
		return nil
	}
	if _, err := gorerank.Score(r.Context(), p, rr.query, rr.docs, rr.opts.score, show); err != nil {
		return s.scoreError(r.Context(), err, rr.field(), nil)
	}
	pairTokens := 0
	for _, in := range inputs {
		pairTokens += in.Tokens()
	}
	if pairTokens > total { // the query is repeated in every pair
		return tooLarge("the pairs have %d tokens in all, more than one /tokenize answer holds (%d, --max-inflight-tokens); send fewer documents at a time", pairTokens, total)
	}
	qe, err := tok.Encode(rr.query, tokenizer.Options{NoSpecial: true})
	if err != nil {
		return fmt.Errorf("tokenizing: %w", err)
	}
	tmpl := p.Template()
	for i, in := range inputs {
		de, err := tok.Encode(rr.docs[i], tokenizer.Options{NoSpecial: true})
		if err != nil {
			return fmt.Errorf("tokenizing: %w", err)
		}
		for k := range in.Seqs {
			sp := in.Spans[k]
			var toks []tokenOut
			special := func(ids []int32) {
				for _, id := range ids {
					toks = append(toks, tokenOut{ID: id, Text: tok.Token(id), Special: true, Sequence: ptr(-1)})
				}
			}
			text := func(e *tokenizer.Encoding, from, to, seq int) {
				for j := from; j < to; j++ {
					a, b := e.ByteOffsets[j][0], e.ByteOffsets[j][1]
					toks = append(toks, tokenOut{ID: e.IDs[j], Text: e.Tokens[j], Start: &a, Stop: &b, Sequence: ptr(seq)})
				}
			}
			special(tmpl.Prefix)
			text(qe, sp[0], sp[1], 0)
			special(tmpl.Middle)
			text(de, sp[2], sp[3], 1)
			special(tmpl.Suffix)
			out = append(out, toks)
		}
	}
	writeJSON(w, 200, out)
	return nil
}

func ptr(v int) *int { return &v }

func tokensOf(e *tokenizer.Encoding, pair bool) []tokenOut {
	out := make([]tokenOut, len(e.IDs))
	for i, id := range e.IDs {
		t := tokenOut{ID: id}
		if i < len(e.Tokens) {
			t.Text = e.Tokens[i]
		}
		seq := 0
		if i < len(e.SequenceIDs) {
			seq = e.SequenceIDs[i]
		}
		t.Special = seq < 0
		if !t.Special && i < len(e.ByteOffsets) {
			a, b := e.ByteOffsets[i][0], e.ByteOffsets[i][1]
			t.Start, t.Stop = &a, &b
		}
		if pair {
			sq := seq
			t.Sequence = &sq
		}
		out[i] = t
	}
	return out
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) error {
	st, err := s.modelsOrUnavailable(w)
	if err != nil {
		return err
	}
	c := s.cfg
	// TEI's shape at the top level, for the first reranker (or the first model); every
	// served model under "models"
	info := modelInfo(st.first())
	for k, v := range map[string]any{
		"max_input_length":        c.MaxLength,
		"max_batch_tokens":        c.MaxBatchTokens,
		"max_batch_requests":      c.MaxBatchSize,
		"max_concurrent_requests": c.MaxConcurrentRequests,
		"max_client_batch_size":   c.MaxDocuments,
		"max_inflight_bytes":      c.MaxInflightBytes,
		"max_inflight_tokens":     c.MaxInflightTokens,
		"max_body_bytes":          c.MaxBodyBytes,
		"request_timeout_seconds": c.RequestTimeout.Seconds(),
		"auto_truncate":           true,
		"truncation":              c.Truncation,
		"window_overlap":          c.WindowOverlap,
		"max_chunks_per_doc":      c.MaxChunks,
		"cache_size":              c.CacheSize,
		"cache_bytes":             c.CacheBytes,
		"workers":                 c.Workers,
		"auth":                    c.APIKey != "",
		"version":                 c.Version,
		"cpu_tier":                tensor.Tier().Name,
		"cpu_kernels":             tensor.Tier().String(),
	} {
		info[k] = v
	}
	var models []map[string]any
	for _, m := range st.models {
		models = append(models, modelInfo(m))
	}
	info["models"] = models
	if sk := s.kbase.Load(); sk != nil {
		info["knowledge_base"] = kbInfo(r.Context(), sk)
	}
	for k, v := range c.Extra {
		if _, taken := info[k]; !taken {
			info[k] = v
		}
	}
	writeJSON(w, 200, info)
	return nil
}

// modelInfo describes one served model for /info.
func modelInfo(m *served) map[string]any {
	i := m.info
	out := map[string]any{
		"model_id":            i.ID,
		"model_path":          i.Path,
		"model_dtype":         i.DType,
		"weights_dtype":       i.Storage,
		"compute_dtype":       i.Compute,
		"checkpoint_dtype":    i.Checkpoint,
		"model_type":          i.Type,
		"max_position_tokens": i.MaxTokens,
		"task":                string(m.task),
	}
	if m.embed != nil {
		var outs []string
		o := m.embed.Outputs()
		for _, x := range []struct {
			bit  xlmr.Outputs
			name string
		}{{xlmr.OutputDense, "dense"}, {xlmr.OutputSparse, "sparse"}, {xlmr.OutputColBERT, "colbert"}} {
			if o&x.bit != 0 {
				outs = append(outs, x.name)
			}
		}
		out["outputs"] = outs
		out["dimensions"] = m.embed.Dim()
	}
	if i.Revision != "" {
		out["model_sha"] = i.Revision
	}
	if i.Config != nil {
		out["config"] = i.Config
	}
	return out
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, 200, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.modelsOrUnavailable(w); err != nil {
		return err
	}
	if err := s.notDraining(w); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPISpec)
	return nil
}

func (s *Server) handleDocs(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path == "/docs" {
		http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
		return nil
	}
	name := strings.TrimPrefix(r.URL.Path, "/docs/")
	if name == "" {
		name = "index.html"
	}
	if strings.Contains(name, "/") {
		return &apiError{status: 404, typ: errNotFound, msg: "no such file under /docs/"}
	}
	sub, _ := fs.Sub(swaggerFS, "swaggerui")
	data, err := fs.ReadFile(sub, name)
	if err != nil {
		return &apiError{status: 404, typ: errNotFound, msg: "no such file under /docs/"}
	}
	switch {
	case strings.HasSuffix(name, ".html"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".png"):
		w.Header().Set("Content-Type", "image/png")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(data)
	return nil
}
