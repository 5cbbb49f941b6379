package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// posted ends a job whose status went out: the source moves to processed/,
// then the job is marked posted. A failed move is retried (the job keeps
// its idMessage, so nothing is sent again).
func (w *Worker) posted(ctx context.Context, job queue.Job, log *slog.Logger, last bool) error {
	// The status is out: finish even while shutting down, within bounds.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	code, reason := "", ""
	var moved string
	var err error
	if job.Origin == queue.OriginUpload && job.Source != "" {
		// An upload is the service's own staging copy: once posted, it
		// goes (the prepared file stays in storage).
		err = w.cfg.Bucket.Delete(ctx, job.Source)
		if w.cfg.LocalSources != "" {
			os.Remove(filepath.Join(w.cfg.LocalSources, job.ID))
		}
	} else {
		moved, err = w.moveSource(ctx, job, w.cfg.Layout.Processed)
	}
	if err != nil {
		if !last {
			log.Warn("posted; moving the source failed, will retry", "err", err)
			return queue.RetryLater(err, backoff(job.Attempts))
		}
		// Posted all the same. The source stays where it is; its job
		// record keeps the inbox from taking it again.
		code, reason = codeSourceNotMoved, "posted, but the source could not be moved to "+w.cfg.Layout.Processed+": "+err.Error()
		log.Error("posted; the source could not be moved and stays in place", "source", job.Source, "err", err)
	}
	follow := false
	j, err := w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error {
		j.State, j.MovedTo, j.ErrorCode, j.Error = queue.StatePosted, moved, code, reason
		follow = w.markPending(j)
		return nil
	})
	if err != nil {
		return queue.RetryLater(fmt.Errorf("%w: %w", errQueue, err), backoff(job.Attempts))
	}
	if follow {
		w.followSent(j, log, takeover{})
	}
	w.cfg.Metrics.JobState(queue.StatePosted)
	w.cfg.Metrics.AccountJob(w.account, queue.StatePosted)
	log.Info("done", "state", j.State, "idMessage", j.IDMessage, "url", redactLink(j.URL), "dryRun", j.DryRun, "movedTo", moved)
	return nil
}

// settle finishes a posted job whose source is still in place.
func (w *Worker) settle(ctx context.Context, job queue.Job, log *slog.Logger, last bool) error {
	if job.Source == "" || job.MovedTo != "" || job.ErrorCode == codeSourceNotMoved {
		return nil
	}
	if job.Origin == queue.OriginUpload {
		if _, found, err := w.cfg.Bucket.Lookup(ctx, job.Source); err == nil && !found {
			return nil // deleted
		}
	}
	return w.posted(ctx, job, log, last)
}

// fail records a job as failed with its code and reason; an inbox or
// upload source moves to failed/ next to NAME.error.json.
func (w *Worker) fail(ctx context.Context, job queue.Job, log *slog.Logger, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	code := codeOf(cause)
	msg := cause.Error()
	moved := ""
	if w.cfg.LocalSources != "" {
		os.Remove(filepath.Join(w.cfg.LocalSources, job.ID))
	}
	if job.Source != "" {
		if err := w.writeErrorFile(ctx, job, code, msg); err != nil {
			log.Error("writing the error file", "err", err)
		} else if m, err := w.moveSource(ctx, job, w.cfg.Layout.Failed); err != nil {
			log.Error("moving the source to failed/", "err", err)
		} else {
			moved = m
		}
	}
	var lost *queue.Job // an outcome_unknown send to look up
	w.update(ctx, job.ID, log, func(j *queue.Job) error {
		if j.State.Final() && j.State != queue.StateFailed {
			return queue.ErrFinal // posted by another delivery meanwhile
		}
		j.State, j.ErrorCode, j.Error, j.MovedTo = queue.StateFailed, code, msg, moved
		if lost = nil; code == greenapi.CodeOutcomeUnknown && w.markPending(j) {
			lost = new(*j)
		}
		return nil
	})
	if lost != nil {
		w.followLost(*lost, log, takeover{})
	}
	w.cfg.Metrics.JobState(queue.StateFailed)
	w.cfg.Metrics.AccountJob(w.account, queue.StateFailed)
	log.Error("failed", "code", code, "err", msg, "movedTo", moved, "attempt", job.Attempts)
	return cause
}

// renamed makes err name the source by its key instead of the temp file it
// was fetched to (which the Publisher names).
func renamed(err error, tmp, key string) error {
	if err == nil {
		return nil
	}
	return &renamedError{err: err, msg: strings.ReplaceAll(err.Error(), tmp, key)}
}

type renamedError struct {
	err error
	msg string
}

func (e *renamedError) Error() string { return e.msg }

func (e *renamedError) Unwrap() error { return e.err }

