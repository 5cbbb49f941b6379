package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is one delivery of a job to a Handler.
type Delivery struct {
	Job     Job          // as stored, with Attempts set to Attempt
	Attempt int          // 1 for the first delivery
	Log     *slog.Logger // the queue's logger with the job's id

	maxDeliver int
}

// LastAttempt reports whether the job will not be delivered again: a
// RetryLater now ends it failed with "max_deliveries".
func (d *Delivery) LastAttempt() bool { return d.Attempt >= d.maxDeliver }

// Handler runs one delivery of a job. Its contract with Work:
//   - nil: the job is done (posted, or its failure recorded); the message
//     is acked and the job is not delivered again.
//   - an error from RetryLater: deliver the job again after the delay.
//   - ctx's error after ctx ended (shutdown): the job goes back to queued
//     and another worker takes it at once.
//   - any other error: the job failed for good; the handler has recorded
//     that (Work marks a job that is not final as failed, to be sure).
//
// A Handler must cope with a job delivered again after it ran partly: a
// worker may die at any point.
type Handler func(ctx context.Context, d *Delivery) error

// RetryLater wraps err so that Work delivers the job again after delay.
// errors.Is and errors.As still see err.
func RetryLater(err error, delay time.Duration) error {
	if err == nil {
		err = errors.New("retry later")
	}
	return &retryError{err: err, delay: max(delay, 0)}
}

type retryError struct {
	err   error
	delay time.Duration
	wait  bool // WaitUntil: a scheduled job's wait, not a retry
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// WorkOptions set how Work runs handlers.
type WorkOptions struct {
	Concurrency int           // handlers at once, default 1
	Grace       time.Duration // after Work's ctx ends, how long running handlers may go on; default 30s
}

// Error codes Work records on jobs.
const (
	CodeMaxDeliveries = "max_deliveries" // delivered MaxDeliver times without an answer
	CodeHandler       = "handler_error"  // the handler failed without recording why
)

const (
	fetchWait      = 20 * time.Second // one pull request waits this long for jobs
	fetchHeartbeat = 2 * time.Second  // the server shows it holds the pull request this often
	sweepEvery     = time.Minute      // see sweep
)

// Work runs jobs with h until ctx ends, at most opt.Concurrency at once,
// pulling from the consumer that every worker shares: it fetches no more
// jobs than it can start. When ctx ends it fetches no more; running
// handlers go on for opt.Grace, then their context is canceled and the
// jobs they give up go back to the queue. Work returns nil once every
// handler has returned, or an error when it cannot work at all.
func (q *Queue) Work(ctx context.Context, opt WorkOptions, h Handler) error {
	if opt.Concurrency < 0 || opt.Grace < 0 {
		return fmt.Errorf("queue: WorkOptions Concurrency %d, Grace %s: must not be negative", opt.Concurrency, opt.Grace)
	}
	if opt.Concurrency == 0 {
		opt.Concurrency = 1
	}
	if opt.Grace == 0 {
		opt.Grace = 30 * time.Second
	}
	stopWatch, err := q.watchMaxDeliveries(ctx)
	if err != nil {
		return err
	}
	defer stopWatch()

	// Handlers run on a context of their own, canceled Grace after the
	// loop ends.
	hctx, stopHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHandlers()
	var running sync.WaitGroup
	err = q.pull(ctx, q.cons, opt.Concurrency, func(msg jetstream.Msg) { q.handle(hctx, msg, h) }, &running)
	grace := time.AfterFunc(opt.Grace, stopHandlers)
	running.Wait()
	grace.Stop()
	return err
}

// pull fetches messages from cons and runs each with run on a goroutine
// of its own in running, at most concurrency at once, until ctx ends.
func (q *Queue) pull(ctx context.Context, cons jetstream.Consumer, concurrency int, run func(jetstream.Msg), running *sync.WaitGroup) error {
	slots := make(chan struct{}, concurrency) // one per running handler
	pause := newBackoff()
	for ctx.Err() == nil {
		// Wait for a free slot, then take every free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		n := 1
	more:
		for n < concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}

		got, err := q.fetch(ctx, cons, n, func(msg jetstream.Msg) {
			running.Go(func() {
				defer func() { <-slots }()
				run(msg)
			})
		})
		for range n - got {
			<-slots
		}
		if err != nil && ctx.Err() == nil {
			if q.nc.IsClosed() {
				return fmt.Errorf("queue: the NATS connection is closed: %w", err)
			}
			d := pause.next()
			q.log.Warn("queue: fetching messages failed; trying again", "consumer", cons.CachedInfo().Name, "err", err, "in", d)
			sleep(ctx, d)
			continue
		}
		pause.reset()
	}
	return nil
}

// fetch pulls up to n messages from cons and starts each with run. It
// returns how many it started. Messages that arrive after ctx ended go
// straight back.
func (q *Queue) fetch(ctx context.Context, cons jetstream.Consumer, n int, run func(jetstream.Msg)) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	// Heartbeats: a pull request left on a node that went down (or with
	// a consumer leader that moved) is noticed in 2 heartbeats instead of
	// waiting out fetchWait.
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(fetchHeartbeat))
	if err != nil {
		return 0, err
	}
	got := 0
	for msg := range batch.Messages() {
		if ctx.Err() != nil {
			if err := msg.Nak(); err != nil {
				q.log.Warn("queue: handing back a message fetched while stopping; it returns after AckWait", "subject", msg.Subject(), "err", err)
			}
			continue
		}
		run(msg)
		got++
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return got, err
	}
	return got, nil
}

