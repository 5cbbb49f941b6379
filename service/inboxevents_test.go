package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// outageJobs is the real queue behind a switch: while down, every call
// fails as it would with its NATS node gone. It counts the jobs it
// enqueued, by id.
type outageJobs struct {
	q        *queue.Queue
	down     atomic.Bool
	refused  atomic.Int64 // calls refused while down
	mu       sync.Mutex
	enqueued map[string]int
}

var errOutage = errors.New("nats: no responders available for request")

func (o *outageJobs) check() error {
	if o.down.Load() {
		o.refused.Add(1)
		return errOutage
	}
	return nil
}

func (o *outageJobs) Enqueue(ctx context.Context, j queue.Job) (queue.Job, error) {
	if err := o.check(); err != nil {
		return queue.Job{}, err
	}
	j, err := o.q.Enqueue(ctx, j)
	if err == nil {
		o.mu.Lock()
		o.enqueued[j.ID]++
		o.mu.Unlock()
	}
	return j, err
}

func (o *outageJobs) Get(ctx context.Context, id string) (queue.Job, error) {
	if err := o.check(); err != nil {
		return queue.Job{}, err
	}
	return o.q.Get(ctx, id)
}

func (o *outageJobs) Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	if err := o.check(); err != nil {
		return queue.Job{}, err
	}
	return o.q.Update(ctx, id, fn)
}

func (o *outageJobs) Requeue(ctx context.Context, id string) (bool, error) {
	if err := o.check(); err != nil {
		return false, err
	}
	return o.q.Requeue(ctx, id)
}

// minioEvent is a bucket event as MinIO publishes it (key escaped form
// style).
func minioEvent(key string) []byte {
	return fmt.Appendf(nil, `{"EventName":"s3:ObjectCreated:Put","Key":"media/%[1]s","Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"media"},"object":{"key":%[1]q}}}]}`,
		url.QueryEscape(key))
}

// TestInboxDurableEventsSurviveAnOutage: with events only (no polling),
// events published while the queue cannot take jobs are all picked up
// once it is back, by two inboxes sharing one durable consumer; a
// duplicate event makes no second job.
func TestInboxDurableEventsSurviveAnOutage(t *testing.T) {
	e, nc := embeddedNATS(t)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	q, err := queue.Open(t.Context(), nc, queue.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	jobs := &outageJobs{q: q, enqueued: map[string]int{}}
	jobs.down.Store(true)

	dir, root := newTestDir(t)
	keys := []string{"inbox/a.jpg", "inbox/pair one.jpg", "inbox/pair+one.jpg", "inbox/Фото 1.jpg", "inbox/b%#&.mp4", "inbox/sub/c.mp3"}
	for _, k := range keys {
		put(t, root, k, "content of "+k, time.Hour)
	}
	const subject = "test.bucket.events"
	ecfg := queue.EventsConfig{Subject: subject, AckWait: 5 * time.Second, Concurrency: 2}
	var handled [2]atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	for i := range 2 { // two serve processes, each on its own connection
		pnc, err := e.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pnc.Close)
		pq, err := queue.Open(t.Context(), pnc, queue.Config{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: jobs, Poll: -1, Settle: 20 * time.Millisecond, TempDir: t.TempDir(),
			EventSubject: subject, Logger: log.With("inbox", i),
			DurableEvents: func(ctx context.Context, h func(context.Context, []byte, int) error) error {
				return pq.ConsumeEvents(ctx, ecfg, func(ctx context.Context, data []byte, attempt int) error {
					handled[i].Add(1)
					return h(ctx, data, attempt)
				})
			}})
		if err != nil {
			t.Fatal(err)
		}
		ready.Add(1)
		wg.Go(func() {
			ready.Done()
			if err := in.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	ready.Wait()
	t.Cleanup(func() { cancel(); wg.Wait() })

	// The bucket publishes with a plain core NATS publish: the stream
	// must be there to capture it before the first event.
	js, _ := jetstream.New(nc)
	var stream jetstream.Stream
	waitUntil(t, "the events stream", func() bool {
		stream, err = js.Stream(t.Context(), "MEDIAPREP_EVENTS")
		return err == nil
	})
	for _, k := range keys {
		for range 2 { // every event twice
			if err := nc.Publish(subject, minioEvent(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Every event is tried, and refused, while the queue is down.
	waitUntil(t, "the events to be tried during the outage", func() bool {
		return jobs.refused.Load() >= int64(2*len(keys))
	})
	jobs.down.Store(false)

	for _, k := range keys {
		id := inboxJobID(mustLookup(t, dir, k))
		waitUntil(t, "the job of "+k, func() bool {
			j, err := q.Get(t.Context(), id)
			return err == nil && j.Source == k
		})
	}
	cons, err := stream.Consumer(t.Context(), "inbox")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "every event to be acked", func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 1 || info.State.Msgs != 0 {
		t.Errorf("events stream: %d consumers, %d messages left; want 1 shared consumer, none left", info.State.Consumers, info.State.Msgs)
	}
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	if len(jobs.enqueued) != len(keys) {
		t.Errorf("%d jobs, want %d: %v", len(jobs.enqueued), len(keys), jobs.enqueued)
	}
	for id, n := range jobs.enqueued {
		if n != 1 {
			t.Errorf("job %s enqueued %d times", id, n)
		}
	}
	t.Logf("events handled by inbox 0: %d, inbox 1: %d", handled[0].Load(), handled[1].Load())
	if handled[0].Load()+handled[1].Load() < int64(2*len(keys)) {
		t.Errorf("handled %d events, want at least %d", handled[0].Load()+handled[1].Load(), 2*len(keys))
	}
}

func mustLookup(t *testing.T, b InboxBucket, key string) storage.Object {
	t.Helper()
	o, found, err := b.Lookup(t.Context(), key)
	if err != nil || !found {
		t.Fatalf("lookup %s: %v, found %v", key, err, found)
	}
	o.Key = key
	return o
}

// waitUntil polls cond until it holds, failing the test after a while.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
