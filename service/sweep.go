package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/queue"
)

// The process that posts a status follows it (delivery.Tracker) until it
// shows or its window ends, and records the result in the job. A process
// that stops first (a restart, a worker that died or was scaled down)
// leaves the job's delivery pending. serve takes such jobs up: all of them
// at start (Resume), and then, every SweepEvery, those still pending
// OrphanMargin after their window ended (Sweep), when their sender would
// have recorded a result had it been running.
const (
	// SweepEvery is how often serve looks for deliveries nobody follows.
	// It reads its own copy of the job list (queue.Index), in memory.
	SweepEvery = time.Minute
	// OrphanMargin is how long after its window (counted from the job's
	// last write) a pending delivery is left to its sender: its tracker
	// looks at most every 30 s and records within 30 s, plus a minute for
	// clocks that differ between machines.
	OrphanMargin = 2 * time.Minute
	// lastLookReach: a job taken up within this time of its send gets one
	// last look in getOutgoingStatuses (a listing that far back) even when
	// its window is over; an older one is not_confirmed at once.
	lastLookReach = 24 * time.Hour
)

// Notes of a delivery whose window ended with nobody following it.
const (
	whyDown    = "the service was down and not following it"
	whyOrphan  = "the process that posted it stopped following it"
	noteLookup = "check `mediaprep statuses` before posting it again"
)

// Sweeper takes up the deliveries their senders left pending, each handed
// to its account's Tracker with its send time, so that its window still
// counts from the send. Every serve process sweeps: the record keeps the
// first final delivery written (a compare-and-set) and only the process
// that wrote it counts it in the metrics, so several sweeping the same job
// agree.
type Sweeper struct {
	w    *Worker
	list JobLister

	mu        sync.Mutex
	following map[string]bool // jobs this Sweeper handed to a tracker, until their result is in
}

// NewSweeper returns a Sweeper following with w's trackers the jobs list
// gives.
func NewSweeper(w *Worker, list JobLister) *Sweeper {
	return &Sweeper{w: w, list: list, following: map[string]bool{}}
}

// Resume follows again, at a start at now, the statuses the processes
// before left pending: posted jobs, and outcome_unknown sends to look up,
// sent before now (those sent later are their sender's). One whose window
// has ended gets one last look, then is not_confirmed, its note saying the
// service was down. It returns how many it took up.
func (s *Sweeper) Resume(ctx context.Context, now time.Time) (int, error) {
	return s.take(ctx, now, whyDown, func(j queue.Job, _ time.Duration) bool { return !sentAt(j).After(now) })
}

// Sweep takes up, at now, the jobs still pending OrphanMargin after their
// window ended, counted from their last write: their sender stopped
// following them. Each gets one last look, then is not_confirmed, its note
// saying so. It returns how many it took up.
func (s *Sweeper) Sweep(ctx context.Context, now time.Time) (int, error) {
	return s.take(ctx, now, whyOrphan, func(j queue.Job, window time.Duration) bool {
		last := j.Updated
		if at := sentAt(j); at.After(last) {
			last = at
		}
		return now.Sub(last) >= window+OrphanMargin
	})
}

