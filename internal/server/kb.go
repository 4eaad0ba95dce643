package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/kb"
	"github.com/gorerank/gorerank/xlmr"
)

// The knowledge base routes (rerank serve --kb DIR), over package kb:
//
//	POST   /v1/search          the chunks that best answer a query (kb.KB.Search)
//	POST   /v1/documents       add or replace documents (kb.KB.Add)
//	GET    /v1/documents/{id}  a document, its metadata and its chunks (kb.KB.Get)
//	DELETE /v1/documents/{id}  remove a document (kb.KB.Remove)
//
// They are routes that work like the others: admitted (a request slot, the body's bytes, then
// the tokens of what they embed and rerank), bounded by --max-body-bytes, --max-documents
// and --request-timeout, counted in the metrics by route, answered through a drain, with the
// same error body. The knowledge base's forward passes (the query's embedding, the chunks'
// embeddings, the reranking of what recall found) run through the server's own embedding
// and rerank paths ([Server.KBOptions]): the same token budget, cache and batcher as
// /v1/embeddings and /v1/rerank, so that knowledge base traffic and the other routes share
// the model fairly. Without a knowledge base the routes answer 404.

// documentsPrefix is the path of a document's route, its id after it (percent-encoded as
// any path: an id "docs/a.md" is /v1/documents/docs/a.md or /v1/documents/docs%2Fa.md).
const documentsPrefix = "/v1/documents/"

// servedKnowledgeBase is the knowledge base the routes serve and the served models that run
// it, as /info names them.
type servedKnowledgeBase struct {
	kb       *kb.KB
	embedder string // the model id of the served embedder that embeds its chunks and queries
	reranker string // the model id of the served reranker that reranks; "": none
}

// SetKB serves k on the knowledge base routes (nil: none; they answer 404). Open k with the
// forward passes of [Server.KBOptions], and give SetKB the embedder and reranker given to
// it (reranker nil: none), which /info names; its caller closes k after [Server.Shutdown].
func (s *Server) SetKB(k *kb.KB, embedder EmbedEngine, reranker Engine) {
	if k == nil {
		s.kbase.Store(nil)
		return
	}
	sk := &servedKnowledgeBase{kb: k}
	if embedder != nil {
		sk.embedder = embedder.Info().ID
	}
	if reranker != nil {
		sk.reranker = reranker.Info().ID
	}
	s.kbase.Store(sk)
}

// KBOptions returns kb.Options with the forward passes (EmbedFunc, RerankFunc) that run a
// knowledge base's work on the served models embedder and reranker (the values given to
// [Server.SetModels]; reranker nil: recall's order is the answer) through the request it
// works for: its token budget, the cache (the query's embedding and the rerank scores; a
// document's chunks are not cached, the knowledge base keeps their embeddings) and the
// batcher. The caller adds the embedder (kb.Options.Embedder, which kb.Open checks against
// the knowledge base's identity) and opens it. The forward passes answer only within the
// knowledge base routes' requests.
func (s *Server) KBOptions(embedder EmbedEngine, reranker Engine) kb.Options {
	o := kb.Options{EmbedFunc: func(ctx context.Context, texts []string, eo gorerank.EmbedOptions) ([]gorerank.Embedding, error) {
		return s.kbEmbed(ctx, embedder, texts, eo)
	}}
	if reranker != nil {
		o.RerankFunc = func(ctx context.Context, query string, docs []string) ([]gorerank.Result, error) {
			return s.kbRerank(ctx, reranker, query, docs)
		}
	}
	return o
}

// kbRequest is what the knowledge base's forward passes need of the request they work for.
type kbRequest struct {
	w      http.ResponseWriter // for Retry-After when the token budget's wait ends
	field  string              // how errors name the texts: "query" or "chunks"
	chunks bool                // a document's chunks: not cached
}

type kbRequestKey struct{}

func withKBRequest(ctx context.Context, req *kbRequest) context.Context {
	return context.WithValue(ctx, kbRequestKey{}, req)
}