// Finish moves the source of a job that failed without it (the queue gave
// up on it after too many deliveries) to failed/, next to its error file.
// Other jobs are left alone.
func (w *Worker) Finish(ctx context.Context, job queue.Job) error {
	if job.State != queue.StateFailed || job.Source == "" || job.MovedTo != "" {
		return nil
	}
	if err := w.writeErrorFile(ctx, job, job.ErrorCode, job.Error); err != nil {
		return err
	}
	moved, err := w.moveSource(ctx, job, w.cfg.Layout.Failed)
	if err != nil {
		return err
	}
	w.log.Info("moved the source of a failed job", "job", job.ID, "movedTo", moved)
	return nil
}

// jobError is a failure of the service's own, with a stable code.
type jobError struct{ code, msg string }

func (e *jobError) Error() string { return e.msg }

func codeOf(err error) string {
	var je *jobError
	if errors.As(err, &je) {
		return je.code
	}
	if c := pipeline.CodeOf(err); c != "" && c != string(transcode.CodeInternal) {
		return c
	}
	if errors.Is(err, errQueue) {
		return codeQueueUnavailable
	}
	return pipeline.CodeOf(err)
}

// ErrorFile is what NAME.error.json next to a failed source says.
type ErrorFile struct {
	Job      string    `json:"job"`
	Source   string    `json:"source"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Attempts int       `json:"attempts"`
	FailedAt time.Time `json:"failedAt"`
}

func (w *Worker) writeErrorFile(ctx context.Context, job queue.Job, code, msg string) error {
	body, err := json.MarshalIndent(ErrorFile{Job: job.ID, Source: job.Source, Code: code, Message: msg,
		Attempts: job.Attempts, FailedAt: time.Now().UTC().Truncate(time.Second)}, "", "  ")
	if err != nil {
		return err
	}
	dst := w.destination(ctx, job, w.cfg.Layout.Failed) + ".error.json"
	_, err = w.cfg.Bucket.Put(ctx, dst, strings.NewReader(string(body)+"\n"),
		storage.Object{ContentType: "application/json", Size: int64(len(body) + 1)})
	return err
}

// destination is where a source goes under prefix: its name below the
// inbox or uploads prefix, with the job id added when that name is taken.
func (w *Worker) destination(ctx context.Context, job queue.Job, prefix string) string {
	if job.Moving != "" && strings.HasPrefix(job.Moving, prefix) {
		return job.Moving // chosen by an earlier delivery
	}
	dst := prefix + w.cfg.Layout.rel(job.Source)
	if _, found, err := w.cfg.Bucket.Lookup(ctx, dst); err == nil && found {
		ext := path.Ext(dst)
		dst = strings.TrimSuffix(dst, ext) + "-" + job.ID + ext
	}
	return dst
}

// moveSource moves the source, and an inbox source's sidecar, under
// prefix. A source already gone (moved by an earlier delivery) is fine.
func (w *Worker) moveSource(ctx context.Context, job queue.Job, prefix string) (string, error) {
	if job.Source == "" {
		return "", nil
	}
	if job.MovedTo != "" {
		return job.MovedTo, nil
	}
	dst := w.destination(ctx, job, prefix)
	if job.Moving != dst {
		// Written first, so that a redelivery finishes this very move.
		if _, err := w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error { j.Moving = dst; return nil }); err != nil {
			return "", fmt.Errorf("%w: %w", errQueue, err)
		}
	}
	if err := w.cfg.Bucket.Move(ctx, job.Source, dst); err != nil {
		// Moved by an earlier delivery that died before recording it?
		_, found, lerr := w.cfg.Bucket.Lookup(ctx, dst)
		if !errors.Is(err, storage.ErrNotFound) || lerr != nil || !found {
			return "", err
		}
	}
	if job.Origin == queue.OriginInbox {
		if err := w.cfg.Bucket.Move(ctx, job.Source+".json", dst+".json"); err != nil && !errors.Is(err, storage.ErrNotFound) {
			w.log.Warn("moving the sidecar", "job", job.ID, "err", err)
		}
	}
	// Remember where it went, so a redelivery does not look for it.
	w.update(ctx, job.ID, w.log.With("job", job.ID), func(j *queue.Job) error { j.MovedTo = dst; return nil })
	return dst, nil
}

// Codes of the failures the worker finds itself; the others are the
// preparation's, storage's or Green API's (pipeline.CodeOf), or
// pipeline.CodeBadMetadata.
const (
	codeSourceMissing    = "source_missing"    // the source is gone from the bucket
	codeSourceNotMoved   = "source_not_moved"  // posted; the source stays in the inbox
	codeQueueUnavailable = "queue_unavailable" // the job record could not be written
	// codeLateRecord marks a job given up as outcome_unknown whose send's
	// answer was recorded after all (applySend).
	codeLateRecord = "late_record"
)

// update writes a change to the job record, logging a failure: state
// updates along the way are informative; the ones that matter (posted,
// idMessage) are checked by their callers.
func (w *Worker) update(ctx context.Context, id string, log *slog.Logger, fn func(*queue.Job) error) {
	if _, err := w.cfg.Jobs.Update(ctx, id, fn); err != nil && !errors.Is(err, queue.ErrFinal) {
		log.Warn("updating job state", "err", err)
	}
}

// redactLink drops a presigned link's query (its signature) for logs.
func redactLink(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
