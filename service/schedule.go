package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mediaprep/mediaprep/queue"
)

// A job with a publish time (queue.Job.PublishAt) in the future is
// prepared and stored by its first delivery, as any job, so that a broken
// file fails at once; then, instead of linking and posting, it is marked
// scheduled and its message waits in JetStream (queue.WaitUntil) until the
// publish time. That delivery links it (a presigned link is made then, an
// uploadFile link renewed when it would not last the send and 24 h) and
// posts it through the same compare-and-set guard as any send: a job
// canceled meanwhile is never sent.

// waiting reports whether job is to be posted later than now.
func waiting(job queue.Job, now time.Time) bool {
	return !job.PublishAt.IsZero() && now.Before(job.PublishAt)
}

// beforeSend handles a delivery of a job that must not be sent now: a
// canceled or deleted job (its source is cleaned up), and a scheduled one
// whose time has not come (it waits again). done tells Handle to return
// err at once.
func (w *Worker) beforeSend(ctx context.Context, job queue.Job, log *slog.Logger) (done bool, err error) {
	switch {
	case job.State == queue.StateCanceled:
		return true, w.canceled(ctx, job, log)
	case job.State == queue.StateDeleted:
		return true, nil
	case job.State == queue.StateScheduled && waiting(job, time.Now()):
		return true, queue.WaitUntil(job.PublishAt)
	}
	return false, nil
}

// schedule marks a prepared and stored job scheduled and lets it wait for
// its publish time.
func (w *Worker) schedule(ctx context.Context, job queue.Job, log *slog.Logger) error {
	j, err := w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error {
		if j.State.Final() {
			return queue.ErrFinal
		}
		j.State, j.ErrorCode, j.Error = queue.StateScheduled, "", ""
		return nil
	})
	switch {
	case errors.Is(err, queue.ErrFinal):
		if j, gerr := w.cfg.Jobs.Get(ctx, job.ID); gerr == nil && j.State == queue.StateCanceled {
			return w.canceled(ctx, j, log)
		}
		return nil
	case err != nil:
		return queue.RetryLater(errors.Join(errQueue, err), backoff(job.Attempts))
	}
	w.cfg.Metrics.JobState(queue.StateScheduled)
	log.Info("scheduled", "publishAt", j.PublishAt.Format(time.RFC3339), "key", j.Key)
	return queue.WaitUntil(j.PublishAt)
}

// canceledMeanwhile reports whether the job with id was canceled (the
// guard then refused its send); its source is cleaned up.
func (w *Worker) canceledMeanwhile(ctx context.Context, id string, log *slog.Logger) bool {
	j, err := w.cfg.Jobs.Get(ctx, id)
	if err != nil || j.State != queue.StateCanceled {
		return false
	}
	if err := w.canceled(ctx, j, log); err != nil {
		log.Warn("cleaning up after a cancel", "err", err)
	}
	return true
}

// canceled cleans up after a canceled job: an upload's staging copy is
// deleted, an inbox source moves to failed/ next to NAME.error.json with
// code "canceled". It is done once; later deliveries find it done.
func (w *Worker) canceled(ctx context.Context, job queue.Job, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if w.cfg.LocalSources != "" {
		os.Remove(filepath.Join(w.cfg.LocalSources, job.ID))
	}
	if job.Source == "" || job.MovedTo != "" {
		return nil
	}
	if job.Origin == queue.OriginUpload {
		if err := w.cfg.Bucket.Delete(ctx, job.Source); err != nil {
			return queue.RetryLater(err, backoff(job.Attempts))
		}
		log.Info("canceled; the upload was removed", "source", job.Source)
		return nil
	}
	if err := w.writeErrorFile(ctx, job, codeCanceled, "canceled before it was posted (DELETE /v1/statuses/"+job.ID+")"); err != nil {
		return queue.RetryLater(err, backoff(job.Attempts))
	}
	moved, err := w.moveSource(ctx, job, w.cfg.Layout.Failed)
	if err != nil {
		return queue.RetryLater(err, backoff(job.Attempts))
	}
	log.Info("canceled; the source was moved", "movedTo", moved)
	return nil
}

// codeCanceled is the code in a canceled inbox source's error file.
const codeCanceled = "canceled"

// ScheduleConfig configures publish times and cancel/delete in the API.
type ScheduleConfig struct {
	// MaxAhead is how far ahead a publishAt may be; later ones answer
	// 400 publish_at_too_far. Default 30 days
	// (MEDIAPREP_MAX_SCHEDULE_AHEAD).
	MaxAhead time.Duration
	// Deleter, when set, deletes posted statuses for DELETE
	// /v1/statuses/{id} (deleteStatus); without it a posted job answers
	// 409. *greenapi.Client.
	Deleter StatusDeleter
	// DryRun: the service posts nothing, so a posted (dry-run) job is
	// marked deleted without calling Deleter.
	DryRun bool
}

// Error code of a publish time too far ahead.
const codeTooFarAhead = queue.CodeTooFarAhead

// publishAt reads a publishAt field (RFC 3339 or Unix seconds) and checks
// it against MaxAhead. Empty: at once.
func (a *API) publishAt(v string) (time.Time, *apiError) {
	at, err := queue.ParsePublishAt(v)
	if err != nil {
		return time.Time{}, invalidf("publishAt", "%v", err)
	}
	if err := queue.CheckPublishAt(at, time.Now(), a.cfg.Schedule.MaxAhead); err != nil {
		return time.Time{}, &apiError{status: http.StatusBadRequest, Code: codeTooFarAhead, Field: "publishAt", Message: err.Error()}
	}
	return at, nil
}

// publishAt reads a dropped file's publish time (its sidecar's publishAt
// or its x-amz-meta-publish-at); a bad or too distant one is the job's
// Invalid reason, and the job fails with it (bad_metadata).
func (in *Inbox) publishAt(v string) (time.Time, string) {
	at, err := queue.ParsePublishAt(v)
	if err == nil {
		err = queue.CheckPublishAt(at, time.Now(), in.cfg.MaxScheduleAhead)
	}
	if err != nil {
		return time.Time{}, err.Error()
	}
	return at, ""
}
