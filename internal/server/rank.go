package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gorerank/gorerank"
)

// score is what a result reports: the sigmoid of the logit, or the logit with raw_scores.
func score(r gorerank.Result, raw bool) float64 {
	if raw {
		return float64(r.Logit)
	}
	return 1 / (1 + math.Exp(-float64(r.Logit)))
}

// rank scores every document against the query through the library's pipeline and the
// batcher and returns them ranked by logit, highest first (ties by index), plus the number
// of tokens of the model inputs. field names the documents in errors ("documents", "texts").
func (s *Server) rank(ctx context.Context, w http.ResponseWriter, b *batcher, m *served, query string, docs []string, o scoreOptions, field string) ([]gorerank.Result, int, error) {
	p := m.pipeline()
	so, err := p.Check(o.score)
	if err != nil {
		return nil, 0, s.scoreError(ctx, err, field, nil)
	}
	if err := p.CheckQuery(query); err != nil {
		return nil, 0, s.scoreError(ctx, err, field, nil)
	}
	out := make([]gorerank.Result, len(docs))
	keys := make([]cacheKey, len(docs))
	var miss []int
	for i, d := range docs {
		out[i].Index = i
		if s.cache == nil {
			miss = append(miss, i)
			continue
		}
		keys[i] = rerankKey(m.info.ID, query, d, so)
		if v, ok := s.cache.get(keys[i]); ok {
			out[i].Logit, out[i].Truncated, out[i].Tokens = v.logit, v.truncated, int(v.tokens)
			s.m.cacheHits.Inc()
			continue
		}
		s.m.cacheMisses.Inc()
		miss = append(miss, i)
	}

	if len(miss) > 0 {
		missDocs := make([]string, len(miss))
		for n, i := range miss {
			missDocs[n] = docs[i]
		}
		// gate 2 (admit.go): the most tokens these pairs can become, before tokenizing
		perDoc := int64(so.MaxLength)
		if so.Truncation == gorerank.TruncateWindows {
			perDoc *= int64(so.MaxWindows)
		}
		if err := s.reserveTokens(w, ctx, int64(len(miss))*perDoc); err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		forward := func(ctx context.Context, inputs []gorerank.Input, logits []float32) error {
			s.m.tokenizeTime.Observe(time.Since(t0).Seconds())
			var seqs [][]int32
			n := 0
			for _, in := range inputs {
				seqs = append(seqs, in.Seqs...)
				n += in.Tokens()
			}
			if err := s.settleTokens(w, ctx, int64(n)); err != nil {
				return err
			}
			scored, err := b.submit(ctx, m.lane, seqs, 0)
			for k := range scored {
				logits[k] = scored[k].logit
			}
			return err
		}
		res, err := gorerank.Score(ctx, p, query, missDocs, so, forward)
		if err != nil {
			return nil, 0, s.scoreError(ctx, err, field, miss)
		}
		for n, i := range miss {
			r := res[n]
			r.Index = i
			out[i] = r
			if r.Truncated {
				s.m.truncated.Inc()
			}
			s.cache.put(keys[i], cacheValue{logit: r.Logit, tokens: int32(r.Tokens), truncated: r.Truncated})
		}
	}

	total := 0
	for _, r := range out {
		total += r.Tokens
	}
	gorerank.Rank(out)
	return out, total, nil
}

// scoreError maps an error of a pipeline (rerank or embedding) or the batcher to an HTTP
// answer: the library's client errors to 400/413 (naming field[i]; idx maps a pipeline index
// to the request's), overload and shutdown to 429/503, anything else to an internal error
// that the handler logs and answers without its text.
func (s *Server) scoreError(ctx context.Context, err error, field string, idx []int) error {
	where := ""
	at := func(i int, inner error) {
		if idx != nil {
			i = idx[i]
		}
		where = fmt.Sprintf("%s[%d]: ", field, i)
		err = inner
	}
	var pe *gorerank.PairError
	var te *gorerank.TextError
	switch {
	case errors.As(err, &pe):
		at(pe.Index, pe.Err)
	case errors.As(err, &te):
		at(te.Index, te.Err)
	}
	if where == "" && errors.Is(err, gorerank.ErrEmptyQuery) {
		where = `field "query": ` // as the request parser says it
	}
	msg := where + strings.TrimPrefix(err.Error(), "gorerank: ")
	switch {
	case errors.Is(err, gorerank.ErrTooLong):
		return &apiError{status: 413, typ: errTooLarge, msg: msg}
	case errors.Is(err, gorerank.ErrEmptyQuery), errors.Is(err, gorerank.ErrEmptyText), errors.Is(err, gorerank.ErrInvalidUTF8),
		errors.Is(err, gorerank.ErrTokenID), errors.Is(err, gorerank.ErrOptions):
		return &apiError{status: 400, typ: errInvalidRequest, msg: msg}
	case errors.Is(err, errClosed):
		return &apiError{status: 503, typ: errNotReady, msg: "the server is shutting down"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: 503, typ: errTimeout, msg: fmt.Sprintf("the request took longer than %v (--request-timeout)", s.cfg.RequestTimeout)}
	case errors.Is(err, context.Canceled):
		return &apiError{status: 499, typ: errTimeout, msg: "client closed the request"}
	}
	return fmt.Errorf("scoring: %w", err)
}
