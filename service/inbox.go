package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// InboxBucket is what the inbox needs of storage: *storage.Store (S3) or
// *storage.Dir (a folder in the data directory).
type InboxBucket interface {
	// ListPage returns at most limit complete objects under prefix whose
	// keys sort after after, in key order, and where to go on.
	ListPage(ctx context.Context, prefix, after string, limit int) (storage.Page, error)
	// Lookup returns the object at key, and false when there is none.
	Lookup(ctx context.Context, key string) (storage.Object, bool, error)
	// Download writes the object at key to the file dst (created or
	// truncated; removed on error) and returns its metadata.
	Download(ctx context.Context, key, dst string) (storage.Object, error)
}

// InboxJobs is the queue as the inbox sees it; *queue.Queue is the
// implementation.
type InboxJobs interface {
	// Enqueue fails with queue.ErrExists when the id is taken: the job
	// id of a dropped file is made from the object, so that is what
	// makes each file a job only once, whoever sees it.
	Enqueue(ctx context.Context, j queue.Job) (queue.Job, error)
	Get(ctx context.Context, id string) (queue.Job, error)
	Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error)
	// Requeue queues an unfinished job again if the stream holds no
	// message for it.
	Requeue(ctx context.Context, id string) (bool, error)
}

var (
	_ InboxJobs   = (*queue.Queue)(nil)
	_ InboxBucket = (*storage.Store)(nil)
	_ InboxBucket = (*storage.Dir)(nil)
)

// Subscriber delivers bucket event notifications (NATS core messages);
// *nats.Conn's Subscribe fits through SubscribeFunc.
type Subscriber func(subject string, handle func(data []byte)) (unsubscribe func() error, err error)

// Defaults of InboxConfig.
const (
	DefaultPoll   = 10 * time.Second
	DefaultSettle = 3 * time.Second
	// DefaultMaxScan bounds what one listing holds: 10 000 objects are a
	// few MB of keys and ten ListObjectsV2 pages (about a second), ten
	// times the jobs serve lets wait (MaxQueued) and far more than a poll
	// can use, while anyone who can write to the inbox can fill it with
	// millions of tiny objects.
	DefaultMaxScan = 10_000
)

// InboxConfig configures an Inbox.
type InboxConfig struct {
	Bucket InboxBucket
	Jobs   InboxJobs
	Layout Layout
	// BucketName, when set, is the bucket whose events are taken; events
	// naming another bucket are ignored.
	BucketName string
	// Poll is the time between two listings of the inbox; default 10 s.
	// Negative: no polling, events only.
	Poll time.Duration
	// Settle is how old an object must be before it is taken: a sidecar
	// that arrives after its file within Settle is still honoured, and a
	// local file still being written is left alone. Default 3 s.
	Settle time.Duration
	// MaxScan is how many objects one listing looks at (sidecars and
	// files not settled count); default DefaultMaxScan. A listing that
	// stops there goes on after its last key at the next scan, and starts
	// over from the first key once it reaches the end, so every file is
	// looked at within a round of scans, however many there are.
	MaxScan int
	// Events, when set, subscribes to EventSubject for the bucket event
	// notifications MinIO or versitygw publish, for instant pickup.
	Events       Subscriber
	EventSubject string
	// DurableEvents, when set, delivers the bucket events through a
	// durable consumer shared by every process (queue.ConsumeEvents): an
	// event is done only once its file is queued (or has its job), and
	// comes back while the queue cannot take it. Use it instead of Events.
	DurableEvents EventSource
	TempDir       string // where sidecars are fetched; required
	// MaxScheduleAhead is how far ahead a publishAt (sidecar) or
	// x-amz-meta-publish-at may be; a later one fails the job
	// (bad_metadata). Default 30 days.
	MaxScheduleAhead time.Duration
	// Finish, when set, is given a failed job whose source is still in
	// the inbox (the queue gave up on it): Worker.Finish moves it to
	// failed/ with its error file.
	Finish  func(ctx context.Context, j queue.Job) error
	Metrics *Metrics
	Logger  *slog.Logger

	// Accounts are the Green API accounts: a file under inbox/<name>/ is
	// posted for the account name (see accountOf).
	Accounts []string
}

// Inbox picks up files dropped under the inbox prefix, each exactly once
// (its job id is made from the object, and the queue takes an id once, so
// any number of inboxes on any number of machines can watch the same
// bucket), and enqueues a job with the options of its sidecar NAME.json or
// its x-amz-meta-* headers.
type Inbox struct {
	cfg InboxConfig
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]*time.Timer // scheduled checks, by their candidate keys
	seen    map[string]observation // what each key looked like when first seen so
	closed  bool                   // Run is ending: schedule nothing more
	checks  sync.WaitGroup         // scheduled checks, waited for by Run
	slots   chan struct{}          // checks running at once
	after   string                 // where the next Scan starts: the key the last one stopped at, "" from the first
}