// kbModel finds the request and the served model e for a knowledge base forward pass.
func (s *Server) kbModel(ctx context.Context, e any) (*kbRequest, *modelSet, *served, error) {
	req, _ := ctx.Value(kbRequestKey{}).(*kbRequest)
	if req == nil {
		return nil, nil, nil, errors.New("server: a knowledge base forward pass outside a knowledge base request")
	}
	st, err := s.modelsOrUnavailable(req.w)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, m := range st.models {
		if (m.embed != nil && any(m.embed) == e) || (m.rerank != nil && any(m.rerank) == e) {
			return req, st, m, nil
		}
	}
	return nil, nil, nil, errors.New("server: the knowledge base's model is not among the served models")
}

// kbEmbed is the knowledge base's EmbedFunc: the embedding routes' path (s.embed).
func (s *Server) kbEmbed(ctx context.Context, e EmbedEngine, texts []string, o gorerank.EmbedOptions) ([]gorerank.Embedding, error) {
	req, st, m, err := s.kbModel(ctx, e)
	if err != nil {
		return nil, err
	}
	embs, _, err := s.embed(ctx, req.w, st.batch, m, &embedInput{field: req.field, texts: texts, noCache: req.chunks}, o)
	return embs, err
}

// kbRerank is the knowledge base's RerankFunc: the rerank routes' path (s.rank) with the
// options of a rerank request that sets none (the server's --max-length and --truncation).
func (s *Server) kbRerank(ctx context.Context, e Engine, query string, docs []string) ([]gorerank.Result, error) {
	req, st, m, err := s.kbModel(ctx, e)
	if err != nil {
		return nil, err
	}
	o, aerr := parseScoreOptions(&rawRequest{}, s.lim)
	if aerr != nil {
		return nil, aerr
	}
	res, _, err := s.rank(ctx, req.w, st.batch, m, query, docs, o, "chunks")
	for i := range res {
		res[i].Score = xlmr.Sigmoid(res[i].Logit) // a cached score carries its logit alone
	}
	return res, err
}

// servedKB is the knowledge base: 503 while the models load (as the other routes), 404
// when the server has none.
func (s *Server) servedKB(w http.ResponseWriter) (*kb.KB, error) {
	if _, err := s.modelsOrUnavailable(w); err != nil {
		return nil, err
	}
	sk := s.kbase.Load()
	if sk == nil {
		return nil, &apiError{status: 404, typ: errNotFound, msg: "no knowledge base: start the server with --kb DIR"}
	}
	return sk.kb, nil
}

// kbError maps an error of the knowledge base k to an HTTP answer: the forward passes' own
// answers (admission, the pipeline's client errors) as they are, the knowledge base's client
// errors to 400, a corrupt knowledge base to a 500 that says so (corruptKB), the rest as
// scoreError does (timeouts, shutdown; anything else an internal error, logged).
func (s *Server) kbError(ctx context.Context, k *kb.KB, err error) error {
	var ae *apiError
	var ce *kb.CorruptError
	msg := strings.TrimPrefix(err.Error(), "kb: ")
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ce):
		return s.corruptKB(ctx, k, ce)
	case errors.Is(err, kb.ErrEmptyQuery):
		return badRequest(`field "query": %s`, strings.TrimPrefix(kb.ErrEmptyQuery.Error(), "kb: "))
	case errors.Is(err, kb.ErrOptions):
		return badRequest("%s", msg)
	}
	return s.scoreError(ctx, err, "", nil)
}

// corruptKB is the answer to a request that met a corrupt knowledge base (kb.CorruptError,
// which nothing serves): 500, type knowledge_base_corrupt, the damaged file and what to do.
// It is logged here, once, at error level: the request's error is an answer already, which
// the route does not log again.
func (s *Server) corruptKB(ctx context.Context, k *kb.KB, ce *kb.CorruptError) *apiError {
	id, _ := ctx.Value(requestIDKey{}).(string)
	s.log.ErrorContext(ctx, "knowledge base corrupt", "request_id", id, "kb", k.Dir(), "file", ce.File, "error", ce.What)
	return &apiError{status: 500, typ: errKBCorrupt, msg: fmt.Sprintf("%s (request id %s)", corruptMessage(k.Dir(), ce), id)}
}

