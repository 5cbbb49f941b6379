package queue

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRetryLaterWraps(t *testing.T) {
	err := RetryLater(io.ErrUnexpectedEOF, time.Second)
	if !errors.Is(err, io.ErrUnexpectedEOF) || err.Error() != io.ErrUnexpectedEOF.Error() {
		t.Errorf("RetryLater(io.ErrUnexpectedEOF) = %v, not seen as it", err)
	}
	var re *retryError
	if !errors.As(err, &re) || re.delay != time.Second {
		t.Errorf("RetryLater: %#v", err)
	}
	if RetryLater(nil, 0).Error() == "" {
		t.Error("RetryLater(nil) has no message")
	}
}

// Two processes working the same consumer run each job once.
func TestWorkTwoQueues(t *testing.T) {
	e := startServer(t)
	q1, _ := openQueue(t, e, Config{})
	q2, _ := openQueue(t, e, Config{})

	var mu sync.Mutex
	runs := map[string]int{}
	h := func(ctx context.Context, d *Delivery) error {
		if d.Attempt != 1 || d.Job.Attempts != 1 || d.Job.State != StateQueued {
			t.Errorf("job %s: attempt %d, job attempts %d, state %s", d.Job.ID, d.Attempt, d.Job.Attempts, d.Job.State)
		}
		mu.Lock()
		runs[d.Job.ID]++
		mu.Unlock()
		return nil
	}
	startWork(t, q1, WorkOptions{Concurrency: 3}, h)
	startWork(t, q2, WorkOptions{Concurrency: 4}, h)

	var ids []string
	for i := range 50 {
		j, err := []*Queue{q1, q2}[i%2].Enqueue(t.Context(), Job{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	waitDepth(t, q1, 0)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if runs[id] != 1 {
			t.Errorf("job %s ran %d times, want 1", id, runs[id])
		}
	}
	if len(runs) != 50 {
		t.Errorf("%d jobs ran, want 50", len(runs))
	}
}

func TestWorkRetryLater(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	attempts := make(chan int, 10)
	startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		attempts <- d.Attempt
		if d.Attempt == 1 {
			return RetryLater(errors.New("busy"), 10*time.Millisecond)
		}
		return nil
	})
	j := enqueue(t, q, Job{})
	wantAttempt(t, attempts, "the first delivery", 1)
	wantAttempt(t, attempts, "the delivery after RetryLater", 2)
	wantDoneAfter(t, q, j.ID, 2)
}

// A handler that fails without recording it leaves the job failed, not
// stuck; one that recorded its failure keeps its own code.
func TestWorkHandlerError(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		if d.Job.Name == "records" {
			if _, err := q.Update(ctx, d.Job.ID, func(j *Job) error {
				j.State, j.ErrorCode, j.Error = StateFailed, "bad_media", "not an image"
				return nil
			}); err != nil {
				return err
			}
		}
		return errors.New("broken")
	})
	silent := enqueue(t, q, Job{Name: "silent"})
	records := enqueue(t, q, Job{Name: "records"})
	if j := waitState(t, q, silent.ID, StateFailed); j.ErrorCode != CodeHandler || j.Error != "broken" {
		t.Errorf("silent failure recorded as %q %q", j.ErrorCode, j.Error)
	}
	if j := waitState(t, q, records.ID, StateFailed); j.ErrorCode != "bad_media" {
		t.Errorf("recorded failure overwritten: %q %q", j.ErrorCode, j.Error)
	}
	waitEmpty(t, q)
}

// waitEmpty waits until the stream holds no message.
func waitEmpty(t *testing.T, q *Queue) {
	t.Helper()
	testutil.WaitFor(t, patience, "the stream to be empty", func() bool {
		info, err := q.stream.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs == 0
	})
}

// A message whose job has no record is dropped without calling the handler.
func TestWorkMissingRecord(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		t.Errorf("handler called for %s", d.Job.ID)
		return nil
	})
	if _, err := q.js.Publish(t.Context(), q.subject("ghost"), []byte("ghost")); err != nil {
		t.Fatal(err)
	}
	waitEmpty(t, q)
}