// take follows the pending jobs that orphaned (given their tracker's
// window) tells.
func (s *Sweeper) take(ctx context.Context, now time.Time, why string, orphaned func(queue.Job, time.Duration) bool) (int, error) {
	if s.w.cfg.DryRun {
		return 0, nil // a dry run follows nothing
	}
	pending, err := s.pending(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range pending {
		ww, err := s.w.forJob(j)
		if err != nil || ww.cfg.Tracker == nil || !orphaned(j, ww.cfg.Tracker.Window()) {
			continue
		}
		if s.follow(ww, j, now, why) {
			n++
		}
	}
	return n, nil
}

// pending lists the jobs whose delivery is pending. The trackers learn on
// the way the idMessages of the posted jobs, so that a lost answer is
// never matched with another job's status.
func (s *Sweeper) pending(ctx context.Context) ([]queue.Job, error) {
	o := queue.ListOptions{States: []queue.State{queue.StatePosted, queue.StateFailed}, Limit: queue.MaxListLimit}
	var pending []queue.Job
	for {
		p, err := s.list.List(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("listing the deliveries left pending: %w", err)
		}
		for _, j := range p.Jobs {
			if j.Delivery == delivery.Pending {
				pending = append(pending, j)
			}
			if j.State == queue.StatePosted && j.IDMessage != "" {
				if ww, err := s.w.forJob(j); err == nil && ww.cfg.Tracker != nil {
					ww.cfg.Tracker.Know(j.IDMessage, sentAt(j))
				}
			}
		}
		if p.Next == "" {
			return pending, nil
		}
		o.Cursor = p.Next
	}
}

// follow hands j to w's Tracker, unless this Sweeper follows it already;
// false when it follows nothing.
func (s *Sweeper) follow(w *Worker, j queue.Job, now time.Time, why string) bool {
	lost := j.State == queue.StateFailed && j.OutcomeUnknown && j.IDMessage == ""
	posted := j.State == queue.StatePosted && j.IDMessage != ""
	at := sentAt(j)
	if !lost && !posted || at.IsZero() {
		return false
	}
	s.mu.Lock()
	if s.following[j.ID] {
		s.mu.Unlock()
		return false
	}
	s.following[j.ID] = true
	s.mu.Unlock()
	t := takeover{done: func() {
		s.mu.Lock()
		delete(s.following, j.ID)
		s.mu.Unlock()
	}}
	log := w.log.With("job", j.ID, "resumed", true)
	window := w.cfg.Tracker.Window()
	switch age := now.Sub(at); {
	case age >= lastLookReach:
		w.windowEnded(j, window, lost, why, log)
		t.finish()
		return true
	case age >= window:
		t.why = why
	}
	if lost {
		w.followLost(j, log, t)
	} else {
		w.followSent(j, log, t)
	}
	return true
}

// windowEnded records not_confirmed for a job sent too long ago to look it
// up. An outcome_unknown job stays so.
func (w *Worker) windowEnded(j queue.Job, window time.Duration, lost bool, why string, log *slog.Logger) {
	note := fmt.Sprintf("not seen as sent in getOutgoingStatuses before the %s window after the send ended: %s", window, why)
	if lost {
		note = fmt.Sprintf("not looked up in getOutgoingStatuses before the %s window after the send ended: %s; %s", window, why, noteLookup)
	}
	if !w.recordDelivery(j.ID, log, func(rec *queue.Job) error {
		if rec.IDMessage != j.IDMessage || rec.State != j.State || rec.Delivery != delivery.Pending {
			return queue.ErrFinal
		}
		rec.Delivery, rec.DeliveryNote = delivery.NotConfirmed, note
		return nil
	}) {
		return
	}
	w.cfg.Metrics.Delivery(delivery.NotConfirmed, 0)
	log.Info("delivery", "state", delivery.NotConfirmed, "idMessage", j.IDMessage, "note", note)
}

// Run resumes what the processes before left pending (Resume), then
// sweeps every every (Sweep) until ctx ends, reading the time from now.
func (s *Sweeper) Run(ctx context.Context, every time.Duration, now func() time.Time) {
	n, err := s.Resume(ctx, now())
	s.logPass(ctx, n, err, "deliveries left pending by an earlier run are not followed",
		"following again the deliveries left pending by an earlier run")
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := s.Sweep(ctx, now())
		s.logPass(ctx, n, err, "looking for deliveries nobody follows",
			"following the deliveries their sender stopped following")
	}
}

// logPass logs what a Resume or Sweep did: failed with its error (unless
// ctx ended it), took with the jobs it took up, if any.
func (s *Sweeper) logPass(ctx context.Context, n int, err error, failed, took string) {
	switch {
	case err != nil && ctx.Err() == nil:
		s.w.log.Warn(failed, "err", err)
	case n > 0:
		s.w.log.Info(took, "jobs", n)
	}
}

// followDeliveries follows, at start, the statuses left pending by the
// processes that ran before, then every SweepEvery those whose sender
// stopped following them, until ctx ends.
func (r *runner) followDeliveries(ctx context.Context) {
	if r.tracker == nil && len(r.accountTrackers) == 0 {
		return // nothing is followed (dry run, window 0)
	}
	NewSweeper(r.worker, r.list).Run(ctx, SweepEvery, time.Now)
}