// corruptMessage says that the knowledge base in dir is corrupt, which file, and what to do.
// kb export reads every record through its checksum as search does, so it cannot copy out a
// corrupt one: the way back is the sources or a copy.
func corruptMessage(dir string, ce *kb.CorruptError) string {
	return fmt.Sprintf("the knowledge base is corrupt: %s: %s; nothing corrupt is served. "+
		"Run `rerank kb check %s` to see the first problem, then rebuild the knowledge base from its source documents "+
		"(`rerank kb init NEWDIR --embedder ...` and `rerank kb add NEWDIR ...`) or restore a copy, and restart the server with --kb NEWDIR",
		filepath.Join(dir, ce.File), ce.What, dir)
}

// kbInfo is the knowledge_base object of /info: where the knowledge base is, what it holds
// (kb.Stats: cheap while nothing is committed, see there) and the served models that run it.
// A knowledge base that cannot say (a corrupt one) is described with the error instead of
// the counts: /info still answers.
func kbInfo(ctx context.Context, sk *servedKnowledgeBase) map[string]any {
	c := sk.kb.Config()
	out := map[string]any{
		"path":         sk.kb.Dir(),
		"embedder":     sk.embedder,
		"reranker":     nil,
		"vector_dtype": c.Vectors,
		"dimensions":   c.Dim,
		"chunk_tokens": c.ChunkTokens,
		"overlap":      c.Overlap,
	}
	if sk.reranker != "" {
		out["reranker"] = sk.reranker
	}
	st, err := sk.kb.Stats(ctx)
	var ce *kb.CorruptError
	switch {
	case errors.As(err, &ce):
		out["error"] = corruptMessage(sk.kb.Dir(), ce)
	case err != nil:
		out["error"] = strings.TrimPrefix(err.Error(), "kb: ")
	default:
		out["documents"] = st.Documents
		out["chunks"] = st.Chunks
		out["tokens"] = st.Tokens
		out["dead_rows"] = st.DeadRows
		out["memory_bytes"] = st.MemoryBytes
	}
	return out
}

// searchRequest is POST /v1/search's body. Unknown keys are an error (decodeStrictJSON).
// Every option is kb.SearchOptions', checked there (kb.ErrOptions: a 400).
type searchRequest struct {
	Query  *string        `json:"query"`
	TopK   int            `json:"top_k"` // 0: kb.DefaultTopK
	TopN   int            `json:"top_n"` // 0: kb.DefaultTopN
	Mode   string         `json:"mode"`
	Fusion string         `json:"fusion"`
	Rerank *bool          `json:"rerank"` // default true
	Filter map[string]any `json:"filter"`
	// fusion "weighted" only; both 0 or absent: the paper's 1 and 0.3 (kb.SearchOptions)
	DenseWeight  float64 `json:"dense_weight"`
	SparseWeight float64 `json:"sparse_weight"`
}

// handleSearch is POST /v1/search: kb.KB.Search, answered in its JSON form
// (kb.SearchResult.MarshalJSON, what rerank kb search --json prints).
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	k, err := s.readKBRequest(w, r, &req)
	if err != nil {
		return err
	}
	if req.Query == nil {
		return badRequest(`field "query" is required`)
	}
	o := kb.SearchOptions{TopK: req.TopK, TopN: req.TopN, Mode: kb.Mode(req.Mode), Fusion: kb.Fusion(req.Fusion),
		DenseWeight: float32(req.DenseWeight), SparseWeight: float32(req.SparseWeight), // beyond float32: ±Inf, refused
		NoRerank: req.Rerank != nil && !*req.Rerank, Filter: req.Filter}
	ctx := withKBRequest(r.Context(), &kbRequest{w: w, field: "query"})
	res, err := k.Search(ctx, *req.Query, o)
	if err != nil {
		return s.kbError(ctx, k, err)
	}
	writeJSON(w, 200, res)
	return nil
}

// documentsRequest is POST /v1/documents' body: documents as kb.ParseDocument reads them
// (the JSON lines of rerank kb add).
type documentsRequest struct {
	Documents []json.RawMessage `json:"documents"`
}

