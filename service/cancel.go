package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
)

// JobEditor is what DELETE /v1/statuses/{id} needs of the queue besides
// Jobs: a compare-and-set on the job record, and a message now for a
// worker to clean up after a cancel. *queue.Queue implements it; an API
// whose Jobs do not answers DELETE with 501.
type JobEditor interface {
	Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error)
	Wake(ctx context.Context, id string) error
}

var _ JobEditor = (*queue.Queue)(nil)

// StatusDeleter deletes a posted status; *greenapi.Client implements it.
type StatusDeleter interface {
	DeleteStatus(ctx context.Context, idMessage string) error
}

var _ StatusDeleter = (*greenapi.Client)(nil)

// Error codes of DELETE /v1/statuses/{id}.
const (
	codeConflict       = "conflict"        // the job is in a state that can be neither canceled nor deleted
	codeNotImplemented = "not_implemented" // this server cannot cancel (its queue has no editor)
)

// errNotCancelable carries why a job cannot be canceled, out of Update.
type errNotCancelable struct{ why string }

func (e *errNotCancelable) Error() string { return e.why }

// cancelable reports whether a job in state s may still be canceled: it
// has not begun posting. The worker's guard (guardedSender.take) refuses
// to send a job whose record says canceled, in the same compare-and-set
// that marks it posting, so a cancel racing a send ends in exactly one
// of the two.
func cancelable(s queue.State) bool {
	switch s {
	case queue.StateQueued, queue.StateScheduled, queue.StatePreparing, queue.StateStoring:
		return true
	}
	return false
}

// deleteStatus is DELETE /v1/statuses/{id}: a job not yet posting is
// canceled (it never posts); a posted one is deleted from WhatsApp with
// deleteStatus; any other answers 409 with why. It answers the job.
func (a *API) deleteStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathJobID(w, r)
	if !ok {
		return
	}
	ed, ok := a.jobs.(JobEditor)
	if !ok {
		a.fail(w, r, &apiError{status: http.StatusNotImplemented, Code: codeNotImplemented, Message: "this server cannot cancel jobs"})
		return
	}
	ctx := r.Context()
	job, err := a.jobs.Get(ctx, id)
	if err != nil {
		a.failQueue(w, r, err)
		return
	}
	if job.State == queue.StatePosted {
		job, aerr := a.deletePosted(ctx, ed, job)
		if aerr != nil {
			a.fail(w, r, aerr)
			return
		}
		writeJSON(w, http.StatusOK, job)
		return
	}
	job, err = ed.Update(ctx, id, func(j *queue.Job) error {
		if !cancelable(j.State) || j.IDMessage != "" || j.OutcomeUnknown {
			return &errNotCancelable{whyNot(*j)}
		}
		j.State, j.CanceledAt = queue.StateCanceled, time.Now().UTC().Truncate(time.Second)
		return nil
	})
	var nc *errNotCancelable
	switch {
	case errors.As(err, &nc):
		a.fail(w, r, &apiError{status: http.StatusConflict, Code: codeConflict, Message: nc.why})
		return
	case err != nil:
		a.failQueue(w, r, err)
		return
	}
	a.cfg.Metrics.JobState(queue.StateCanceled)
	a.log.Info("job canceled", "job", id)
	// A worker moves its source away now rather than at its time; should
	// this fail, that happens when its message comes.
	if err := ed.Wake(context.WithoutCancel(ctx), id); err != nil {
		a.log.Warn("canceled; asking a worker to clean up now failed (it will at the job's time)", "job", id, "err", err)
	}
	writeJSON(w, http.StatusOK, job)
}

// deletePosted deletes a posted job's status with deleteStatus and marks
// the job deleted.
func (a *API) deletePosted(ctx context.Context, ed JobEditor, job queue.Job) (queue.Job, *apiError) {
	cfg := a.cfg.Schedule
	deleter := a.deleterOf(job)
	switch {
	case job.IDMessage == "" && !job.DryRun:
		return job, &apiError{status: http.StatusConflict, Code: codeConflict, Message: "the job is posted but its idMessage is unknown; nothing to delete"}
	case !job.DryRun && !cfg.DryRun && deleter == nil:
		return job, &apiError{status: http.StatusConflict, Code: codeConflict, Message: "the job is posted; this server has no Green API client to delete it" + onAccount(job)}
	case !job.DryRun && !cfg.DryRun:
		if err := deleter.DeleteStatus(ctx, job.IDMessage); err != nil {
			code := greenapi.CodeOf(err)
			if code == "" {
				code = codeUnavailable
			}
			return job, &apiError{status: http.StatusBadGateway, Code: code,
				Message: fmt.Sprintf("deleteStatus %s failed: %v", job.IDMessage, err), cause: err}
		}
	}
	job, err := ed.Update(ctx, job.ID, func(j *queue.Job) error {
		if j.State != queue.StatePosted && j.State != queue.StateDeleted {
			return &errNotCancelable{whyNot(*j)}
		}
		j.State, j.DeletedAt = queue.StateDeleted, time.Now().UTC().Truncate(time.Second)
		return nil
	})
	if err != nil {
		return job, unavailable("the queue", err)
	}
	a.cfg.Metrics.JobState(queue.StateDeleted)
	a.log.Info("status deleted", "job", job.ID, "idMessage", job.IDMessage)
	return job, nil
}

// whyNot says why a job in its state can be neither canceled nor deleted.
func whyNot(j queue.Job) string {
	if j.IDMessage != "" || j.OutcomeUnknown {
		return "the job was sent (or may have been) and its record is being completed; try again in a moment"
	}
	switch j.State {
	case queue.StatePosting:
		return "the job is being posted right now; once it is posted, DELETE deletes the status"
	case queue.StateCanceled:
		return "the job is canceled already"
	case queue.StateDeleted:
		return "the job's status is deleted already"
	case queue.StateFailed:
		return fmt.Sprintf("the job failed (%s); nothing was posted to cancel or delete", j.ErrorCode)
	}
	return fmt.Sprintf("a job in state %s can be neither canceled nor deleted", j.State)
}

// canCancel reports whether DELETE /v1/statuses/{id} works here.
func (a *API) canCancel() bool {
	_, ok := a.jobs.(JobEditor)
	return ok
}
