package server

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// One server, several models: the rerankers and embedders given to [Server.SetModels] share
// the worker pool, the batcher (one lane each, taken in turn: batcher.go) and the admission
// budgets. A request names its model in "model": the served name (the --model value, or
// --served-model-name for a single model) or that name's last path element, so that
// "BAAI/bge-m3", "bge-m3" and a local "./models/bge-m3" all pick the folder served as such.
// When only one served model does a request's task, any "model" (or none) picks it: clients
// hard-code model names.

// task is what a route asks of a model.
type task string

const (
	taskRerank task = "rerank"
	taskEmbed  task = "embed"
)

// served is one model of the set.
type served struct {
	info   ModelInfo
	task   task
	rerank Engine      // taskRerank
	embed  EmbedEngine // taskEmbed
	lane   *lane
}

// answersTo reports whether a request's "model" names m: its served name or the name's
// last path element.
func (m *served) answersTo(name string) bool {
	return m.info.ID == name || path.Base(strings.TrimRight(m.info.ID, "/")) == name
}

// pipeline is the model's tokenization pipeline.
func (m *served) pipeline() *gorerank.Pipeline {
	if m.rerank != nil {
		return m.rerank.Pipeline()
	}
	return m.embed.Pipeline()
}

// textTokenizer is what /tokenize needs of a model.
type textTokenizer interface {
	Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error)
	Token(id int32) string
}

func (m *served) tokenizer() textTokenizer {
	if m.rerank != nil {
		return m.rerank
	}
	return m.embed
}

// modelSet is what the server serves; it is replaced whole by SetModels.
type modelSet struct {
	models []*served
	batch  *batcher
}

// pick finds the model of task t that the request's model name asks for.
func (st *modelSet) pick(t task, name string) (*served, error) {
	var of []*served
	for _, m := range st.models {
		if m.task == t {
			of = append(of, m)
		}
	}
	if len(of) == 0 {
		return nil, &apiError{status: 404, typ: errNotFound, msg: fmt.Sprintf("no %s model is served here (serving: %s)", t, st.names())}
	}
	if len(of) == 1 {
		return of[0], nil // clients hard-code names: the only one answers to any
	}
	if name == "" {
		return nil, badRequest(`field "model" is required: %d %s models are served (%s)`, len(of), t, st.names())
	}
	for _, m := range of {
		if m.answersTo(name) {
			return m, nil
		}
	}
	return nil, &apiError{status: 404, typ: errNotFound, msg: fmt.Sprintf("model %q is not served here (serving: %s)", name, st.names())}
}

func (st *modelSet) names() string {
	var n []string
	for _, m := range st.models {
		n = append(n, fmt.Sprintf("%s (%s)", m.info.ID, m.task))
	}
	return strings.Join(n, ", ")
}

// pickTokenizer is /tokenize's model: the one named, else the first reranker (or model).
func (st *modelSet) pickTokenizer(name string) (*served, error) {
	if name == "" || len(st.models) == 1 {
		return st.first(), nil
	}
	for _, m := range st.models {
		if m.answersTo(name) {
			return m, nil
		}
	}
	return nil, &apiError{status: 404, typ: errNotFound, msg: fmt.Sprintf("model %q is not served here (serving: %s)", name, st.names())}
}

// first is the model /info describes at its top level (TEI's shape): the first reranker, or
// the first model.
func (st *modelSet) first() *served {
	for _, m := range st.models {
		if m.task == taskRerank {
			return m
		}
	}
	return st.models[0]
}

// EmbedEngine is what the server needs from an embedder (bge-m3: dense, sparse and ColBERT
// outputs). Implementations must be safe for concurrent use.
type EmbedEngine interface {
	// Pipeline is the library's pipeline for the model: the single-text policy that every
	// door applies (gorerank.Embed).
	Pipeline() *gorerank.Pipeline
	// Embed writes the outputs want of each sequence into out (len(out) == len(seqs)).
	Embed(seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error
	// Outputs are the outputs the model can compute.
	Outputs() xlmr.Outputs
	// Dim is the length of the dense vector, Vocab the number of token ids.
	Dim() int
	Vocab() int
	// Encode tokenizes one text with its tokens and offsets, and Token names an id (for
	// /tokenize).
	Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error)
	Token(id int32) string
	// Info describes the loaded model.
	Info() ModelInfo
}

