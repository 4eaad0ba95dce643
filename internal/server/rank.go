package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/gorerank/gorerank/tokenizer"
)

// ranked is one scored document.
type ranked struct {
	index     int
	logit     float32
	truncated bool
	tokens    int
}

func (r ranked) score(raw bool) float64 {
	if raw {
		return float64(r.logit)
	}
	return 1 / (1 + math.Exp(-float64(r.logit)))
}

// docInput is a document's model input: one sequence, or one per window.
type docInput struct {
	seqs      [][]int32
	truncated bool
}

// rank scores every document against the query and returns them sorted by logit, highest
// first (ties by index), plus the number of tokens of the model inputs.
func (s *Server) rank(ctx context.Context, st *engineState, query string, docs []string, o scoreOptions) ([]ranked, int, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		return nil, 0, &apiError{status: 429, typ: errOverloaded,
			msg: fmt.Sprintf("too many concurrent requests (--max-concurrent-requests %d); retry later", s.cfg.MaxConcurrentRequests)}
	}
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()

	out := make([]ranked, len(docs))
	keys := make([]cacheKey, len(docs))
	var miss []int
	for i, d := range docs {
		out[i].index = i
		if s.cache == nil {
			miss = append(miss, i)
			continue
		}
		keys[i] = makeKey(st.info.ID, query, d, o)
		v, ok := s.cache.get(keys[i])
		if ok && !(v.truncated && !o.truncate) {
			out[i].logit, out[i].truncated, out[i].tokens = v.logit, v.truncated, int(v.tokens)
			s.m.cacheHits.Inc()
			continue
		}
		s.m.cacheMisses.Inc()
		miss = append(miss, i)
	}

	if len(miss) > 0 {
		t0 := time.Now()
		inputs, err := s.encodeAll(st.eng, query, docs, miss, o)
		s.m.tokenizeTime.Observe(time.Since(t0).Seconds())
		if err != nil {
			return nil, 0, err
		}
		var seqs [][]int32
		for _, in := range inputs {
			seqs = append(seqs, in.seqs...)
		}
		logits, err := st.batch.submit(ctx, seqs)
		if err != nil {
			return nil, 0, s.submitError(ctx, err)
		}
		k := 0
		for n, i := range miss {
			in := inputs[n]
			best := float32(math.Inf(-1))
			tokens := 0
			for _, q := range in.seqs {
				best = max(best, logits[k])
				tokens += len(q)
				k++
			}
			out[i].logit, out[i].truncated, out[i].tokens = best, in.truncated, tokens
			if in.truncated {
				s.m.truncated.Inc()
			}
			s.cache.put(keys[i], cacheValue{logit: best, tokens: int32(tokens), truncated: in.truncated})
		}
	}

	total := 0
	for _, r := range out {
		total += r.tokens
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].logit > out[b].logit })
	return out, total, nil
}

func (s *Server) submitError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrQueueFull):
		return &apiError{status: 429, typ: errOverloaded, msg: "the batch queue is full (--max-queue); retry later"}
	case errors.Is(err, errClosed):
		return &apiError{status: 503, typ: errNotReady, msg: "the server is shutting down"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: 503, typ: errTimeout, msg: fmt.Sprintf("the request took longer than %v (--request-timeout)", s.cfg.RequestTimeout)}
	case errors.Is(err, context.Canceled):
		return &apiError{status: 499, typ: errTimeout, msg: "client closed the request"}
	}
	return fmt.Errorf("scoring: %w", err)
}

