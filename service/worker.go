package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// WorkerJobs is the queue as the worker sees it (the job records; the
// deliveries come through Handle); *queue.Queue is the implementation.
type WorkerJobs interface {
	// Get returns the job with id, or queue.ErrNotFound.
	Get(ctx context.Context, id string) (queue.Job, error)
	// Update changes the job with id through fn, compare-and-set: fn may
	// run again on a newer record; an error from fn leaves it unchanged.
	Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error)
}

// WorkerBucket is what the worker needs of storage: the pipeline's Store,
// and fetching and moving sources. *storage.Store (S3) or *storage.Dir (a
// folder in the data directory).
type WorkerBucket interface {
	pipeline.Store
	// Download writes the object at key to the file dst (created or
	// truncated; removed on error) and returns its metadata.
	Download(ctx context.Context, key, dst string) (storage.Object, error)
	// Move renames from to to (copy then delete for S3).
	Move(ctx context.Context, from, to string) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

var (
	_ WorkerJobs   = (*queue.Queue)(nil)
	_ WorkerBucket = (*storage.Store)(nil)
	_ WorkerBucket = (*storage.Dir)(nil)
)

// DefaultInboxPrefix is where files are dropped (Layout.Inbox).
const DefaultInboxPrefix = "inbox/"

// Layout names the prefixes of the bucket the service uses.
type Layout struct {
	Inbox     string // default "inbox/": dropped files
	Uploads   string // default "uploads/": files uploaded over HTTP
	Processed string // default "processed/": sources whose status was posted
	Failed    string // default "failed/": sources that failed, each with NAME.error.json
}

func (l Layout) withDefaults() Layout {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
		if !strings.HasSuffix(*s, "/") {
			*s += "/"
		}
	}
	def(&l.Inbox, DefaultInboxPrefix)
	def(&l.Uploads, "uploads/")
	def(&l.Processed, "processed/")
	def(&l.Failed, "failed/")
	return l
}

// rel is a source's name below its prefix: "a/b.jpg" for "inbox/a/b.jpg",
// "<id>/b.jpg" for an upload.
func (l Layout) rel(key string) string {
	for _, p := range []string{l.Inbox, l.Uploads} {
		if r, ok := strings.CutPrefix(key, p); ok {
			return r
		}
	}
	return key
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Jobs    WorkerJobs
	Bucket  WorkerBucket
	Prep    pipeline.Preparer // *transcode.Transcoder
	Check   pipeline.LinkChecker
	Send    pipeline.Sender // *greenapi.Client, or a pipeline.DryRunSender
	DryRun  bool            // Send does not post; jobs end posted with dryRun set
	TempDir string          // per-job working folders; required
	// LocalSources, when set, is where the API of this process keeps
	// uploads (APIConfig.KeepDir): a job finds its source there instead
	// of downloading it.
	LocalSources string
	Layout       Layout        // bucket prefixes
	Timeout      time.Duration // one delivery of a job; default 15 min
	Metrics      *Metrics
	Logger       *slog.Logger

	// Journal, when set, keeps each send's answer on local disk until
	// the job's record has it (see Journal).
	Journal *Journal
	// RecordPause is the longest pause between two tries of recording a
	// send's answer in its job; tries go on until it is recorded or the
	// process stops. Default 10s.
	RecordPause time.Duration
	// Linker, when set, makes the links instead of Bucket (link mode
	// greenapi); the job record keeps its link for the redeliveries.
	Linker pipeline.Linker
	// Tracker, when set, follows every posted status (and every
	// outcome_unknown send) in getOutgoingStatuses, in the background.
	Tracker *delivery.Tracker
	// Accounts, when set, gives each job the Send, Linker and Tracker of
	// its account instead of the ones above (service/accounts.go).
	Accounts Accounts
}

// Worker runs queued jobs: fetch the source, prepare, store, link, post
// (pipeline.Publisher), then move the source to processed/ or failed/.
type Worker struct {
	cfg     WorkerConfig
	log     *slog.Logger
	account string // the account of the job this copy runs (forJob)
}