// SetEngine serves one reranker: SetModels with it alone.
func (s *Server) SetEngine(e Engine) error { return s.SetModels([]Engine{e}, nil) }

// SetModels installs the models and starts the batch workers; the server becomes ready.
// Warm-up (a first forward pass) is the caller's job, before SetModels, so that /ready only
// says yes when the first request will be fast. Served names must differ.
func (s *Server) SetModels(rerankers []Engine, embedders []EmbedEngine) error {
	if len(rerankers)+len(embedders) == 0 {
		return errors.New("server: no model to serve")
	}
	st := &modelSet{batch: newBatcher(s.cfg.Workers, s.cfg.MaxBatchTokens, s.cfg.MaxBatchSize, s.m, &s.rate)}
	single := len(rerankers)+len(embedders) == 1
	add := func(m *served) error {
		if single && s.cfg.ModelName != "" {
			m.info.ID = s.cfg.ModelName
		}
		for _, o := range st.models {
			if o.info.ID == m.info.ID {
				return fmt.Errorf("server: two models are served as %q", m.info.ID)
			}
		}
		st.models = append(st.models, m)
		return nil
	}
	for _, e := range rerankers {
		info := e.Info()
		if info.MaxTokens > 0 && s.cfg.MaxLength > info.MaxTokens {
			return fmt.Errorf("server: max length %d exceeds the position limit %d of %s", s.cfg.MaxLength, info.MaxTokens, info.ID)
		}
		if _, err := e.Pipeline().Check(gorerank.ScoreOptions{MaxLength: s.cfg.MaxLength}); err != nil {
			return fmt.Errorf("server: --max-length: %w", err)
		}
		m := &served{info: info, task: taskRerank, rerank: e}
		m.lane = st.batch.lane(info.ID, rerankRun(e))
		if err := add(m); err != nil {
			st.batch.close()
			return err
		}
	}
	for _, e := range embedders {
		m := &served{info: e.Info(), task: taskEmbed, embed: e}
		m.lane = st.batch.lane(m.info.ID, embedRun(e))
		if err := add(m); err != nil {
			st.batch.close()
			return err
		}
	}
	if old := s.engine.Swap(st); old != nil {
		old.batch.close()
	}
	if !s.draining.Load() {
		s.m.ready.Set(1)
	}
	return nil
}

// rerankRun is a reranker's lane: one logit per sequence.
func rerankRun(e Engine) func([][]int32, xlmr.Outputs, []result) error {
	return func(seqs [][]int32, _ xlmr.Outputs, out []result) error {
		logits := make([]float32, len(seqs))
		err := e.Score(seqs, logits)
		for k := range out {
			out[k].logit = logits[k]
		}
		return err
	}
}

// embedRun is an embedder's lane: the outputs asked for by any request of the batch.
func embedRun(e EmbedEngine) func([][]int32, xlmr.Outputs, []result) error {
	return func(seqs [][]int32, want xlmr.Outputs, out []result) error {
		embs := make([]xlmr.Embedding, len(seqs))
		err := e.Embed(seqs, want, embs)
		for k := range out {
			out[k].emb = embs[k]
		}
		return err
	}
}

// modelsOrUnavailable is the served set, or 503 while the models load.
func (s *Server) modelsOrUnavailable(w http.ResponseWriter) (*modelSet, error) {
	st := s.engine.Load()
	if st == nil {
		w.Header().Set("Retry-After", "5")
		return nil, &apiError{status: 503, typ: errNotReady, msg: "the model is still loading; see /ready"}
	}
	return st, nil
}
