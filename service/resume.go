package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/queue"
)

// ResumeDeliveries follows again the statuses a stopped process left with
// delivery pending: posted jobs, and outcome_unknown sends to look up.
// Each goes to its account's Tracker with its send time, so that its
// window still counts from the send; one whose window has ended already
// is recorded not_confirmed at once (nobody was following it then). Jobs
// sent after ResumeDeliveries began are left to the process that sent
// them. The trackers first learn the idMessages of the posted jobs, so
// that a lost answer is never matched with another job's status. Every
// serve process resumes them all: the record keeps the first final
// delivery written (a compare-and-set), so the result is the same. It
// returns how many it took up.
func (w *Worker) ResumeDeliveries(ctx context.Context, list JobLister) (int, error) {
	if w.cfg.DryRun {
		return 0, nil // a dry run follows nothing
	}
	start := time.Now()
	o := queue.ListOptions{States: []queue.State{queue.StatePosted, queue.StateFailed}, Limit: queue.MaxListLimit}
	var pending []queue.Job
	for {
		p, err := list.List(ctx, o)
		if err != nil {
			return 0, fmt.Errorf("resuming deliveries: %w", err)
		}
		for _, j := range p.Jobs {
			if j.Delivery == delivery.Pending {
				pending = append(pending, j)
			}
			if j.State == queue.StatePosted && j.IDMessage != "" {
				if ww, err := w.forJob(j); err == nil && ww.cfg.Tracker != nil {
					ww.cfg.Tracker.Know(j.IDMessage, sentAt(j))
				}
			}
		}
		if p.Next == "" {
			break
		}
		o.Cursor = p.Next
	}
	n := 0
	for _, j := range pending {
		if w.resume(j, start) {
			n++
		}
	}
	return n, nil
}

// resume hands j to its account's Tracker; false when it follows nothing
// (no tracker for its account, or not a job to follow).
func (w *Worker) resume(j queue.Job, start time.Time) bool {
	lost := j.State == queue.StateFailed && j.OutcomeUnknown && j.IDMessage == ""
	posted := j.State == queue.StatePosted && j.IDMessage != ""
	at := sentAt(j)
	if !lost && !posted || at.IsZero() || at.After(start) {
		return false
	}
	ww, err := w.forJob(j)
	if err != nil || ww.cfg.Tracker == nil {
		return false
	}
	log := ww.log.With("job", j.ID, "resumed", true)
	if window := ww.cfg.Tracker.Window(); start.Sub(at) >= window {
		ww.windowEnded(j, window, lost, log)
		return true
	}
	if lost {
		ww.followLost(j, log)
	} else {
		ww.followSent(j, log)
	}
	return true
}

// windowEnded records not_confirmed for a job whose window ended while no
// process followed it. An outcome_unknown job stays so.
func (w *Worker) windowEnded(j queue.Job, window time.Duration, lost bool, log *slog.Logger) {
	note := fmt.Sprintf("not seen as sent in getOutgoingStatuses before the %s window after the send ended: the service was down and not following it", window)
	if lost {
		note = fmt.Sprintf("not looked up in getOutgoingStatuses before the %s window after the send ended: the service was down; check `mediaprep statuses` before posting it again", window)
	}
	w.cfg.Metrics.Delivery(delivery.NotConfirmed, 0)
	log.Info("delivery", "state", delivery.NotConfirmed, "idMessage", j.IDMessage, "note", note)
	w.recordDelivery(j.ID, log, func(rec *queue.Job) error {
		if rec.IDMessage != j.IDMessage || rec.State != j.State || rec.Delivery != delivery.Pending {
			return queue.ErrFinal
		}
		rec.Delivery, rec.DeliveryNote = delivery.NotConfirmed, note
		return nil
	})
}

// resumeDeliveries follows again, at start, the statuses left pending by
// the serve processes that ran before.
func (r *runner) resumeDeliveries(ctx context.Context) {
	n, err := r.worker.ResumeDeliveries(ctx, r.list)
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("deliveries left pending by an earlier run are not followed", "err", err)
	case n > 0:
		r.log.Info("following again the deliveries left pending by an earlier run", "jobs", n)
	}
}
