package queue

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestParsePublishAt(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"2026-12-01T09:00:00+01:00", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), true},
		{"2026-12-01T08:00:00Z", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), true},
		{" 1796112000 ", time.Unix(1796112000, 0).UTC(), true},
		{"2026-12-01T09:00:00", time.Time{}, false}, // no offset
		{"2026-12-01", time.Time{}, false},
		{"tomorrow 9:00", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"99999999999999", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParsePublishAt(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParsePublishAt(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestPublishAtJSON: publishAt in JSON is a string or a number, kept as
// written; null is empty; anything else is refused with what to write.
func TestPublishAtJSON(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{`"2026-12-01T09:00:00+01:00"`, "2026-12-01T09:00:00+01:00", ""},
		{`"1796112000"`, "1796112000", ""},
		{`1796112000`, "1796112000", ""},
		{`null`, "", ""},
		{`true`, "", "publishAt: want an RFC 3339 string or Unix seconds"},
		{`{}`, "", "publishAt: want an RFC 3339 string or Unix seconds"},
	} {
		var v struct{ PublishAt PublishAt }
		err := json.Unmarshal([]byte(`{"publishAt": `+tt.in+`}`), &v)
		if string(v.PublishAt) != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("publishAt %s = %q, %v; want %q, error %q", tt.in, v.PublishAt, err, tt.want, tt.err)
		}
	}
}

func TestCheckPublishAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at    time.Time
		ahead time.Duration
		ok    bool
	}{
		{time.Time{}, 0, true},
		{now.Add(-time.Hour), 0, true},
		{now.Add(30 * 24 * time.Hour), 0, true},
		{now.Add(30*24*time.Hour + time.Second), 0, false},
		{now.Add(2 * time.Hour), time.Hour, false},
	} {
		err := CheckPublishAt(tt.at, now, tt.ahead)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrTooFarAhead)) {
			t.Errorf("CheckPublishAt(%s, %s) = %v, want ok %v", tt.at, tt.ahead, err, tt.ok)
		}
	}
}

// TestWorkWaitsDoNotCountAgainstMaxDeliver: a job that waits again and
// again (a scheduled job woken early, each MaxWait, each restart) is
// never failed for having been delivered MaxDeliver times: its message is
// renewed instead, and the job is done in the end.
func TestWorkWaitsDoNotCountAgainstMaxDeliver(t *testing.T) {
	e := startServer(t)
	q, _ := openQueue(t, e, Config{MaxDeliver: 2})
	const waits = 5
	var calls atomic.Int32
	done := make(chan struct{})
	startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		if calls.Add(1) <= waits {
			return WaitUntil(time.Now().Add(20 * time.Millisecond))
		}
		close(done)
		return nil
	})
	j := enqueue(t, q, Job{})
	select {
	case <-done:
	case <-time.After(patience):
		got, _ := q.Get(t.Context(), j.ID)
		t.Fatalf("the job was not run after its waits; %d calls, job %+v", calls.Load(), got)
	}
	waitEmpty(t, q)
	if got, _ := q.Get(t.Context(), j.ID); got.State == StateFailed {
		t.Errorf("job failed: %s %s", got.ErrorCode, got.Error)
	}
}

// TestWorkWaitSurvivesARestart: a job waiting in JetStream (NakWithDelay)
// is still there after its server restarted, and runs at its time. (A
// restarted server may deliver a waiting message early: the handler,
// which knows the time, waits again, as the service's worker does.)
func TestWorkWaitSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	q, nc := openQueue(t, e, Config{})
	at := time.Now().Add(3 * time.Second)
	waiting := make(chan struct{}, 1)
	stop := startWork(t, q, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		waiting <- struct{}{}
		return WaitUntil(at)
	})
	j := enqueue(t, q, Job{})
	receive(t, waiting, "the first delivery")
	stop()
	nc.Close()
	e.Shutdown()

	e2, err := StartEmbedded(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e2.Shutdown)
	q2, _ := openQueue(t, e2, Config{})
	ran := make(chan time.Time, 1)
	startWork(t, q2, WorkOptions{}, func(ctx context.Context, d *Delivery) error {
		if now := time.Now(); now.Before(at) {
			return WaitUntil(at)
		}
		ran <- time.Now()
		return nil
	})
	if got := receive(t, ran, "the delivery at the publish time"); got.Before(at) {
		t.Errorf("delivered at %s, before its time %s", got.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
	}
	waitEmpty(t, q2)
	if got, _ := q2.Get(t.Context(), j.ID); got.State.Final() {
		t.Errorf("job %+v", got)
	}
}
