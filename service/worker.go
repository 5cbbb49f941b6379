package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// Sender posts statuses: *greenapi.Client, or a DryRunSender.
type Sender interface {
	pipeline.Sender
	SendTextStatus(ctx context.Context, s greenapi.TextStatus) (greenapi.Sent, error)
}

var _ Sender = (*greenapi.Client)(nil)

// JobStore is what the worker needs of the queue; *queue.Queue is the
// implementation.
type JobStore interface {
	Get(ctx context.Context, id string) (queue.Job, error)
	Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error)
}

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
	def(&l.Inbox, "inbox/")
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
	Jobs    JobStore
	Bucket  Bucket
	Prep    pipeline.Preparer // *transcode.Transcoder
	Check   pipeline.LinkChecker
	Send    Sender
	DryRun  bool   // Send does not post; jobs end posted with dryRun set
	TempDir string // per-job working folders; required
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
}

// Worker runs queued jobs: fetch the source, prepare, store, link, post
// (pipeline.Publisher), then move the source to processed/ or failed/.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
}

// NewWorker checks cfg and returns a Worker; Handle is its queue.Handler.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	var errs []error
	if cfg.Jobs == nil || cfg.Bucket == nil || cfg.Prep == nil || cfg.Check == nil || cfg.Send == nil {
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
		return w.fail(ctx, job, log, &jobError{code: "bad_metadata", msg: job.Invalid})
	case job.OutcomeUnknown:
		return w.fail(ctx, job, log, &greenapi.Error{Method: job.Method, Code: greenapi.CodeOutcomeUnknown,
			Message: "an earlier delivery sent this status and got no answer; it may have been posted (check getOutgoingStatuses); upload it again to post it anyway"})
	}

	if err := (transcode.Options{Crop: transcode.CropMode(job.Options.Crop), VideoFit: transcode.Fit(job.Options.VideoFit)}).Validate(); err != nil {
		code := "invalid_request"
		if job.Origin == queue.OriginInbox {
			code = "bad_metadata"
		}
		return w.fail(ctx, job, log, &jobError{code: code, msg: err.Error()})
	}

	runCtx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	send := &guardedSender{Sender: w.cfg.Send, jobs: w.cfg.Jobs, id: job.ID, token: newJobID(), metrics: w.cfg.Metrics, life: ctx}
	var err error
	storeOnly := waiting(job, time.Now()) // scheduled: prepare and store now, post at PublishAt
	switch {
	case job.Options.Text != "" && storeOnly:
	case job.Options.Text != "":
		job, err = w.sendText(runCtx, job, send, log)
	default:
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
					return errFinal
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

// publish fetches the source and runs it through a Publisher of its own,
// whose ledger is the job record: a status is posted at most once per job.
func (w *Worker) publish(ctx context.Context, job queue.Job, send *guardedSender, log *slog.Logger, storeOnly bool) (queue.Job, error) {
	dir, err := os.MkdirTemp(w.cfg.TempDir, "job-"+job.ID+"-")
	if err != nil {
		return job, fmt.Errorf("%w: temp folder: %w", storage.ErrFailed, err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, sourceName(job))
	if w.local(job, src) {
		log.Debug("source taken from this process's upload", "source", job.Source)
	} else if _, err := w.cfg.Bucket.Download(ctx, job.Source, src); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return job, &jobError{code: "source_missing", msg: fmt.Sprintf("the source %s is gone from the bucket", job.Source)}
		}
		return job, err
	}
	pl, err := pipeline.New(pipeline.Config{OutDir: filepath.Join(dir, "out")}, w.cfg.Prep)
	if err != nil {
		return job, err
	}
	ledger := &jobLedger{w: w, ctx: send.life, id: job.ID, log: log}
	pub := pipeline.NewPublisher(pl, w.cfg.Bucket, w.cfg.Check, send,
		pipeline.PublisherConfig{Ledger: ledger, DryRun: w.cfg.DryRun, Logger: log, Linker: w.cfg.Linker})

	stage := newStageClock(w.cfg.Metrics)
	pj := pipeline.Job{
		Source:    src,
		Stem:      pipeline.Stems([]string{src})[0],
		StoreOnly: storeOnly,
		Prepare: transcode.Options{
			Crop:     transcode.CropMode(job.Options.Crop),
			VideoFit: transcode.Fit(job.Options.VideoFit),
		},
		Status: pipeline.Status{
			Caption: job.Options.Caption, Participants: job.Options.Participants,
			BackgroundColor: job.Options.BackgroundColor,
		},
		Progress: func(s pipeline.Stage) {
			state := stateOf(s)
			stage.enter(string(s))
			if state == "" {
				return
			}
			w.update(ctx, job.ID, log, func(j *queue.Job) error {
				if j.State.Final() || othersPosting(j, send.token) {
					return errFinal
				}
				j.State = state
				return nil
			})
			w.cfg.Metrics.JobState(state)
		},
	}
	out, err := pub.Publish(ctx, pj)
	err = renamed(err, src, job.Source)
	prepDur := stage.done()
	if out.Kind == transcode.KindVideo || out.Kind == transcode.KindAudio {
		if out.Stored {
			w.cfg.Metrics.FFmpeg(prepDur)
		}
	}
	if err != nil {
		if out.IDMessage != "" {
			// Posted, but the job record could not be written: keep
			// what we know so the retry only records it.
			job.IDMessage = out.IDMessage
			if _, uerr := w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error {
				setPosted(j, out)
				return nil
			}); uerr == nil {
				return w.reload(ctx, job)
			}
			return job, fmt.Errorf("%w: posted as %s, recording it failed: %w", errQueue, out.IDMessage, err)
		}
		return job, err
	}
	if out.Skipped {
		log.Info("already posted", "idMessage", out.IDMessage)
	}
	job, err = w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error {
		setPosted(j, out)
		return nil
	})
	if err != nil {
		return job, fmt.Errorf("%w: %w", errQueue, err)
	}
	return job, nil
}

