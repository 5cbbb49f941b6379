package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// errSendTaken: another delivery of the job is sending it, or it was sent.
var errSendTaken = errors.New("another delivery is posting this job")

// stalePosting is how long a delivery may be posting (the client's
// retries, Retry-After and the shared limiter included) before another
// delivery takes it for dead.
const stalePosting = 10 * time.Minute

// guardedSender marks the job posting, by this delivery, in one
// compare-and-set on its record right before each send: a job whose
// record says it was posted, may have been, or is being posted by another
// delivery is not sent. With the record as ledger, this makes a status go
// out at most once per job.
type guardedSender struct {
	pipeline.Sender
	jobs    WorkerJobs
	id      string
	token   string
	metrics *Metrics
	// life is the delivery's context: recording a send is tried until it
	// ends (shutdown), whatever the job's own timeout.
	life context.Context

	mu   sync.Mutex
	sent bool // a request went out that may have posted the status
}

// othersPosting reports whether another delivery took j for posting
// lately, whatever its state says now.
func othersPosting(j *queue.Job, token string) bool {
	return j.PostingBy != "" && j.PostingBy != token && time.Since(j.PostingAt) < stalePosting
}

func (g *guardedSender) take(ctx context.Context) error {
	_, err := g.jobs.Update(ctx, g.id, func(j *queue.Job) error {
		if j.State.Final() || j.IDMessage != "" || j.OutcomeUnknown || othersPosting(j, g.token) ||
			(j.State == queue.StatePosting && j.PostingBy != g.token) {
			return errSendTaken
		}
		j.State, j.PostingBy, j.PostingAt = queue.StatePosting, g.token, time.Now().UTC()
		return nil
	})
	switch {
	case errors.Is(err, errSendTaken):
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", errQueue, err) // nothing sent; try again
	}
	g.metrics.JobState(queue.StatePosting)
	return nil
}

// done notes the outcome of a send: the client says ErrOutcomeUnknown
// whenever a status may have been posted; any other error means it was not.
func (g *guardedSender) done(err error) {
	g.mu.Lock()
	g.sent = g.sent || err == nil || errors.Is(err, greenapi.ErrOutcomeUnknown)
	g.mu.Unlock()
}

// mayHaveSent reports whether a send may have posted the status.
func (g *guardedSender) mayHaveSent() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sent
}

// release takes the job out of posting, back to queued, when this
// delivery holds it and sent nothing.
func (g *guardedSender) release(ctx context.Context, log *slog.Logger) {
	if g.mayHaveSent() {
		return
	}
	_, err := g.jobs.Update(ctx, g.id, func(j *queue.Job) error {
		if j.State != queue.StatePosting || j.PostingBy != g.token {
			return queue.ErrFinal
		}
		j.State, j.PostingBy = queue.StateQueued, ""
		return nil
	})
	if err != nil && !errors.Is(err, queue.ErrFinal) {
		log.Warn("taking the job out of posting", "err", err)
	}
}

func (g *guardedSender) SendMediaStatus(ctx context.Context, s greenapi.MediaStatus) (greenapi.Sent, error) {
	return guardedSend(ctx, g, s, g.Sender.SendMediaStatus)
}

func (g *guardedSender) SendVoiceStatus(ctx context.Context, s greenapi.VoiceStatus) (greenapi.Sent, error) {
	return guardedSend(ctx, g, s, g.Sender.SendVoiceStatus)
}

func (g *guardedSender) SendTextStatus(ctx context.Context, s greenapi.TextStatus) (greenapi.Sent, error) {
	return guardedSend(ctx, g, s, g.Sender.SendTextStatus)
}

// guardedSend is one send through g: the job is taken into posting first
// (a job already there is not sent again) and taken out with the send's
// result.
func guardedSend[S any](ctx context.Context, g *guardedSender, s S, send func(context.Context, S) (greenapi.Sent, error)) (greenapi.Sent, error) {
	if err := g.take(ctx); err != nil {
		return greenapi.Sent{}, err
	}
	sent, err := send(ctx, s)
	g.done(err)
	return sent, err
}

// jobLedger is a pipeline.Ledger over one job's record: the Publisher
// finds the job's own post there and records idMessage in it, durably,
// before Publish returns and so before the delivery is acked.
type jobLedger struct {
	w    *Worker
	life context.Context // the delivery's: recording is tried until it ends
	id   string
	log  *slog.Logger
}

// Lookup implements pipeline.Ledger: the job's own post, if it was sent.
func (l *jobLedger) Lookup(ctx context.Context, postID string) (pipeline.Posted, bool) {
	j, err := l.w.cfg.Jobs.Get(ctx, l.id)
	if err != nil || (j.IDMessage == "" && !j.OutcomeUnknown) {
		return pipeline.Posted{}, false
	}
	return pipeline.Posted{
		Prepared: pipeline.Prepared{Method: pipeline.Method(j.Method)},
		Key:      j.Key, URL: j.URL, LinkExpires: j.LinkExpires,
		IDMessage: j.IDMessage, PostID: postID, PostedAt: j.PostedAt,
		OutcomeUnknown: j.OutcomeUnknown,
	}, true
}

// Record implements pipeline.Ledger: it writes the send down in the
// journal, then in the job, tried without a cap until the delivery's
// context ends (Worker.record), not ctx: the job's timeout must not cut
// the record of a send that went out.
func (l *jobLedger) Record(_ context.Context, _ string, p pipeline.Posted) error {
	_, err := l.w.record(l.life, l.id, p, l.log)
	return err
}