// A message whose job has no record is delivered orphanDeliveries times,
// orphanRetry apart, before it is dropped (see handle).
const (
	orphanDeliveries = 3
	orphanRetry      = time.Second
)

// handle runs one message through h and settles it.
func (q *Queue) handle(ctx context.Context, msg jetstream.Msg, h Handler) {
	// Bookkeeping goes on after ctx ends (shutdown).
	bg := context.WithoutCancel(ctx)
	id := string(msg.Data())
	log := q.log.With("job", id)
	meta, err := msg.Metadata()
	if err != nil {
		log.Error("queue: a message without JetStream metadata; dropping it", "err", err)
		_ = msg.Term()
		return
	}
	attempt := int(meta.NumDelivered)
	j, err := q.Update(bg, id, func(j *Job) error { j.Attempts = attempt; return nil })
	if errors.Is(err, ErrNotFound) {
		// On a cluster, a read right after a leader change can come from
		// a replica that has not caught up with a record just created:
		// look again a few times before taking the message for an orphan
		// (its Enqueue failed and took the record back).
		if attempt < orphanDeliveries {
			log.Warn("queue: no record for this job yet; looking again shortly", "attempt", attempt)
			_ = msg.NakWithDelay(orphanRetry)
			return
		}
		log.Error("queue: a queued message for a job without a record; dropping it", "attempt", attempt)
		_ = msg.Term()
		return
	}
	if err != nil {
		log.Warn("queue: cannot read the job; it will be delivered again", "err", err, "attempt", attempt)
		_ = msg.NakWithDelay(q.cfg.AckWait)
		return
	}

	stop := keepAlive(msg, q.cfg.AckWait/3, log)
	err = safely(ctx, h, &Delivery{Job: j, Attempt: attempt, Log: log, maxDeliver: q.cfg.MaxDeliver})
	stop()

	var retry *retryError
	switch {
	case err == nil:
		if err := msg.DoubleAck(bg); err != nil {
			log.Error("queue: the job is done but its ack was not confirmed; it may be delivered again", "err", err)
		}
	case ctx.Err() != nil:
		// Shutting down: leave the job queued for another worker, first
		// in the record, then on the stream.
		q.setState(bg, log, id, StateQueued, "", "")
		if err := msg.Nak(); err != nil {
			log.Warn("queue: handing back a job cut short by shutdown; it returns after AckWait", "err", err)
		}
		log.Info("queue: job stopped by shutdown; it stays queued", "attempt", attempt)
	case errors.As(err, &retry) && retry.wait:
		q.wait(bg, msg, id, attempt, retry.delay, log)
	case errors.As(err, &retry):
		if err := msg.NakWithDelay(retry.delay); err != nil {
			log.Warn("queue: asking to deliver the job again failed; it returns after AckWait", "err", err)
		}
	default:
		// The handler has logged the failure (Handler's contract): this
		// line is for debugging only, so that each failure is one error.
		log.Debug("queue: job failed", "err", err, "attempt", attempt)
		q.setState(bg, log, id, StateFailed, CodeHandler, err.Error())
		if err := msg.Term(); err != nil {
			log.Warn("queue: dropping the failed job's message failed; it may be delivered again", "err", err)
		}
	}
}

// keepAlive tells the server every interval that msg is still being
// worked on, until the returned stop is called.
func keepAlive(msg jetstream.Msg, every time.Duration, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					log.Warn("queue: telling the server the job is still running failed", "err", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// setState moves a job that is not final to state. It writes code and
// message only for a failure.
func (q *Queue) setState(ctx context.Context, log *slog.Logger, id string, state State, code, message string) {
	_, err := q.Update(ctx, id, func(j *Job) error {
		if j.State.Final() {
			return ErrFinal
		}
		if state == StateQueued && j.State == StatePosting {
			// The status may have gone out: only the handler, which
			// knows, takes a job out of posting.
			return ErrFinal
		}
		j.State = state
		if state == StateFailed {
			j.ErrorCode, j.Error = code, message
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrFinal) {
		log.Error("queue: recording the job's state failed", "state", state, "err", err)
	}
}

// ErrFinal is what an Update function answers to leave the job as it is:
// it is posted or failed already, or another delivery owns it. Update
// returns it unchanged.
var ErrFinal = errors.New("queue: job already final")

// backoff is the pause after a failed fetch: 100ms doubling to 10s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, 100*time.Millisecond), 10*time.Second)
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// NewDelivery makes a Delivery outside Work, for testing handlers: attempt
// of maxDeliver.
func NewDelivery(j Job, attempt, maxDeliver int) *Delivery {
	j.Attempts = attempt
	return &Delivery{Job: j, Attempt: attempt, Log: slog.New(slog.DiscardHandler), maxDeliver: maxDeliver}
}

// RetryDelay tells whether err came from RetryLater, and its delay.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}

// safely runs h, turning a panic into an error (the job fails with
// CodeHandler and the stack is logged) so that one bad input cannot take
// the whole process, and every job it runs, down with it.
func safely(ctx context.Context, h Handler, d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			d.Log.Error("queue: the handler panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error (a bug, please report it): %v", r)
		}
	}()
	return h(ctx, d)
}