// local moves the upload this process kept for job to src, if it has it.
func (w *Worker) local(job queue.Job, src string) bool {
	if w.cfg.LocalSources == "" || job.Origin != queue.OriginUpload {
		return false
	}
	kept := filepath.Join(w.cfg.LocalSources, job.ID)
	st, err := os.Stat(kept)
	if err != nil || st.Size() != job.Size {
		return false
	}
	return os.Rename(kept, src) == nil
}

func (w *Worker) reload(ctx context.Context, job queue.Job) (queue.Job, error) {
	j, err := w.cfg.Jobs.Get(ctx, job.ID)
	if err != nil {
		return job, fmt.Errorf("%w: %w", errQueue, err)
	}
	return j, nil
}

// setPosted copies what Green API answered (or, in a dry run, would have
// been sent) into the job.
func setPosted(j *queue.Job, out pipeline.Posted) {
	j.Key, j.URL, j.LinkExpires = out.Key, out.URL, out.LinkExpires
	j.Method, j.IDMessage, j.DryRun = string(out.Method), out.IDMessage, out.DryRun
	j.OutcomeUnknown = out.OutcomeUnknown
	if !out.PostedAt.IsZero() {
		j.PostedAt = out.PostedAt
	}
}

// sourceName is the file name the source is fetched as: its own name, so
// that the object key's slug and the fileName Green API shows keep it.
func sourceName(job queue.Job) string {
	name := job.Name
	if name == "" {
		name = path.Base(job.Source)
	}
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" || name == ".." || strings.HasPrefix(name, ".") {
		name = "source" + name
	}
	return name
}

// stateOf maps a pipeline stage to the job state it shows; the link check
// is part of storing, and posting is set by guardedSender as it sends.
func stateOf(s pipeline.Stage) queue.State {
	switch s {
	case pipeline.StagePreparing:
		return queue.StatePreparing
	case pipeline.StageStoring:
		return queue.StateStoring
	}
	return ""
}

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
	Sender
	jobs    JobStore
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
			return errFinal
		}
		j.State, j.PostingBy = queue.StateQueued, ""
		return nil
	})
	if err != nil && !errors.Is(err, errFinal) {
		log.Warn("taking the job out of posting", "err", err)
	}
}

func (g *guardedSender) SendMediaStatus(ctx context.Context, s greenapi.MediaStatus) (greenapi.Sent, error) {
	if err := g.take(ctx); err != nil {
		return greenapi.Sent{}, err
	}
	sent, err := g.Sender.SendMediaStatus(ctx, s)
	g.done(err)
	return sent, err
}

func (g *guardedSender) SendVoiceStatus(ctx context.Context, s greenapi.VoiceStatus) (greenapi.Sent, error) {
	if err := g.take(ctx); err != nil {
		return greenapi.Sent{}, err
	}
	sent, err := g.Sender.SendVoiceStatus(ctx, s)
	g.done(err)
	return sent, err
}

func (g *guardedSender) SendTextStatus(ctx context.Context, s greenapi.TextStatus) (greenapi.Sent, error) {
	if err := g.take(ctx); err != nil {
		return greenapi.Sent{}, err
	}
	sent, err := g.Sender.SendTextStatus(ctx, s)
	g.done(err)
	return sent, err
}

