package service

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// TestResumeDeliveriesAfterARestart: the statuses a stopped serve left
// with delivery pending are followed by the next one, their windows
// counted from the send; two serves resuming the same jobs agree.
func TestResumeDeliveriesAfterARestart(t *testing.T) {
	ga := greenapitest.NewServer(t, "1101000001", "tok-resume")
	q := embeddedQueue(t)
	client, err := greenapi.New(greenapi.Config{APIURL: ga.URL(), IDInstance: "1101000001", Token: "tok-resume", MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transcode.New(transcode.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := newTestDir(t)
	logs := &testutil.SyncBuffer{}
	newWorker := func(tracker *delivery.Tracker) *Worker {
		w, err := NewWorker(WorkerConfig{Jobs: q, Bucket: dir, Prep: tr, Check: storage.Checker{}, Send: client,
			Tracker: tracker, TempDir: filepath.Join(t.TempDir(), "work"), Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	const window = 10 * time.Minute
	newTracker := func() *delivery.Tracker {
		return delivery.New(client, delivery.Config{Window: window, First: 5 * time.Millisecond, Max: 20 * time.Millisecond})
	}
	enqueue := func(id string, opts queue.Request) {
		if _, err := q.Enqueue(t.Context(), queue.Job{ID: id, Origin: queue.OriginUpload, Request: opts}); err != nil {
			t.Fatal(err)
		}
	}
	set := func(id string, fn func(*queue.Job)) {
		if _, err := q.Update(t.Context(), id, func(j *queue.Job) error { fn(j); return nil }); err != nil {
			t.Fatal(err)
		}
	}

	// The first serve posts p1 and stops before the status shows.
	ga.HoldStatuses(true)
	stopped := newTracker()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	stopped.Run(ctx) // ended: what it is given stays pending
	enqueue("p1", queue.Request{Text: "before the restart", BackgroundColor: "#228B22"})
	j, _ := q.Get(t.Context(), "p1")
	if err := newWorker(stopped).Handle(t.Context(), queue.NewDelivery(j, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if j, _ = q.Get(t.Context(), "p1"); j.State != queue.StatePosted || j.Delivery != delivery.Pending || j.IDMessage == "" {
		t.Fatalf("p1 before the restart: %+v", j)
	}
	p1ID := j.IDMessage
	ga.HoldStatuses(false) // the statuses sent from here show as sent at once

	// old: posted 20 minutes ago, never seen; its window ended while down.
	enqueue("old", queue.Request{Text: "long ago"})
	set("old", func(j *queue.Job) {
		j.State, j.IDMessage, j.Delivery = queue.StatePosted, "BAE5NEVERSEEN", delivery.Pending
		j.PostingAt = time.Now().Add(-2 * window)
	})
	// u1: its send's answer was lost; of the two statuses with its text,
	// one is twin's (posted before), so exactly one can be u1's.
	lostAt := time.Now().Add(-30 * time.Second)
	var sent []string
	for range 2 {
		s, err := client.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "lost answer", BackgroundColor: "#228B22"})
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s.IDMessage)
	}
	enqueue("twin", queue.Request{Text: "lost answer", BackgroundColor: "#228B22"})
	set("twin", func(j *queue.Job) {
		j.State, j.IDMessage, j.Delivery, j.PostingAt = queue.StatePosted, sent[0], delivery.Sent, lostAt
	})
	lostStatus := sent[1]
	enqueue("u1", queue.Request{Text: "lost answer", BackgroundColor: "#228B22"})
	set("u1", func(j *queue.Job) {
		j.State, j.OutcomeUnknown, j.ErrorCode, j.Error = queue.StateFailed, true, greenapi.CodeOutcomeUnknown, "no answer"
		j.Method, j.Delivery, j.PostingAt = greenapi.MethodSendTextStatus, delivery.Pending, lostAt
	})
	// done: followed to the end before; not taken up again.
	enqueue("done", queue.Request{Text: "done"})
	set("done", func(j *queue.Job) {
		j.State, j.IDMessage, j.Delivery, j.PostingAt = queue.StatePosted, "BAE5DONE", delivery.Read, time.Now().Add(-time.Minute)
	})

	// The restart: two serves come up on the same queue.
	ix, err := q.Index(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for i := range 2 {
		tk := newTracker()
		wg.Go(func() { tk.Run(t.Context()) })
		n, err := NewSweeper(newWorker(tk), ix).Resume(t.Context(), time.Now())
		// The second may see old recorded already by the first.
		if err != nil || n != 3 && (i == 0 || n != 2) {
			t.Fatalf("serve %d resumed %d (%v), want p1, old and u1", i, n, err)
		}
	}
	// p1's status shows only now, after the restart.
	ga.SetStatusMessage(p1ID, "delivered")

	want := map[string]func(queue.Job) bool{
		"p1": func(j queue.Job) bool {
			return j.State == queue.StatePosted && j.IDMessage == p1ID && j.Delivery == delivery.Delivered
		},
		"old": func(j queue.Job) bool {
			return j.State == queue.StatePosted && j.Delivery == delivery.NotConfirmed &&
				strings.Contains(j.DeliveryNote, "window") && strings.Contains(j.DeliveryNote, "service was down")
		},
		"u1": func(j queue.Job) bool {
			return j.State == queue.StatePosted && lostStatus != "" && j.IDMessage == lostStatus && !j.OutcomeUnknown &&
				j.ErrorCode == "" && j.Delivery == delivery.Sent && strings.Contains(j.DeliveryNote, "resolved from getOutgoingStatuses")
		},
		"done": func(j queue.Job) bool { return j.Delivery == delivery.Read },
		"twin": func(j queue.Job) bool { return j.IDMessage == sent[0] && j.Delivery == delivery.Sent },
	}
	// Wait for the records (bounded: a minute), then check each.
	deadline := time.Now().Add(time.Minute)
	for {
		all := true
		for id, ok := range want {
			j, err := q.Get(t.Context(), id)
			all = all && err == nil && ok(j)
		}
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for id, ok := range want {
		j, err := q.Get(t.Context(), id)
		if err != nil || !ok(j) {
			t.Errorf("%s after the restart: %+v (%v)", id, j, err)
		}
	}
	if n := len(ga.Posted()); n != 3 {
		t.Errorf("%d statuses posted, want 3: resuming sends nothing", n)
	}
	if errs := ga.Errors(); len(errs) > 0 {
		t.Errorf("the stand-in refused: %v", errs)
	}
	if strings.Contains(logs.String(), "tok-resume") {
		t.Error("the token is in the log")
	}
}
