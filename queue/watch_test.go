package queue

import (
	"context"
	"testing"
	"time"
)

// next reads one change, failing the test when none comes.
func next(t *testing.T, ch <-chan Change) Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("the watch ended")
		}
		return c
	case <-time.After(patience):
		t.Fatal("no change came")
	}
	return Change{}
}

// TestWatch: a watch of some jobs starts with their records, then reports
// their writes (not others'); a watch resumed after a revision reports
// every write since; ending the context closes the channel.
func TestWatch(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{})
	ctx := t.Context()
	a, err := q.Enqueue(ctx, Job{Name: "a.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Enqueue(ctx, Job{Name: "b.jpg"})
	if err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	ch, err := q.Watch(wctx, WatchOptions{IDs: []string{a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	first := next(t, ch)
	if first.Job.ID != a.ID || first.Job.State != StateQueued || first.Rev == 0 {
		t.Fatalf("first change %+v, want a's current record", first)
	}
	all, err := q.Watch(wctx, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Update(ctx, b.ID, func(j *Job) error { j.State = StatePreparing; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Update(ctx, a.ID, func(j *Job) error { j.State = StatePosted; return nil }); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); c.Job.ID != a.ID || c.Job.State != StatePosted || c.Rev <= first.Rev {
		t.Errorf("change %+v, want a posted after rev %d", c, first.Rev)
	}
	if c := next(t, all); c.Job.ID != b.ID || c.Job.State != StatePreparing {
		t.Errorf("watch of all: %+v, want b preparing (new writes only)", c)
	}
	if c := next(t, all); c.Job.ID != a.ID || c.Job.State != StatePosted {
		t.Errorf("watch of all: %+v, want a posted", c)
	}

	// Resumed after a's first record: the latest record of each job
	// written since (b preparing, a posted), in order.
	resumed, err := q.Watch(wctx, WatchOptions{After: first.Rev})
	if err != nil {
		t.Fatal(err)
	}
	if c := next(t, resumed); c.Job.ID != b.ID || c.Job.State != StatePreparing {
		t.Errorf("resumed: %+v, want b preparing", c)
	}
	if c := next(t, resumed); c.Job.ID != a.ID || c.Job.State != StatePosted {
		t.Errorf("resumed: %+v, want a posted", c)
	}

	if _, err := q.Watch(ctx, WatchOptions{IDs: []string{"no.such"}}); err == nil {
		t.Error("a watch of an invalid id started")
	}
	cancel()
	for _, c := range []<-chan Change{ch, all, resumed} {
		select {
		case _, ok := <-c:
			for ok {
				_, ok = <-c
			}
		case <-time.After(patience):
			t.Fatal("a watch did not end with its context")
		}
	}
}