// NewWorker checks cfg and returns a Worker; Handle is its queue.Handler.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	var errs []error
	if cfg.Jobs == nil || cfg.Bucket == nil || cfg.Prep == nil || cfg.Check == nil || (cfg.Send == nil && cfg.Accounts == nil) {
		errs = append(errs, errors.New("service: worker needs Jobs, Bucket, Prep, Check and Send"))
	}
	if cfg.TempDir == "" {
		errs = append(errs, errors.New("service: worker needs a TempDir"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Minute
	}
	if cfg.RecordPause <= 0 {
		cfg.RecordPause = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Layout = cfg.Layout.withDefaults()
	if err := os.MkdirAll(cfg.TempDir, 0o750); err != nil {
		return nil, fmt.Errorf("service: temp folder: %w", err)
	}
	return &Worker{cfg: cfg, log: cfg.Logger}, nil
}

// Handle runs one delivery of a job. It returns nil when the job is done
// (posted, or failed for good and its state recorded), a queue.RetryLater
// error when a retryable failure (storage down, Green API 429/5xx) should
// be tried again, and another error when the job failed for good.
func (w *Worker) Handle(ctx context.Context, d *queue.Delivery) error {
	job := d.Job
	w, accountErr := w.forJob(job)
	log := w.log.With("job", job.ID)
	ctx = WithJob(ctx, job.ID)
	if p, ok := w.cfg.Journal.Pending(job.ID); ok && job.IDMessage == "" {
		// This process sent it; the answer is not in the record yet.
		j, err := w.record(ctx, job.ID, p, log)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return queue.RetryLater(err, time.Minute)
		}
		job = j
	}
	if done, err := w.beforeSend(ctx, job, log); done {
		return err // canceled, deleted, or scheduled and waiting (schedule.go)
	}
	switch {
	case job.State == queue.StatePosted:
		return w.settle(ctx, job, log, d.LastAttempt()) // posted; the source may not have been moved yet
	case job.State == queue.StateFailed:
		return nil
	case job.IDMessage != "":
		// Posted by an earlier delivery that died before it finished:
		// never send again.
		log.Info("posted by an earlier delivery; not sending again", "idMessage", job.IDMessage)
		return w.posted(ctx, job, log, d.LastAttempt())
	case job.State == queue.StatePosting && !job.OutcomeUnknown:
		// Another delivery is sending it, or died while sending (kill -9,
		// power): the status may have gone out. Give a live one time to
		// finish; then, at most once: never send again.
		if wait := stalePosting - time.Since(job.PostingAt); wait > 0 && !d.LastAttempt() {
			log.Info("another delivery is posting this job; looking again later", "in", wait.Round(time.Second))
			return queue.RetryLater(errSendTaken, min(wait+time.Second, time.Minute))
		}
		return w.fail(ctx, job, log, &greenapi.Error{Method: job.Method, Code: greenapi.CodeOutcomeUnknown,
			Message: "the worker sending this status stopped before the answer was recorded; it may have been posted (check getOutgoingStatuses); upload it again to post it anyway"})
	case job.Invalid != "":
		return w.fail(ctx, job, log, &jobError{code: pipeline.CodeBadMetadata, msg: job.Invalid})
	case accountErr != nil:
		return w.fail(ctx, job, log, accountErr)
	case job.OutcomeUnknown:
		return w.fail(ctx, job, log, &greenapi.Error{Method: job.Method, Code: greenapi.CodeOutcomeUnknown,
			Message: "an earlier delivery sent this status and got no answer; it may have been posted (check getOutgoingStatuses); upload it again to post it anyway"})
	}

	if err := (transcode.Options{Crop: transcode.CropMode(job.Request.Crop), VideoFit: transcode.Fit(job.Request.VideoFit)}).Validate(); err != nil {
		code := codeInvalidRequest
		if job.Origin == queue.OriginInbox {
			code = pipeline.CodeBadMetadata
		}
		return w.fail(ctx, job, log, &jobError{code: code, msg: err.Error()})
	}

	runCtx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	send := &guardedSender{Sender: w.cfg.Send, jobs: w.cfg.Jobs, id: job.ID, token: newJobID(), metrics: w.cfg.Metrics, life: ctx}
	var err error
	storeOnly := waiting(job, time.Now())     // scheduled: prepare and store now, post at PublishAt (schedule.go)
	if !storeOnly || job.Request.Text == "" { // a text status has nothing to prepare
		job, err = w.publish(runCtx, job, send, log, storeOnly)
	}
	if err == nil && storeOnly {
		return w.schedule(ctx, job, log)
	}
	if errors.Is(err, errSendTaken) && w.canceledMeanwhile(ctx, job.ID, log) {
		return nil
	}
	if errors.Is(err, errSendTaken) {
		// Another delivery is posting it or has; keep the message, so
		// that the job is looked at again whatever becomes of that one.
		log.Warn("another delivery of this job is posting it; looking again later")
		return queue.RetryLater(err, time.Minute)
	}
	if err == nil && job.ErrorCode == codeLateRecord {
		return nil // its source went to failed/ with the outcome_unknown it had
	}
	if err == nil {
		return w.posted(ctx, job, log, d.LastAttempt())
	}
	if ctx.Err() != nil {
		// Shutting down: the queue puts the job back for another worker,
		// out of posting too when nothing was sent.
		send.release(context.WithoutCancel(ctx), log)
		return ctx.Err()
	}
	if retryable(err) && !d.LastAttempt() {
		delay := backoff(d.Attempt)
		log.Warn("retrying later", "code", pipeline.CodeOf(err), "err", err, "attempt", d.Attempt, "in", delay.Round(time.Second))
		if !send.mayHaveSent() {
			w.update(ctx, job.ID, log, func(j *queue.Job) error {
				if j.State.Final() || othersPosting(j, send.token) || (j.State == queue.StatePosting && j.PostingBy != send.token) {
					return queue.ErrFinal
				}
				j.State, j.PostingBy, j.ErrorCode, j.Error = queue.StateQueued, "", pipeline.CodeOf(err), "will retry: "+err.Error()
				return nil
			})
		}
		return queue.RetryLater(err, delay)
	}
	if retryable(err) {
		err = fmt.Errorf("gave up after %d deliveries: %w", d.Attempt, err)
	}
	return w.fail(ctx, job, log, err)
}

// retryable tells the failures worth another delivery: storage or the
// queue unreachable, Green API answering 429/5xx or not at all (after the
// client's own retries). Broken media, bad options and refused requests
// fail at once.
func retryable(err error) bool {
	switch {
	case errors.Is(err, greenapi.ErrOutcomeUnknown):
		return false
	case errors.Is(err, greenapi.ErrRetryExhausted), errors.Is(err, storage.ErrFailed),
		errors.Is(err, storage.ErrLinkUnreachable), errors.Is(err, errQueue):
		return true
	}
	return false
}

// errQueue marks a failure to read or write job state.
var errQueue = errors.New("queue unavailable")

// backoff is the delay before delivery attempt+1: 2 s doubling to 1 min,
// with ±25 % jitter so that jobs failed together do not come back together.
func backoff(attempt int) time.Duration {
	d := 2 * time.Second << min(max(attempt-1, 0), 5)
	d = min(d, time.Minute)
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}
