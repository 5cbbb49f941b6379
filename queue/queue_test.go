package queue

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // parts of the error; none for a valid config
	}{
		{"defaults", Config{}, nil},
		{"custom", Config{Stream: "S", Subject: "a.b", Consumer: "c", AckWait: time.Second, MaxDeliver: 1, MaxQueued: 1, Replicas: 3}, nil},
		{"bad names", Config{Stream: "a.b", Consumer: "x y", JobsBucket: "j*"}, []string{"Stream", "Consumer", "JobsBucket"}},
		{"wildcard subject", Config{Subject: "jobs.>"}, []string{"Subject"}},
		{"numbers", Config{AckWait: time.Millisecond, MaxDeliver: -1, MaxQueued: -5, Replicas: 7}, []string{"AckWait", "MaxDeliver", "MaxQueued", "Replicas"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.WantErrorMentions(t, tt.cfg.Validate(), tt.want...)
		})
	}
}

func TestEnqueueGetUpdate(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	ctx := t.Context()

	in := Job{Origin: OriginUpload, Source: "uploads/x.jpg", Name: "x.jpg", Size: 42, Request: Request{Caption: "hi"}}
	j, err := q.Enqueue(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(j.ID) {
		t.Errorf("ID %q: want 16 lowercase hex digits", j.ID)
	}
	if j.State != StateQueued || j.Created.IsZero() || !j.Created.Equal(j.Updated) || j.Created.Location() != time.UTC {
		t.Errorf("enqueued job: state %s, created %v, updated %v", j.State, j.Created, j.Updated)
	}
	got, err := q.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, j) {
		t.Errorf("Get = %+v, want %+v", got, j)
	}

	up, err := q.Update(ctx, j.ID, func(j *Job) error { j.State = StatePreparing; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if up.State != StatePreparing || up.Updated.Before(j.Updated) || !up.Created.Equal(j.Created) {
		t.Errorf("Update = %+v", up)
	}
	if got, _ := q.Get(ctx, j.ID); got.State != StatePreparing {
		t.Errorf("after Update, Get says %s", got.State)
	}

	// An fn that fails writes nothing.
	errNo := errors.New("no")
	if _, err := q.Update(ctx, j.ID, func(j *Job) error { j.State = StateFailed; return errNo }); !errors.Is(err, errNo) {
		t.Errorf("Update with failing fn: %v, want %v", err, errNo)
	}
	if got, _ := q.Get(ctx, j.ID); got.State != StatePreparing {
		t.Errorf("after a failed Update, Get says %s", got.State)
	}

	// An ID given is kept; used twice, it is refused.
	if j2, err := q.Enqueue(ctx, Job{ID: "mine_1"}); err != nil || j2.ID != "mine_1" {
		t.Errorf("Enqueue with ID: %+v, %v", j2, err)
	}
	if _, err := q.Enqueue(ctx, Job{ID: "mine_1"}); err == nil {
		t.Error("Enqueue of an existing ID: no error")
	}
	if _, err := q.Enqueue(ctx, Job{ID: "not/valid"}); err == nil {
		t.Error("Enqueue of an invalid ID: no error")
	}
	if d, err := q.Depth(ctx); err != nil || d != 2 {
		t.Errorf("Depth = %d, %v; want 2", d, err)
	}
	if err := q.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	for _, id := range []string{"nope", "no such/job", ""} {
		if _, err := q.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := q.Update(ctx, id, func(*Job) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestUpdateConcurrent(t *testing.T) {
	e := startServer(t)
	q1, _ := openQueue(t, e, Config{})
	q2, _ := openQueue(t, e, Config{})
	j := enqueue(t, q1, Job{})
	// Every increment lands although the writers conflict.
	var wg sync.WaitGroup
	for i := range 20 {
		q := []*Queue{q1, q2}[i%2]
		wg.Go(func() {
			if _, err := q.Update(t.Context(), j.ID, func(j *Job) error { j.Attempts++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, _ := q1.Get(t.Context(), j.ID); got.Attempts != 20 {
		t.Errorf("Attempts = %d after 20 concurrent increments", got.Attempts)
	}
}

func TestEnqueueFull(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{MaxQueued: 2})
	ctx := t.Context()
	for range 2 {
		if _, err := q.Enqueue(ctx, Job{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := q.Enqueue(ctx, Job{ID: "third"})
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Enqueue on a full queue: %v, want ErrQueueFull", err)
	}
	if _, err := q.Get(ctx, "third"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused job's record: %v, want ErrNotFound", err)
	}
	if d, _ := q.Depth(ctx); d != 2 {
		t.Errorf("Depth = %d, want 2", d)
	}
}

func TestOpenConcurrent(t *testing.T) {
	e := startServer(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			nc, err := e.Connect()
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			if _, err := Open(t.Context(), nc, Config{}); err != nil {
				t.Errorf("Open: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestLimiter(t *testing.T) {
	e := startServer(t)
	q1, _ := openQueue(t, e, Config{})
	q2, _ := openQueue(t, e, Config{})
	const n, window = 5, time.Second
	limiters := []*Limiter{q1.Limiter("send", n, window), q2.Limiter("send", n, window)}

	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			at, err := limiters[i%2].wait(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			if now := time.Now(); now.Before(at) {
				t.Errorf("Wait returned at %v, before its grant at %v", now, at)
			}
			mu.Lock()
			grants = append(grants, at)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(grants) != 30 {
		t.Fatalf("%d grants, want 30", len(grants))
	}
	// No window [g, g+window) holds more than n grants.
	for _, g := range grants {
		in := 0
		for _, h := range grants {
			if !h.Before(g) && h.Before(g.Add(window)) {
				in++
			}
		}
		if in > n {
			t.Fatalf("%d grants within %s of %v, want at most %d", in, window, g, n)
		}
	}

	// Another name has limits of its own; no limit never waits.
	other := q1.Limiter("other", 1, time.Hour)
	if err := other.Wait(t.Context()); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := other.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait for a grant an hour away: %v, want the context's error", err)
	}
	if err := q1.Limiter("none", 0, 0).Wait(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestRequeueOnlyAJobWithoutAMessage(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	ctx := t.Context()
	waiting, err := q.Enqueue(ctx, Job{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Requeue(ctx, waiting.ID); ok || err != nil {
		t.Errorf("Requeue of a waiting job: %v, %v", ok, err)
	}
	// A record whose process died before queueing it.
	orphan := Job{ID: "orphan", State: StateQueued}
	data, _ := json.Marshal(orphan)
	if _, err := q.jobs.Create(ctx, orphan.ID, data); err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Requeue(ctx, orphan.ID); !ok || err != nil {
		t.Fatalf("Requeue of an orphan: %v, %v", ok, err)
	}
	if ok, _ := q.Requeue(ctx, orphan.ID); ok {
		t.Error("requeued twice")
	}
	if d, _ := q.Depth(ctx); d != 2 {
		t.Errorf("Depth = %d, want 2", d)
	}
}

// TestEnqueueAgainAfterALostPublish: Enqueue's publish was stored but its
// answer lost (say, in a leader election), so Enqueue took the record
// back and a worker, finding no record, dropped the message. Enqueued
// again under the same id, the job must get a message of its own, not be
// taken for a duplicate of the dropped one.
func TestEnqueueAgainAfterALostPublish(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	ctx := t.Context()
	const id = "lost"
	// The first attempt: record stored, message stored, record taken back.
	rev, err := q.jobs.Create(ctx, id, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := q.js.Publish(ctx, q.subject(id), []byte(id), jetstream.WithMsgID(msgID(id, rev)))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.jobs.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	// A worker drops the message of a job without a record.
	if err := q.stream.DeleteMsg(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, Job{ID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.stream.GetLastMsgForSubject(ctx, q.subject(id)); err != nil {
		t.Fatalf("job enqueued again has no message: %v", err)
	}
	// The same once the record is back but its message lost again.
	m, _ := q.stream.GetLastMsgForSubject(ctx, q.subject(id))
	if err := q.stream.DeleteMsg(ctx, m.Sequence); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Update(ctx, id, func(j *Job) error { j.Attempts = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Requeue(ctx, id); !ok || err != nil {
		t.Fatalf("Requeue of a job whose message was dropped: %v, %v", ok, err)
	}
	if d, _ := q.Depth(ctx); d != 1 {
		t.Errorf("Depth = %d, want 1", d)
	}
}