// sendText posts a text status, recording idMessage (durably, as the
// ledger does) before it returns.
func (w *Worker) sendText(ctx context.Context, job queue.Job, send *guardedSender, log *slog.Logger) (queue.Job, error) {
	st := greenapi.TextStatus{
		Message: job.Options.Text, BackgroundColor: job.Options.BackgroundColor,
		Font: job.Options.Font, Participants: job.Options.Participants,
	}
	sent, err := send.SendTextStatus(ctx, st)
	if err != nil && !errors.Is(err, greenapi.ErrOutcomeUnknown) {
		return job, err
	}
	rec := pipeline.Posted{
		Prepared:  pipeline.Prepared{Method: greenapi.MethodSendTextStatus},
		IDMessage: sent.IDMessage, DryRun: w.cfg.DryRun, OutcomeUnknown: err != nil,
		PostedAt: time.Now().UTC().Truncate(time.Second),
	}
	if rerr := (&jobLedger{w: w, ctx: send.life, id: job.ID, log: log}).Record("", rec); rerr != nil {
		return job, fmt.Errorf("posted as %s, recording it failed: %w", sent.IDMessage, rerr)
	}
	if err != nil {
		return job, err
	}
	if !w.cfg.DryRun {
		log.Info("posted", "method", greenapi.MethodSendTextStatus, "idMessage", sent.IDMessage)
	}
	return w.reload(ctx, job)
}

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
		code, reason = "source_not_moved", "posted, but the source could not be moved to "+w.cfg.Layout.Processed+": "+err.Error()
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
		w.followSent(j, log)
	}
	w.cfg.Metrics.JobState(queue.StatePosted)
	log.Info("done", "state", j.State, "idMessage", j.IDMessage, "url", redactLink(j.URL), "dryRun", j.DryRun, "movedTo", moved)
	return nil
}

// settle finishes a posted job whose source is still in place.
func (w *Worker) settle(ctx context.Context, job queue.Job, log *slog.Logger, last bool) error {
	if job.Source == "" || job.MovedTo != "" || job.ErrorCode == "source_not_moved" {
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
			return errFinal // posted by another delivery meanwhile
		}
		j.State, j.ErrorCode, j.Error, j.MovedTo = queue.StateFailed, code, msg, moved
		if lost = nil; code == greenapi.CodeOutcomeUnknown && w.markPending(j) {
			lost = new(*j)
		}
		return nil
	})
	if lost != nil {
		w.followLost(*lost, log)
	}
	w.cfg.Metrics.JobState(queue.StateFailed)
	log.Error("failed", "code", code, "err", msg, "movedTo", moved)
	return cause
}

// renamed makes err name the source by its key instead of the temp file it
// was fetched to (which the pipeline names, sometimes twice).
func renamed(err error, tmp, key string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for strings.Contains(msg, tmp+": "+tmp) {
		msg = strings.ReplaceAll(msg, tmp+": "+tmp, tmp)
	}
	return &renamedError{err: err, msg: strings.ReplaceAll(msg, tmp, key)}
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
		return "queue_unavailable"
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

var errFinal = errors.New("job already final")

// codeLateRecord marks a job given up as outcome_unknown whose send's
// answer was recorded after all (applySend).
const codeLateRecord = "late_record"

// update writes a change to the job record, logging a failure: state
// updates along the way are informative; the ones that matter (posted,
// idMessage) are checked by their callers.
func (w *Worker) update(ctx context.Context, id string, log *slog.Logger, fn func(*queue.Job) error) {
	if _, err := w.cfg.Jobs.Update(ctx, id, fn); err != nil && !errors.Is(err, errFinal) {
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

// jobLedger is a pipeline.Ledger over one job's record: the Publisher
// finds the job's own post there and records idMessage in it, durably,
// before Publish returns and so before the delivery is acked.
type jobLedger struct {
	w   *Worker
	ctx context.Context // recording is tried until it ends
	id  string
	log *slog.Logger
}

func (l *jobLedger) Lookup(postID string) (pipeline.Posted, bool) {
	j, err := l.w.cfg.Jobs.Get(context.Background(), l.id)
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

// Record writes the send down in the journal, then in the job, tried
// without a cap until the delivery's context ends (Worker.record).
func (l *jobLedger) Record(_ string, p pipeline.Posted) error {
	_, err := l.w.record(l.ctx, l.id, p, l.log)
	return err
}

// stageClock times the stages of one job for the metrics.
type stageClock struct {
	m       *Metrics
	name    string
	start   time.Time
	prepDur time.Duration
}

func newStageClock(m *Metrics) *stageClock { return &stageClock{m: m} }

func (c *stageClock) enter(name string) {
	now := time.Now()
	if c.name != "" {
		d := now.Sub(c.start)
		c.m.Stage(c.name, d)
		if c.name == string(pipeline.StagePreparing) {
			c.prepDur = d
		}
	}
	c.name, c.start = name, now
}

// done closes the last stage and returns the time spent preparing.
func (c *stageClock) done() time.Duration {
	c.enter("")
	return c.prepDur
}
