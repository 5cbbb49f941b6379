package service

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
)

// markPending sets j's delivery to pending when its status is to be
// followed now: a real send, with a Tracker, not followed before. It
// reports whether it did.
func (w *Worker) markPending(j *queue.Job) bool {
	if w.cfg.Tracker == nil || j.DryRun || w.cfg.DryRun || j.Delivery != "" {
		return false
	}
	if j.IDMessage == "" && !j.OutcomeUnknown {
		return false
	}
	j.Delivery = delivery.Pending
	return true
}

// sentAt is when the job's send began.
func sentAt(j queue.Job) time.Time {
	if !j.PostingAt.IsZero() {
		return j.PostingAt
	}
	return j.PostedAt
}

// takeover is how a process follows a job whose sender stopped following
// it (a restart, or serve's sweep); the zero value: the sender itself.
type takeover struct {
	// why the window ended with nobody following, when it has: the
	// tracker then has one last look, the note says why, and the time
	// from the send is not measured.
	why  string
	done func() // after the result is recorded (or not)
}

// note is the job's deliveryNote for r (lost: of an outcome_unknown send
// not resolved).
func (t takeover) note(r delivery.Result, lost bool) string {
	n := r.Note
	if t.why != "" {
		n += " (looked up once after the window ended: " + t.why + ")"
	}
	if t.why != "" && lost {
		n += "; check `mediaprep statuses` before posting it again"
	}
	return n
}

func (t takeover) finish() {
	if t.done != nil {
		t.done()
	}
}

// seen is the time from the send to the look that saw it, for the metrics
// (0: not measured).
func (t takeover) seen(r delivery.Result) time.Duration {
	if t.why != "" {
		return 0
	}
	return r.SeenAfter
}

// followSent follows a posted job's status; the job record gets its
// delivery when it shows as sent (or later), or not_confirmed. The result
// is counted in the metrics by the process that records it only (others
// may follow the same job).
func (w *Worker) followSent(j queue.Job, log *slog.Logger, t takeover) {
	w.cfg.Tracker.Follow(delivery.Watch{
		IDMessage: j.IDMessage, SentAt: sentAt(j),
		Done: func(r delivery.Result) {
			defer t.finish()
			if r.State == delivery.Pending {
				return // shutting down: the record says pending already
			}
			note := t.note(r, false)
			if !w.recordDelivery(j.ID, log, func(rec *queue.Job) error {
				if rec.IDMessage != j.IDMessage || rec.Delivery != delivery.Pending {
					return queue.ErrFinal // the first final delivery stays (another serve may follow it too)
				}
				rec.Delivery, rec.DeliveryNote = r.State, note
				return nil
			}) {
				return
			}
			w.cfg.Metrics.Delivery(r.State, t.seen(r))
			log.Info("delivery", "state", r.State, "idMessage", j.IDMessage, "note", note)
		},
	})
}

// followLost looks for the status of an outcome_unknown send: when exactly
// one status of its method with its caption (or text) shows up, the job
// becomes posted with that idMessage and a note of how it was resolved;
// otherwise it stays outcome_unknown, the note saying what was seen. It
// never sends.
func (w *Worker) followLost(j queue.Job, log *slog.Logger, t takeover) {
	text := j.Request.Caption
	method := j.Method
	if j.Request.Text != "" {
		text, method = j.Request.Text, greenapi.MethodSendTextStatus
	}
	if method == greenapi.MethodSendVoiceStatus {
		text = ""
	}
	w.cfg.Tracker.Follow(delivery.Watch{
		Method: method, Text: text, SentAt: sentAt(j),
		Done: func(r delivery.Result) {
			defer t.finish()
			if r.State == delivery.Pending {
				return
			}
			note := t.note(r, r.IDMessage == "")
			if !w.recordDelivery(j.ID, log, func(rec *queue.Job) error {
				if rec.IDMessage != "" || rec.State != queue.StateFailed || rec.Delivery != delivery.Pending {
					return queue.ErrFinal
				}
				rec.Delivery, rec.DeliveryNote = r.State, note
				if r.IDMessage != "" {
					rec.State, rec.IDMessage, rec.OutcomeUnknown = queue.StatePosted, r.IDMessage, false
					rec.ErrorCode, rec.Error = "", ""
				}
				return nil
			}) {
				return
			}
			result := r.State
			if r.IDMessage != "" {
				result = "resolved"
				w.cfg.Metrics.JobState(queue.StatePosted)
			}
			w.cfg.Metrics.Delivery(result, t.seen(r))
			log.Info("outcome_unknown send looked up", "found", r.IDMessage, "note", note)
		},
	})
}

// recordDelivery writes a delivery result into job id through fn (a
// compare-and-set that answers queue.ErrFinal when the record has its
// final delivery already). It reports whether this call wrote it: only
// then is the result counted.
func (w *Worker) recordDelivery(id string, log *slog.Logger, fn func(*queue.Job) error) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := w.cfg.Jobs.Update(ctx, id, fn)
	if err != nil && !errors.Is(err, queue.ErrFinal) {
		log.Warn("recording the delivery", "err", err)
	}
	return err == nil
}
