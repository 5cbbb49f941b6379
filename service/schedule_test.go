package service

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
	"github.com/mediaprep/mediaprep/queue"
)

// TestWorkerScheduledJob: a job whose publish time is ahead is prepared
// and stored by its first delivery, not linked or sent, and waits; a
// delivery before its time waits again without work; the one at its time
// links it and posts it once.
func TestWorkerScheduledJob(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "s1", "samples/sample.jpg")
	j.PublishAt = time.Now().Add(time.Hour)
	f.jobs.Set("s1", j)

	err := f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))
	if !queue.IsWait(err) {
		t.Fatalf("first delivery: %v, want a wait", err)
	}
	got, _ := f.jobs.Get(t.Context(), "s1")
	if got.State != queue.StateScheduled || got.Key == "" || got.URL != "" || f.send.count() != 0 || !f.exists(got.Key) {
		t.Fatalf("after the first delivery: %+v, %d sends", got, f.send.count())
	}
	if !f.exists("inbox/sample.jpg") {
		t.Error("the source left the inbox before its status was posted")
	}

	// Woken early (a restarted server, MaxWait): waits again.
	if err := f.w.Handle(t.Context(), queue.NewDelivery(got, 2, 10)); !queue.IsWait(err) || f.send.count() != 0 {
		t.Fatalf("early delivery: %v, %d sends", err, f.send.count())
	}

	// Its time has come.
	got = f.jobs.Peek("s1")
	got.PublishAt = time.Now().Add(-time.Second)
	f.jobs.Set("s1", got)
	got = f.handle(t, got, 3)
	if got.State != queue.StatePosted || got.URL == "" || f.send.count() != 1 || got.MovedTo != "processed/sample.jpg" {
		t.Errorf("at its time: %+v, %d sends", got, f.send.count())
	}
}

// TestWorkerScheduledBrokenFileFailsNow: a broken file with a publish time
// fails at its first delivery, not at its time.
func TestWorkerScheduledBrokenFileFailsNow(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "b1", "bad/truncated.jpg")
	j.PublishAt = time.Now().Add(time.Hour)
	f.jobs.Set("b1", j)
	if err := f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10)); err == nil || queue.IsWait(err) {
		t.Fatalf("broken file: %v, want a failure", err)
	}
	if got, _ := f.jobs.Get(t.Context(), "b1"); got.State != queue.StateFailed {
		t.Errorf("job %+v", got)
	}
}

// cancelOnPosting cancels the job the moment it is about to be posted:
// the Update that would mark it posting finds it canceled.
type cancelOnPosting struct{ *memJobs }

func (c cancelOnPosting) Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	j := c.Peek(id)
	if probe := j; fn(&probe) == nil && probe.State == queue.StatePosting && j.State != queue.StatePosting {
		j.State = queue.StateCanceled // DELETE won the race
		c.Set(id, j)
	}
	return c.memJobs.Update(ctx, id, fn)
}

// TestWorkerCanceledNeverSends: a canceled job is never sent, whether it
// was canceled before its delivery or right before the send, and its
// source moves to failed/ with code canceled.
func TestWorkerCanceledNeverSends(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		f := newWorkerFixture(t)
		j := f.drop(t, "c1", "samples/sample.jpg")
		j.State = queue.StateCanceled
		f.jobs.Set("c1", j)
		got := f.handle(t, j, 1)
		if f.send.count() != 0 || got.State != queue.StateCanceled || got.MovedTo != "failed/sample.jpg" || !f.exists("failed/sample.jpg.error.json") {
			t.Errorf("%d sends; job %+v", f.send.count(), got)
		}
	})
	t.Run("racing the send", func(t *testing.T) {
		f := newWorkerFixture(t)
		j := f.drop(t, "c2", "samples/sample.jpg")
		f.w.cfg.Jobs = cancelOnPosting{f.jobs}
		got := f.handle(t, j, 1)
		if f.send.count() != 0 || got.State != queue.StateCanceled || got.MovedTo == "" {
			t.Errorf("%d sends; job %+v", f.send.count(), got)
		}
	})
}

// TestInboxPublishAt: a sidecar's publishAt (RFC 3339 or Unix seconds)
// becomes the job's publish time; a bad or too distant one fails the file
// with the reason.
func TestInboxPublishAt(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in := newTestInbox(t, dir, jobs, testSettle)
	at := time.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	put(t, root, "inbox/a.jpg", "jpeg", 0)
	put(t, root, "inbox/a.jpg.json", `{"caption": "a", "publishAt": "`+at.Format(time.RFC3339)+`"}`, 0)
	put(t, root, "inbox/b.jpg", "jpeg", 0)
	put(t, root, "inbox/b.jpg.json", `{"publishAt": `+strconv.FormatInt(at.Unix(), 10)+`}`, 0)
	put(t, root, "inbox/c.jpg", "jpeg", 0)
	put(t, root, "inbox/c.jpg.json", `{"publishAt": "next week"}`, 0)
	put(t, root, "inbox/d.jpg", "jpeg", 0)
	put(t, root, "inbox/d.jpg.json", `{"publishAt": "`+time.Now().Add(40*24*time.Hour).Format(time.RFC3339)+`"}`, 0)
	scanOnce(t, in)
	byName := scanSettled(t, in, jobs, 4)
	for _, name := range []string{"a.jpg", "b.jpg"} {
		if j := byName[name]; !j.PublishAt.Equal(at) || j.Invalid != "" {
			t.Errorf("%s: publishAt %s invalid %q, want %s", name, j.PublishAt, j.Invalid, at)
		}
	}
	if j := byName["c.jpg"]; !strings.Contains(j.Invalid, "RFC 3339") {
		t.Errorf("c.jpg with a bad publishAt: %+v", j)
	}
	if j := byName["d.jpg"]; !strings.Contains(j.Invalid, "too far ahead") {
		t.Errorf("d.jpg 40 days ahead: %+v", j)
	}
}