// NewInbox checks cfg and returns an Inbox.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Bucket == nil || cfg.Jobs == nil {
		return nil, errors.New("service: inbox needs Bucket and Jobs")
	}
	if cfg.TempDir == "" {
		return nil, errors.New("service: inbox needs a TempDir")
	}
	if cfg.Events != nil && cfg.EventSubject == "" {
		return nil, errors.New("service: inbox events need a subject")
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.MaxScan <= 0 {
		cfg.MaxScan = DefaultMaxScan
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Layout = cfg.Layout.withDefaults()
	if err := os.MkdirAll(cfg.TempDir, 0o750); err != nil {
		return nil, fmt.Errorf("service: temp folder: %w", err)
	}
	return &Inbox{cfg: cfg, log: cfg.Logger.With("inbox", cfg.Layout.Inbox),
		pending: make(map[string]*time.Timer), seen: make(map[string]observation), slots: make(chan struct{}, 8)}, nil
}

// Run polls the inbox (and listens to bucket events when configured)
// until ctx is done.
func (in *Inbox) Run(ctx context.Context) error {
	defer in.stop()
	durable := make(chan error, 1)
	if in.cfg.DurableEvents != nil {
		dctx, cancel := context.WithCancel(ctx)
		defer func() {
			cancel()
			// Waiting for it to end: the loop below reports its failure
			// (and hands back nil); anything else is the cancellation's.
			if err := <-durable; err != nil {
				in.log.Debug("bucket events stopped", "err", err)
			}
		}()
		go func() { durable <- in.cfg.DurableEvents(dctx, in.handleEvent) }()
	}
	if in.cfg.Events != nil {
		unsub, err := in.cfg.Events(in.cfg.EventSubject, func(data []byte) { in.event(ctx, data) })
		if err != nil {
			return fmt.Errorf("service: bucket events on %q: %w", in.cfg.EventSubject, err)
		}
		defer func() {
			if err := unsub(); err != nil {
				in.log.Warn("unsubscribing from bucket events", "err", err)
			}
		}()
		in.log.Info("listening to bucket events", "subject", in.cfg.EventSubject)
	}
	every := in.cfg.Poll
	if every < 0 {
		every = time.Minute // events only: just forget old sightings
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if in.cfg.Poll > 0 {
			if _, err := in.Scan(ctx); err != nil && ctx.Err() == nil {
				in.log.Warn("scanning the inbox", "err", err)
			}
		}
		in.forget(10*in.cfg.Settle + every)
		select {
		case <-ctx.Done():
			return nil
		case err := <-durable:
			durable <- nil // for the deferred wait
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("service: bucket events: %w", err)
		case <-t.C:
		}
	}
}

// stop cancels the checks not started yet and waits for the others.
func (in *Inbox) stop() {
	in.mu.Lock()
	in.closed = true
	for id, t := range in.pending {
		if t.Stop() {
			in.checks.Done() // it will not run
			delete(in.pending, id)
		}
	}
	in.mu.Unlock()
	in.checks.Wait()
}

// take enqueues the object o if it is a settled source without a job yet.
func (in *Inbox) take(ctx context.Context, o storage.Object) (bool, error) {
	if !in.isSource(o.Key) {
		return false, nil
	}
	if !in.settled(o) {
		in.schedule(ctx, []string{o.Key}, in.cfg.Settle)
		return false, nil
	}
	id, ok, err := in.jobID(ctx, o)
	if err != nil || !ok {
		return false, err
	}
	job := queue.Job{ID: id, Origin: queue.OriginInbox, Source: o.Key, Name: path.Base(o.Key), Size: o.Size}
	opts, meta, err := in.request(ctx, o)
	job.Account, job.Invalid = in.accountOf(o.Key, meta.account)
	var bad *batch.SidecarError
	switch {
	case errors.As(err, &bad):
		// The job fails at once with the reason; the source goes to
		// failed/ next to it.
		job.Invalid = err.Error()
	case err != nil:
		return false, err // storage unreachable: next time
	}
	job.Request = opts
	if job.Invalid == "" {
		job.PublishAt, job.Invalid = in.publishAt(meta.publishAt) // schedule.go
	}
	job, err = in.cfg.Jobs.Enqueue(ctx, job)
	switch {
	case errors.Is(err, queue.ErrExists):
		return false, nil // another inbox took it just now
	case err != nil:
		return false, fmt.Errorf("enqueue %s: %w", o.Key, err)
	}
	in.mu.Lock()
	delete(in.seen, o.Key)
	in.mu.Unlock()
	in.log.Info("picked up", "job", job.ID, "key", o.Key, "bytes", o.Size)
	in.cfg.Metrics.JobState(queue.StateQueued)
	return true, nil
}

// schedule checks candidates (the ways an event's key may be read) once
// after d, unless a check of them is due already.
func (in *Inbox) schedule(ctx context.Context, candidates []string, d time.Duration) {
	id := strings.Join(candidates, "\x00")
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pending[id] != nil || in.closed || ctx.Err() != nil {
		return
	}
	in.checks.Add(1)
	in.pending[id] = time.AfterFunc(d+50*time.Millisecond, func() {
		defer in.checks.Done()
		select {
		case in.slots <- struct{}{}:
			defer func() { <-in.slots }()
		case <-ctx.Done():
		}
		// Unmarked only once it has a slot, so that the same keys are
		// not scheduled again while it waits; before it runs, so that it
		// can schedule its own next look.
		in.mu.Lock()
		delete(in.pending, id)
		in.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		in.check(ctx, candidates)
	})
}

// check takes each of candidates that exists (versitygw sends keys as
// they are, MinIO and AWS escaped: "a+b.jpg" may be either file).
func (in *Inbox) check(ctx context.Context, candidates []string) {
	for _, k := range candidates {
		o, found, err := in.cfg.Bucket.Lookup(ctx, k)
		if err != nil {
			in.log.Warn("inbox: lookup", "key", k, "err", err)
			return
		}
		if !found {
			continue
		}
		o.Key = k
		if _, err := in.take(ctx, o); err != nil {
			in.log.Warn("inbox", "key", k, "err", err)
		}
	}
}