type (
	documentsResponse struct {
		Documents []documentResult `json:"documents"` // one per document, in order
		Added     int              `json:"added"`
		Replaced  int              `json:"replaced"`
		Unchanged int              `json:"unchanged"`
		Rejected  int              `json:"rejected"`
		Tokens    int              `json:"tokens"` // embedded
	}
	documentResult struct {
		ID     string `json:"id"`
		Status string `json:"status"` // kb.Status: added, replaced, unchanged or rejected
		Chunks int    `json:"chunks,omitempty"`
		Tokens int    `json:"tokens,omitempty"`
		Error  string `json:"error,omitempty"` // why it was rejected
	}
)

// handleAddDocuments is POST /v1/documents: kb.KB.Add, in one transaction. A malformed
// request or document object is a 400 and adds nothing; a document the knowledge base
// refuses (empty text, too large, binary, an id twice) is rejected alone, with its reason,
// and the others go in. The status says which: 200 when none was rejected, 207
// (Multi-Status) when some went in and some were rejected, 422 when all were rejected.
func (s *Server) handleAddDocuments(w http.ResponseWriter, r *http.Request) error {
	var req documentsRequest
	k, err := s.readKBRequest(w, r, &req)
	if err != nil {
		return err
	}
	switch {
	case req.Documents == nil:
		return badRequest(`field "documents" is required`)
	case len(req.Documents) == 0:
		return badRequest(`field "documents" must not be empty`)
	case len(req.Documents) > s.cfg.MaxDocuments:
		return tooLarge(`field "documents" has %d entries, over the limit of %d (--max-documents)`, len(req.Documents), s.cfg.MaxDocuments)
	}
	docs := make([]kb.Document, len(req.Documents))
	for i, raw := range req.Documents {
		// the body bounds the texts; the knowledge base's own limit rejects a document alone
		if docs[i], err = kb.ParseDocument(raw, int(s.cfg.MaxBodyBytes)); err != nil {
			return badRequest("documents[%d]: %v", i, err)
		}
	}
	ctx := withKBRequest(r.Context(), &kbRequest{w: w, field: "chunks", chunks: true})
	res, err := k.Add(ctx, docs)
	if err != nil {
		return s.kbError(ctx, k, err)
	}
	resp := documentsResponse{Documents: make([]documentResult, len(res))}
	for i, x := range res {
		d := documentResult{ID: x.ID, Status: string(x.Status), Chunks: x.Chunks, Tokens: x.Tokens}
		switch x.Status {
		case kb.Added:
			resp.Added++
		case kb.Replaced:
			resp.Replaced++
		case kb.Unchanged:
			resp.Unchanged++
		case kb.Rejected:
			resp.Rejected++
			d.Error = x.Err.Error()
			var de *kb.DocError
			if errors.As(x.Err, &de) {
				d.Error = de.Err.Error() // the id is beside it
			}
		}
		resp.Tokens += x.Tokens
		resp.Documents[i] = d
	}
	status := http.StatusOK
	switch resp.Rejected {
	case 0:
	case len(res):
		status = http.StatusUnprocessableEntity
	default:
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
	return nil
}

// handleDocument is GET and DELETE /v1/documents/{id}: the document (kb.DocInfo: its text,
// metadata and chunks, without their vectors), or its removal.
func (s *Server) handleDocument(w http.ResponseWriter, r *http.Request) error {
	k, err := s.servedKB(w)
	if err != nil {
		return err
	}
	id := strings.TrimPrefix(r.URL.Path, documentsPrefix)
	ctx := r.Context()
	var v any
	if r.Method == http.MethodDelete {
		_, err = k.Remove(ctx, id)
		v = documentResult{ID: id, Status: "removed"}
	} else {
		v, err = k.Get(ctx, id)
	}
	switch {
	case errors.Is(err, kb.ErrNotFound):
		return &apiError{status: 404, typ: errNotFound, msg: fmt.Sprintf("no document %q in the knowledge base", id)}
	case err != nil:
		return s.kbError(ctx, k, err)
	}
	writeJSON(w, 200, v)
	return nil
}

// readKBRequest is the start of the knowledge base's POST routes: the served knowledge base
// (or why there is none), the body within its limits, decoded strictly into req.
func (s *Server) readKBRequest(w http.ResponseWriter, r *http.Request, req any) (*kb.KB, error) {
	k, err := s.servedKB(w)
	if err != nil {
		return nil, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if aerr := decodeStrictJSON(body, req); aerr != nil {
		return nil, aerr
	}
	return k, nil
}