// encodeAll tokenizes the documents listed in idx, spreading large requests over the CPUs.
func (s *Server) encodeAll(eng Engine, query string, docs []string, idx []int, o scoreOptions) ([]docInput, error) {
	q, err := eng.Encode(query, tokenizer.Options{NoSpecial: true})
	if err != nil {
		return nil, fmt.Errorf("tokenizing the query: %w", err)
	}
	p := &pairEncoder{eng: eng, query: query, q: q.IDs, o: o, sp: eng.PairSpecials(), overlap: s.cfg.WindowOverlap}
	if err := p.checkQuery(); err != nil {
		return nil, err
	}
	out := make([]docInput, len(idx))
	workers := min(runtime.GOMAXPROCS(0), (len(idx)+15)/16)
	if workers <= 1 {
		for n, i := range idx {
			if out[n], err = p.encode(i, docs[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; n < len(idx); n += workers {
				var err error
				if out[n], err = p.encode(idx[n], docs[idx[n]]); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	// report the error of the lowest document index, whatever worker found it
	var first error
	firstIdx := len(docs)
	for w, err := range errs {
		if err == nil {
			continue
		}
		var de *docError
		if errors.As(err, &de) && de.index < firstIdx {
			first, firstIdx = err, de.index
		} else if first == nil {
			first = err
		}
		_ = w
	}
	return out, first
}

// docError names the document a tokenization problem belongs to.
type docError struct {
	index int
	err   error
}

func (e *docError) Error() string { return fmt.Sprintf("documents[%d]: %v", e.index, e.err) }
func (e *docError) Unwrap() error { return e.err }

// pairEncoder builds model inputs for one query under one set of options.
type pairEncoder struct {
	eng     Engine
	query   string
	q       []int32 // bare query ids
	o       scoreOptions
	sp      int // special tokens of the pair template
	overlap int
}

// queryBudget is how many query tokens a mode keeps.
func (p *pairEncoder) queryBudget() int {
	switch p.o.mode {
	case TruncFlag:
		return p.o.maxLength * 3 / 4
	case TruncWindows:
		return p.o.maxLength / 2
	case TruncOnlySecond:
		return p.o.maxLength - p.sp - 1
	}
	return p.o.maxLength - p.sp - 1
}

func (p *pairEncoder) checkQuery() error {
	if p.o.mode == TruncLongestFirst {
		return nil
	}
	if b := p.queryBudget(); len(p.q) > b && (!p.o.truncate || p.o.mode == TruncOnlySecond) {
		return tooLarge("the query has %d tokens; truncation %q with max_length %d allows at most %d", len(p.q), p.o.mode, p.o.maxLength, b)
	}
	return nil
}

func cut(ids []int32, n int, left bool) []int32 {
	if len(ids) <= n {
		return ids
	}
	if left {
		return ids[len(ids)-n:]
	}
	return ids[:n]
}

func (p *pairEncoder) encode(i int, doc string) (docInput, error) {
	enc, err := p.eng.Encode(doc, tokenizer.Options{NoSpecial: true})
	if err != nil {
		return docInput{}, &docError{i, err}
	}
	d := enc.IDs
	maxLen := p.o.maxLength
	total := len(p.q) + len(d) + p.sp
	if total <= maxLen {
		return docInput{seqs: [][]int32{p.eng.JoinPair(p.q, d)}}, nil
	}
	if !p.o.truncate && p.o.mode != TruncWindows {
		return docInput{}, &docError{i, tooLarge("the pair has %d tokens, over max_length %d; shorten the text or send \"truncate\": true", total, maxLen)}
	}
	switch p.o.mode {
	case TruncFlag:
		q := cut(p.q, p.queryBudget(), p.o.left)
		room := maxLen - p.sp - len(q)
		return docInput{seqs: [][]int32{p.eng.JoinPair(q, cut(d, room, p.o.left))}, truncated: true}, nil
	case TruncWindows:
		q := cut(p.q, p.queryBudget(), p.o.left)
		room := maxLen - p.sp - len(q)
		if len(d) <= room {
			return docInput{seqs: [][]int32{p.eng.JoinPair(q, d)}, truncated: len(q) < len(p.q)}, nil
		}
		stride := room - min(p.overlap, room/2)
		var seqs [][]int32
		start := 0
		for {
			end := min(start+room, len(d))
			seqs = append(seqs, p.eng.JoinPair(q, d[start:end]))
			if end == len(d) {
				return docInput{seqs: seqs, truncated: len(q) < len(p.q)}, nil
			}
			if len(seqs) == p.o.maxChunks {
				if !p.o.truncate {
					return docInput{}, &docError{i, tooLarge("the document needs more than %d windows of %d tokens (max_chunks_per_doc); send \"truncate\": true to score only the first ones", p.o.maxChunks, room)}
				}
				return docInput{seqs: seqs, truncated: true}, nil
			}
			start += stride
		}
	}
	strategy := tokenizer.LongestFirst
	if p.o.mode == TruncOnlySecond {
		strategy = tokenizer.OnlySecond
	}
	e, err := p.eng.EncodePair(p.query, doc, tokenizer.Options{MaxLength: maxLen, Strategy: strategy, Left: p.o.left})
	if err != nil {
		return docInput{}, &docError{i, err}
	}
	return docInput{seqs: [][]int32{e.IDs}, truncated: true}, nil
}
