package service

import (
	"context"
	"log/slog"
)

type jobKey struct{}

// WithJob returns ctx carrying a job id, for loggers made by JobLogger.
func WithJob(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, jobKey{}, id)
}

// JobLogger wraps log so that each line logged with a context from WithJob
// carries "job": packages that log with the context they are given
// (transcode's ffmpeg lines, greenapi's requests) then name the job too.
func JobLogger(log *slog.Logger) *slog.Logger {
	return slog.New(jobHandler{log.Handler()})
}

type jobHandler struct{ slog.Handler }

func (h jobHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(jobKey{}).(string); ok {
		r = r.Clone()
		r.AddAttrs(slog.String("job", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h jobHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return jobHandler{h.Handler.WithAttrs(as)}
}

func (h jobHandler) WithGroup(name string) slog.Handler {
	return jobHandler{h.Handler.WithGroup(name)}
}
