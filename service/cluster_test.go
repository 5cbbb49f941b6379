package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/queue/queuetest"
	"github.com/mediaprep/mediaprep/storage"
)

// TestClusterNodeLossLosesNothing runs two inboxes (events only) and two
// workers, each on a connection of its own, on a 3-node NATS cluster, and
// stops the node leading the jobs stream while files are being dropped and
// posted: every file is posted exactly once and the inbox ends empty.
func TestClusterNodeLossLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster and ffmpeg-free image jobs; skipped with -short")
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cl := queuetest.StartCluster(t, log)

	dir, root := servedDir(t)
	tr := newTranscoder(t)
	send := &countingSender{}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	open := func() *queue.Queue {
		q, err := queue.Open(t.Context(), cl.Connect(), queue.Config{AckWait: 3 * time.Second, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	const subject = "test.bucket.events"
	for i := range 2 { // two serve processes: inboxes
		q := open()
		in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: q, Poll: -1, Settle: 20 * time.Millisecond, TempDir: t.TempDir(),
			EventSubject: subject, Logger: log.With("inbox", i),
			DurableEvents: func(ctx context.Context, h func(context.Context, []byte, int) error) error {
				return q.ConsumeEvents(ctx, queue.EventsConfig{Subject: subject, AckWait: 3 * time.Second}, h)
			}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := in.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	for i := range 2 { // two worker processes
		q := open()
		journal, err := OpenJournal(t.TempDir(), log)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWorker(WorkerConfig{Jobs: q, Bucket: dir, Prep: tr, Check: storage.Checker{}, Send: send,
			TempDir: t.TempDir(), Journal: journal, RecordPause: 100 * time.Millisecond, Logger: log.With("worker", i)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer journal.Close()
			if err := q.Work(ctx, queue.WorkOptions{Concurrency: 2}, w.Handle); err != nil {
				t.Error(err)
			}
		})
	}

	// Registered after the connections: cleanups run last first, so the
	// processes stop before their connections close.
	t.Cleanup(func() { cancel(); wg.Wait() })
	nc := cl.Connect()
	js, _ := jetstream.New(nc)
	waitUntil(t, "the events stream", func() bool {
		_, err := js.Stream(t.Context(), "MEDIAPREP_EVENTS")
		return err == nil
	})
	sample, err := os.ReadFile(filepath.Join("..", "testdata", "samples", "sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	drop := func(i int) {
		key := fmt.Sprintf("inbox/photo %02d.jpg", i)
		put(t, root, key, string(sample), time.Hour)
		// As MinIO's JetStream mode publishes: acked by the stream,
		// retried while its leader is elected. (A core publish made
		// while the stream has no leader is lost: the reconciling
		// listing is there for that.)
		for {
			pctx, pcancel := context.WithTimeout(t.Context(), 2*time.Second)
			_, err := js.Publish(pctx, subject, minioEvent(key))
			pcancel()
			if err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range n / 2 {
		drop(i)
	}
	waitUntil(t, "a first status", func() bool { return send.count() > 0 })
	s, err := js.Stream(t.Context(), "MEDIAPREP_JOBS")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("jobs stream has %d replicas, want 3", r)
	}
	leader := s.CachedInfo().Cluster.Leader
	cl.Stop(leader)
	t.Logf("stopped %s, the jobs stream's leader, after %d statuses", leader, send.count())
	for i := n / 2; i < n; i++ {
		drop(i)
	}

	check := open()
	deadline := time.Now().Add(45 * time.Second)
	for {
		objs, err := dir.List(t.Context(), "processed/")
		if err == nil && len(objs) == n {
			break
		}
		if time.Now().After(deadline) {
			left, _ := dir.List(t.Context(), "inbox/")
			for _, o := range left {
				o, _, _ := dir.Lookup(t.Context(), o.Key)
				j, err := check.Get(t.Context(), inboxJobID(o))
				t.Logf("left in the inbox: %s: job %+v %v", o.Key, j, err)
			}
			t.Fatalf("gave up waiting for every file to be posted and moved: %d of %d", len(objs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := send.count(); c != n {
		t.Errorf("%d statuses sent for %d files", c, n)
	}
	if objs, err := dir.List(t.Context(), "inbox/"); err != nil || len(objs) != 0 {
		t.Errorf("inbox still holds %d objects (%v)", len(objs), err)
	}
}
