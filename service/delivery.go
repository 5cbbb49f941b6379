package service

import (
	"context"
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

// followSent follows a posted job's status; the job record gets its
// delivery when it shows as sent (or later), or not_confirmed.
func (w *Worker) followSent(j queue.Job, log *slog.Logger) {
	w.cfg.Tracker.Follow(delivery.Watch{
		IDMessage: j.IDMessage, SentAt: sentAt(j),
		Done: func(r delivery.Result) {
			if r.State == delivery.Pending {
				return // shutting down: the record says pending already
			}
			w.cfg.Metrics.Delivery(r.State, r.SeenAfter)
			log.Info("delivery", "state", r.State, "idMessage", j.IDMessage, "note", r.Note)
			w.recordDelivery(j.ID, log, func(rec *queue.Job) error {
				if rec.IDMessage != j.IDMessage || rec.Delivery != delivery.Pending {
					return queue.ErrFinal // the first final delivery stays (another serve may follow it too)
				}
				rec.Delivery, rec.DeliveryNote = r.State, r.Note
				return nil
			})
		},
	})
}

// followLost looks for the status of an outcome_unknown send: when exactly
// one status of its method with its caption (or text) shows up, the job
// becomes posted with that idMessage and a note of how it was resolved;
// otherwise it stays outcome_unknown, the note saying what was seen. It
// never sends.
func (w *Worker) followLost(j queue.Job, log *slog.Logger) {
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
			if r.State == delivery.Pending {
				return
			}
			result := r.State
			if r.IDMessage != "" {
				result = "resolved"
			}
			w.cfg.Metrics.Delivery(result, r.SeenAfter)
			log.Info("outcome_unknown send looked up", "found", r.IDMessage, "note", r.Note)
			w.recordDelivery(j.ID, log, func(rec *queue.Job) error {
				if rec.IDMessage != "" || rec.State != queue.StateFailed || rec.Delivery != delivery.Pending {
					return queue.ErrFinal
				}
				rec.Delivery, rec.DeliveryNote = r.State, r.Note
				if r.IDMessage != "" {
					rec.State, rec.IDMessage, rec.OutcomeUnknown = queue.StatePosted, r.IDMessage, false
					rec.ErrorCode, rec.Error = "", ""
				}
				return nil
			})
			if r.IDMessage != "" {
				w.cfg.Metrics.JobState(queue.StatePosted)
			}
		},
	})
}

func (w *Worker) recordDelivery(id string, log *slog.Logger, fn func(*queue.Job) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.update(ctx, id, log, fn)
}
