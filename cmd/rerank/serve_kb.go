package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/server"
	"github.com/gorerank/gorerank/kb"
)

// rerank serve --kb DIR: the knowledge base on /v1/search and /v1/documents, run by the
// served models through the server's batcher (server.KBOptions).

// kbModels are the models serve loads for --kb without --model: the embedder and the
// reranker the knowledge base records (kb init's --embedder and --reranker).
func kbModels(ctx context.Context, dir string) ([]string, error) {
	c, err := kb.ReadConfig(ctx, dir)
	if err != nil {
		return nil, err
	}
	models := []string{c.Embedder}
	if c.Reranker != "" {
		models = append(models, c.Reranker)
	}
	return models, nil
}

// kbEmbedder is a served embedder as a knowledge base takes it: the loaded model (for
// kb.Open's identity check and its tokenizer) and the server's engine of it.
type kbEmbedder struct {
	l *gorerank.Loaded
	e server.EmbedEngine
}

// openServedKB opens the knowledge base in dir with the served embedder it was built with
// (each is tried: kb.Open checks the identity it recorded) and the served reranker (the one
// it records when several are served, else the first; none: recall's order is the answer),
// their forward passes going through srv, and serves it on srv (server.SetKB, which /info
// names the two models from).
func openServedKB(ctx context.Context, dir string, srv *server.Server, embedders []kbEmbedder, rerankers []server.Engine, log *slog.Logger) (*kb.KB, error) {
	if len(embedders) == 0 {
		return nil, errors.New("no embedder is served: serve the knowledge base's embedder with --model, or leave --model out to serve the models it records")
	}
	var rr server.Engine
	switch len(rerankers) {
	case 0:
		log.Warn("no reranker is served: knowledge base searches answer in recall's order", "kb", dir)
	case 1:
		rr = rerankers[0]
	default:
		models, err := kbModels(ctx, dir)
		if err != nil {
			return nil, err
		}
		rr = rerankers[0]
		for _, r := range rerankers {
			if len(models) > 1 && modelRef(r.Info().ID) == models[1] {
				rr = r
			}
		}
	}
	var why []string
	built := ""
	for _, se := range embedders {
		emb, err := gorerank.EmbedderOf(se.l)
		if err != nil {
			return nil, err
		}
		o := srv.KBOptions(se.e, rr)
		o.Embedder = emb
		k, err := kb.Open(ctx, dir, o)
		var ee *kb.EmbedderError
		switch {
		case err == nil:
			args := []any{"kb", dir, "embedder", se.e.Info().ID, "reranker", "none"}
			if rr != nil {
				args[5] = rr.Info().ID
			}
			log.Info("knowledge base opened", args...)
			srv.SetKB(k, se.e, rr)
			return k, nil
		case errors.As(err, &ee):
			why = append(why, fmt.Sprintf("%s: %s", se.e.Info().ID, ee.Why))
			built = ee.Built
			if len(embedders) == 1 {
				return nil, err // its own message says it all
			}
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("none of the served embedders is the one the knowledge base was built with (%s): %s", built, strings.Join(why, "; "))
}