// A handler running longer than AckWait is not delivered again meanwhile.
func TestWorkInProgress(t *testing.T) {
	e := startServer(t)
	cfg := Config{AckWait: time.Second}
	q, _ := openQueue(t, e, cfg)

	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	startWork(t, q, WorkOptions{Concurrency: 2}, func(ctx context.Context, d *Delivery) error {
		mu.Lock()
		calls++
		mu.Unlock()
		time.Sleep(4 * cfg.AckWait) // a long ffmpeg run
		close(done)
		return nil
	})
	if _, err := q.Enqueue(t.Context(), Job{}); err != nil {
		t.Fatal(err)
	}
	receive(t, done, "the handler to finish")
	waitDepth(t, q, 0)
	info, err := q.cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 || info.Delivered.Consumer != 1 {
		t.Errorf("handler called %d times, %d deliveries; want 1", calls, info.Delivered.Consumer)
	}
}

// fetchAndAbandon takes the next message like a worker that then dies:
// it never answers.
func fetchAndAbandon(t *testing.T, q *Queue) jetstream.Msg {
	t.Helper()
	batch, err := q.cons.Fetch(1, jetstream.FetchMaxWait(patience))
	if err != nil {
		t.Fatal(err)
	}
	msg := <-batch.Messages()
	if msg == nil {
		t.Fatalf("no message fetched: %v", batch.Error())
	}
	return msg
}

// A job taken by a worker that died goes to another worker.
func TestWorkCrashedWorker(t *testing.T) {
	e := startServer(t)
	cfg := Config{AckWait: time.Second}
	crashed, nc := openQueue(t, e, cfg)
	q, _ := openQueue(t, e, cfg)
	j := enqueue(t, q, Job{})
	fetchAndAbandon(t, crashed)
	nc.Close()

	attempts := make(chan int, 1)
	startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		attempts <- d.Attempt
		return nil
	})
	wantAttempt(t, attempts, "the job to come back", 2)
	wantDoneAfter(t, q, j.ID, 2)
}

// A job whose every delivery was abandoned ends failed, and its message
// leaves the stream. The server gives up on the message when a worker
// next pulls; it announces that to a Work that listens, and a Work that
// starts later finds the message in its sweep.
func TestWorkMaxDeliveries(t *testing.T) {
	for _, name := range []string{"advisory", "sweep"} {
		t.Run(name, func(t *testing.T) {
			e := startServer(t)
			cfg := Config{AckWait: time.Second, MaxDeliver: 2}
			crashed, _ := openQueue(t, e, cfg)
			q, _ := openQueue(t, e, cfg)
			j, err := q.Enqueue(t.Context(), Job{})
			if err != nil {
				t.Fatal(err)
			}
			for range cfg.MaxDeliver {
				fetchAndAbandon(t, crashed)
			}
			if name == "sweep" {
				// A pull while nobody listens: the advisory is lost.
				testutil.WaitFor(t, patience, "the consumer to give up", func() bool {
					batch, err := crashed.cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
					if err != nil {
						t.Fatal(err)
					}
					for m := range batch.Messages() {
						t.Fatalf("delivered again: %s", m.Data())
					}
					info, err := q.cons.Info(t.Context())
					return err == nil && info.NumAckPending == 0
				})
			}
			startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
				t.Errorf("handler called for %s", d.Job.ID)
				return nil
			})
			got := waitState(t, q, j.ID, StateFailed)
			if got.ErrorCode != CodeMaxDeliveries || !strings.Contains(got.Error, "2 times") {
				t.Errorf("failed with %q %q", got.ErrorCode, got.Error)
			}
			waitEmpty(t, q)
		})
	}
}

// Shutdown with a short grace: the handler's context ends, the job goes
// back to queued and another worker runs it.
func TestWorkShutdownShortGrace(t *testing.T) {
	e := startServer(t)
	q1, _ := openQueue(t, e, Config{})
	q2, _ := openQueue(t, e, Config{})

	started := make(chan struct{})
	handlerErr := make(chan error, 1)
	stop1 := startWork(t, q1, WorkOptions{Grace: 100 * time.Millisecond}, func(ctx context.Context, d *Delivery) error {
		if _, err := q1.Update(ctx, d.Job.ID, func(j *Job) error { j.State = StatePreparing; return nil }); err != nil {
			return err
		}
		close(started)
		<-ctx.Done()
		handlerErr <- ctx.Err()
		return ctx.Err()
	})
	j := enqueue(t, q1, Job{})
	receive(t, started, "the handler to start")
	stop1()
	if err := receive(t, handlerErr, "the handler to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("handler context ended with %v", err)
	}
	if got, _ := q1.Get(t.Context(), j.ID); got.State != StateQueued {
		t.Errorf("after shutdown the job is %s, want queued", got.State)
	}

	again := make(chan *Delivery, 1)
	startWork(t, q2, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		again <- d
		return nil
	})
	d := receive(t, again, "another worker to take the job")
	if d.Job.ID != j.ID || d.Attempt != 2 || d.Job.State != StateQueued {
		t.Errorf("second delivery: job %s, attempt %d, state %s", d.Job.ID, d.Attempt, d.Job.State)
	}
	waitDepth(t, q2, 0)
}

