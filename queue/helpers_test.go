package queue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// patience bounds every wait for something to happen; tests never assert
// on how long anything took.
const patience = 30 * time.Second

// startServer starts an embedded server in a temporary folder.
func startServer(t *testing.T) *Embedded {
	t.Helper()
	e, err := StartEmbedded(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// serverJetStream starts a server and returns a connection to it, closed
// when the test ends, and its JetStream: for making streams by hand.
func serverJetStream(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := startServer(t).Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// openQueue opens a Queue on a connection of its own, like another process.
func openQueue(t *testing.T, e *Embedded, cfg Config) (*Queue, *nats.Conn) {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	q, err := Open(t.Context(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q, nc
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startWork runs q.Work until the returned stop is called (or the test
// ends); stop waits for Work to return and checks its error.
func startWork(t *testing.T, q *Queue, opt WorkOptions, h Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Work(ctx, opt, h) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Work: %v", err)
			}
		case <-time.After(patience):
			t.Errorf("Work did not return within %s of its context ending", patience)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitState waits until the job is in state and returns it.
func waitState(t *testing.T, q *Queue, id string, state State) Job {
	t.Helper()
	var j Job
	testutil.WaitFor(t, patience, "job "+id+" to be "+string(state), func() bool {
		var err error
		j, err = q.Get(t.Context(), id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		return j.State == state
	})
	return j
}

// waitDepth waits until the queue holds n jobs.
func waitDepth(t *testing.T, q *Queue, n int) {
	t.Helper()
	testutil.WaitFor(t, patience, "the queue to hold jobs", func() bool {
		d, err := q.Depth(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return d == n
	})
}

// enqueue enqueues j on q and returns it as queued; an error fails t.
func enqueue(t *testing.T, q *Queue, j Job) Job {
	t.Helper()
	j, err := q.Enqueue(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// wantAttempt waits for what, a delivery's attempt number from attempts,
// and fails t unless it is want.
func wantAttempt(t *testing.T, attempts <-chan int, what string, want int) {
	t.Helper()
	if a := receive(t, attempts, what); a != want {
		t.Errorf("%s: attempt %d, want %d", what, a, want)
	}
}

// wantDoneAfter waits until q holds no message and fails t unless job id
// took n attempts.
func wantDoneAfter(t *testing.T, q *Queue, id string, n int) {
	t.Helper()
	waitDepth(t, q, 0)
	if got, _ := q.Get(t.Context(), id); got.Attempts != n {
		t.Errorf("job attempts %d, want %d", got.Attempts, n)
	}
}

// receive waits for a value from ch, patiently.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testutil.Receive(t, ch, patience, what)
}
