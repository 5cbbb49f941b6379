package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediaprep/mediaprep/queue"
)

// timedJobs notes when each job was queued.
type timedJobs struct {
	*queue.Queue
	mu     sync.Mutex
	queued map[string]time.Time // by source key
}

func (t *timedJobs) Enqueue(ctx context.Context, j queue.Job) (queue.Job, error) {
	j, err := t.Queue.Enqueue(ctx, j)
	if err == nil {
		t.mu.Lock()
		t.queued[j.Source] = time.Now()
		t.mu.Unlock()
	}
	return j, err
}

// BenchmarkInboxEventPickup: the time from a bucket event being published
// (a file dropped, its event sent) to its job being queued, through the
// durable events consumer on the embedded NATS server, events only, one
// event every 50 ms. A file is taken after two sightings Settle apart, so
// Settle dominates: the 10ms case shows the rest.
func BenchmarkInboxEventPickup(b *testing.B) {
	for _, settle := range []time.Duration{time.Second, 10 * time.Millisecond} {
		b.Run("settle="+settle.String(), func(b *testing.B) {
			_, nc := embeddedNATS(b)
			q, err := queue.Open(context.Background(), nc, queue.Config{})
			if err != nil {
				b.Fatal(err)
			}
			jobs := &timedJobs{Queue: q, queued: map[string]time.Time{}}
			dir, root := newTestDir(b)
			const subject = "bench.bucket.events"
			in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: jobs, Poll: -1, Settle: settle, TempDir: b.TempDir(),
				EventSubject: subject,
				DurableEvents: func(ctx context.Context, h func(context.Context, []byte, int) error) error {
					return q.ConsumeEvents(ctx, queue.EventsConfig{Subject: subject, Concurrency: 32}, h)
				}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = in.Run(ctx) }()
			defer func() { cancel(); <-done }()
			js, _ := jetstream.New(nc)
			for {
				if _, err := js.Stream(ctx, "MEDIAPREP_EVENTS"); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}

			var lat []time.Duration
			run := 0
			for b.Loop() {
				run++
				const n = 50
				sent := make(map[string]time.Time, n)
				for i := range n {
					key := fmt.Sprintf("inbox/run%d/photo-%03d.jpg", run, i)
					put(b, root, key, "jpeg bytes "+key, time.Hour)
					sent[key] = time.Now()
					if err := nc.Publish(subject, minioEvent(key)); err != nil {
						b.Fatal(err)
					}
					time.Sleep(50 * time.Millisecond)
				}
				deadline := time.Now().Add(time.Minute)
				for {
					jobs.mu.Lock()
					got := 0
					for k := range sent {
						if _, ok := jobs.queued[k]; ok {
							got++
						}
					}
					jobs.mu.Unlock()
					if got == n {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d files queued after a minute", got, n)
					}
					time.Sleep(10 * time.Millisecond)
				}
				jobs.mu.Lock()
				for k, at := range sent {
					lat = append(lat, jobs.queued[k].Sub(at))
				}
				jobs.mu.Unlock()
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))].Seconds() * 1000 }
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
		})
	}
}