// Shutdown with a long grace: the running handler finishes and its job is
// acked; Work fetches nothing more.
func TestWorkShutdownLongGrace(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})

	started := make(chan string, 2)
	release := make(chan struct{})
	handlerErr := make(chan error, 2)
	stop := startWork(t, q, WorkOptions{Concurrency: 2, Grace: time.Hour}, func(ctx context.Context, d *Delivery) error {
		started <- d.Job.ID
		<-release
		handlerErr <- ctx.Err()
		return ctx.Err()
	})
	first := enqueue(t, q, Job{})
	if id := receive(t, started, "the handler to start"); id != first.ID {
		t.Fatalf("started %s, want %s", id, first.ID)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Work returned while its handler ran")
	case <-time.After(50 * time.Millisecond):
	}
	// Jobs queued now wait for the next worker.
	later := enqueue(t, q, Job{})
	close(release)
	if err := receive(t, handlerErr, "the handler to end"); err != nil {
		t.Errorf("handler context ended with %v", err)
	}
	receive(t, stopped, "Work to return")
	select {
	case id := <-started:
		t.Errorf("job %s started after shutdown", id)
	default:
	}
	waitDepth(t, q, 1) // only the later job
	if got, _ := q.Get(t.Context(), later.ID); got.State != StateQueued || got.Attempts > 1 {
		t.Errorf("later job: %s after %d attempts", got.State, got.Attempts)
	}
}

func TestWorkHandlerPanicFailsOnlyItsJob(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		if d.Job.Name == "bomb" {
			var m map[string]int
			m["x"]++ //nolint:staticcheck // the runtime panic is the point: a bug in a decoder, say
		}
		_, err := q.Update(ctx, d.Job.ID, func(j *Job) error { j.State = StatePosted; return nil })
		return err
	})
	bomb := enqueue(t, q, Job{Name: "bomb"})
	fine := enqueue(t, q, Job{Name: "fine"})
	if j := waitState(t, q, bomb.ID, StateFailed); j.ErrorCode != CodeHandler || !strings.Contains(j.Error, "assignment to entry in nil map") {
		t.Errorf("panicking job: %q %q", j.ErrorCode, j.Error)
	}
	waitState(t, q, fine.ID, StatePosted)
	waitEmpty(t, q)
}

func TestEnqueueExisting(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	if _, err := q.Enqueue(t.Context(), Job{ID: "same"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(t.Context(), Job{ID: "same"}); !errors.Is(err, ErrExists) {
		t.Errorf("second Enqueue of the same id: %v, want ErrExists", err)
	}
	if d, _ := q.Depth(t.Context()); d != 1 {
		t.Errorf("Depth = %d, want 1", d)
	}
}

// TestRecordLateIsNotDropped: a message whose record cannot be read yet
// (on a cluster, a replica behind a new leader answers "not found" for a
// record just created) is looked at again before it is taken for an
// orphan; a message whose record never comes is dropped after a few
// deliveries.
func TestRecordLateIsNotDropped(t *testing.T) {
	q, _ := openQueue(t, startServer(t), Config{Logger: testLogger(t)})
	ctx := t.Context()
	for _, id := range []string{"late", "orphan"} {
		if _, err := q.js.Publish(ctx, q.subject(id), []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := map[string]bool{}
	startWork(t, q, WorkOptions{Concurrency: 2}, func(ctx context.Context, d *Delivery) error {
		mu.Lock()
		handled[d.Job.ID] = true
		mu.Unlock()
		return nil
	})
	// Both messages were delivered once without a record.
	testutil.WaitFor(t, patience, "the first deliveries", func() bool {
		info, err := q.cons.Info(ctx)
		return err == nil && info.Delivered.Consumer >= 2
	})
	data, err := json.Marshal(Job{ID: "late", State: StateQueued})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.jobs.Create(ctx, "late", data); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, patience, "the late job to be handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled["late"]
	})
	testutil.WaitFor(t, patience, "the orphan's message to be dropped", func() bool {
		_, err := q.stream.GetLastMsgForSubject(ctx, q.subject("orphan"))
		return errors.Is(err, jetstream.ErrMsgNotFound)
	})
	mu.Lock()
	defer mu.Unlock()
	if handled["orphan"] {
		t.Error("a message without a record reached the handler")
	}
}
