package service

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// sweepWindow is the delivery window of the sweep tests: the clock moves
// past it instead of the tests waiting for it.
const sweepWindow = 10 * time.Minute

// sweepRig is one queue and one Green API stand-in shared by the
// processes of a test, each a Worker with its own Tracker and Metrics,
// and a clock the trackers read that the test moves.
type sweepRig struct {
	t      *testing.T
	ga     *greenapitest.Server
	q      *queue.Queue
	ix     *queue.Index
	client *greenapi.Client
	prep   *transcode.Transcoder
	dir    *storage.Dir
	logs   *testutil.SyncBuffer
	ahead  atomic.Int64 // how far the trackers' clock is ahead of time.Now
}

func newSweepRig(t *testing.T) *sweepRig {
	t.Helper()
	ga := greenapitest.NewServer(t, "1101000002", "tok-sweep")
	q := embeddedQueue(t, queue.Config{})
	client, err := greenapi.New(greenapi.Config{APIURL: ga.URL(), IDInstance: "1101000002", Token: "tok-sweep", MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transcode.New(transcode.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ix, err := q.Index(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := newTestDir(t)
	r := &sweepRig{t: t, ga: ga, q: q, ix: ix, client: client, prep: tr, dir: dir, logs: &testutil.SyncBuffer{}}
	t.Cleanup(func() {
		if strings.Contains(r.logs.String(), "tok-sweep") {
			t.Error("the token is in the log")
		}
		if errs := ga.Errors(); len(errs) > 0 {
			t.Errorf("the stand-in refused: %v", errs)
		}
	})
	return r
}

func (r *sweepRig) now() time.Time { return time.Now().Add(time.Duration(r.ahead.Load())) }

// setNow moves the trackers' clock to at.
func (r *sweepRig) setNow(at time.Time) { r.ahead.Store(int64(time.Until(at))) }

// process is one mediaprep process: a worker, its tracker and metrics.
type process struct {
	w       *Worker
	tracker *delivery.Tracker
	metrics *Metrics
	stop    func() // ends the tracker's Run and waits for it
}

// start makes a process whose tracker runs once run is called.
func (r *sweepRig) process(name string) *process {
	tk := delivery.New(r.client, delivery.Config{Window: sweepWindow, First: 5 * time.Millisecond, Max: 20 * time.Millisecond, Now: r.now})
	m := NewMetrics()
	w, err := NewWorker(WorkerConfig{Jobs: r.q, Bucket: r.dir, Prep: r.prep, Check: storage.Checker{}, Send: r.client,
		Tracker: tk, Metrics: m, TempDir: filepath.Join(r.t.TempDir(), "work"),
		Logger: slog.New(slog.NewTextHandler(r.logs, nil)).With("process", name)})
	if err != nil {
		r.t.Fatal(err)
	}
	return &process{w: w, tracker: tk, metrics: m, stop: func() {}}
}

// run runs p's tracker until p.stop (or the test's end).
func (p *process) run(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { p.tracker.Run(ctx) })
	p.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(p.stop)
}

// post has p's worker post a text status as job id; it returns the record.
func (r *sweepRig) post(p *process, id, text string) queue.Job {
	r.t.Helper()
	if _, err := r.q.Enqueue(r.t.Context(), queue.Job{ID: id, Origin: queue.OriginUpload, Request: queue.Request{Text: text, BackgroundColor: "#228B22"}}); err != nil {
		r.t.Fatal(err)
	}
	j, err := r.q.Get(r.t.Context(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := p.w.Handle(r.t.Context(), queue.NewDelivery(j, 1, 10)); err != nil {
		r.t.Fatal(err)
	}
	if j, err = r.q.Get(r.t.Context(), id); err != nil || j.State != queue.StatePosted || j.Delivery != delivery.Pending || j.IDMessage == "" {
		r.t.Fatalf("%s after its post: %+v (%v)", id, j, err)
	}
	r.indexed(id, func(j queue.Job) bool { return j.Delivery == delivery.Pending })
	return j
}

// indexed waits until the index shows job id as ok says.
func (r *sweepRig) indexed(id string, ok func(queue.Job) bool) {
	r.t.Helper()
	testutil.WaitFor(r.t, 30*time.Second, id+" in the index", func() bool {
		p, err := r.ix.List(r.t.Context(), queue.ListOptions{Limit: queue.MaxListLimit})
		if err != nil {
			return false
		}
		for _, j := range p.Jobs {
			if j.ID == id {
				return ok(j)
			}
		}
		return false
	})
}

// waitJob waits until job id's record is as ok says, and returns it.
func (r *sweepRig) waitJob(id, what string, ok func(queue.Job) bool) queue.Job {
	r.t.Helper()
	var j queue.Job
	testutil.WaitFor(r.t, 30*time.Second, id+" "+what, func() bool {
		var err error
		j, err = r.q.Get(r.t.Context(), id)
		return err == nil && ok(j)
	})
	return j
}

// counted is how many deliveries m counted with result.
func counted(t *testing.T, m *Metrics, result string) int {
	t.Helper()
	prefix := fmt.Sprintf("mediaprep_deliveries_total{result=%q} ", result)
	for l := range strings.Lines(scrape(t, m)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("metric line %q: %v", l, err)
			}
			return n
		}
	}
	return 0
}

// orphanedAt is when a sweep may take j up: OrphanMargin after its window
// counted from its last write.
func orphanedAt(j queue.Job) time.Time {
	last := j.Updated
	if at := sentAt(j); at.After(last) {
		last = at
	}
	return last.Add(sweepWindow + OrphanMargin)
}

// TestSweepTakesUpWhatAStoppedWorkerLeft: a worker posts two statuses and
// stops before either shows; a serve that keeps running (no restart) takes
// them up once their sender's window and the margin are over: the one
// getOutgoingStatuses shows ends sent, the other not_confirmed, each note
// saying the process that posted it stopped following it.
func TestSweepTakesUpWhatAStoppedWorkerLeft(t *testing.T) {
	r := newSweepRig(t)
	r.ga.HoldStatuses(true)
	worker := r.process("worker")
	worker.run(t)
	late := r.post(worker, "late", "shows after the worker stopped")
	never := r.post(worker, "never", "never shows")
	worker.stop() // what it followed stays pending
	// lost: the worker's send of it had its answer lost; one status with
	// its text shows, and none of the posted jobs has it.
	lostStatus, err := r.client.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "lost answer", BackgroundColor: "#228B22"})
	if err != nil {
		t.Fatal(err)
	}
	r.ga.SetStatusMessage(lostStatus.IDMessage, "sent")
	if _, err := r.q.Enqueue(t.Context(), queue.Job{ID: "lost", Origin: queue.OriginUpload, Request: queue.Request{Text: "lost answer", BackgroundColor: "#228B22"}}); err != nil {
		t.Fatal(err)
	}
	lost, err := r.q.Update(t.Context(), "lost", func(j *queue.Job) error {
		j.State, j.OutcomeUnknown, j.ErrorCode, j.Error = queue.StateFailed, true, greenapi.CodeOutcomeUnknown, "no answer"
		j.Method, j.Delivery, j.PostingAt = greenapi.MethodSendTextStatus, delivery.Pending, time.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.indexed("lost", func(j queue.Job) bool { return j.Delivery == delivery.Pending })

	serve := r.process("serve")
	serve.run(t)
	sweep := NewSweeper(serve.w, r.ix)
	for _, at := range []time.Time{time.Now(), orphanedAt(never).Add(-time.Second)} {
		r.setNow(at)
		if n, err := sweep.Sweep(t.Context(), at); err != nil || n != 0 {
			t.Fatalf("sweep at %s took %d (%v), want none before the window and margin are over", at, n, err)
		}
	}
	r.ga.SetStatusMessage(late.IDMessage, "sent")
	at := orphanedAt(lost)
	r.setNow(at)
	if n, err := sweep.Sweep(t.Context(), at); err != nil || n != 3 {
		t.Fatalf("sweep took %d (%v), want late, never and lost", n, err)
	}

	r.waitJob("late", "sent", func(j queue.Job) bool {
		return j.State == queue.StatePosted && j.IDMessage == late.IDMessage && j.Delivery == delivery.Sent &&
			strings.Contains(j.DeliveryNote, "shows it sent") && strings.Contains(j.DeliveryNote, whyOrphan)
	})
	r.waitJob("never", "not_confirmed", func(j queue.Job) bool {
		return j.State == queue.StatePosted && j.IDMessage == never.IDMessage && j.Delivery == delivery.NotConfirmed &&
			strings.Contains(j.DeliveryNote, "window") && strings.Contains(j.DeliveryNote, whyOrphan)
	})
	r.waitJob("lost", "resolved", func(j queue.Job) bool {
		return j.State == queue.StatePosted && j.IDMessage == lostStatus.IDMessage && !j.OutcomeUnknown && j.Delivery == delivery.Sent &&
			strings.Contains(j.DeliveryNote, "resolved from getOutgoingStatuses") && strings.Contains(j.DeliveryNote, whyOrphan)
	})
	if s, nc, res := counted(t, serve.metrics, "sent"), counted(t, serve.metrics, "not_confirmed"), counted(t, serve.metrics, "resolved"); s != 1 || nc != 1 || res != 1 {
		t.Errorf("serve counted %d sent, %d not_confirmed and %d resolved, want 1 of each", s, nc, res)
	}
	if s, nc := counted(t, worker.metrics, "sent"), counted(t, worker.metrics, "not_confirmed"); s+nc != 0 {
		t.Errorf("the stopped worker counted %d sent and %d not_confirmed", s, nc)
	}
	if n := len(r.ga.Posted()); n != 3 {
		t.Errorf("%d statuses posted, want 3 (late, never, lost's): taking a delivery up sends nothing", n)
	}
}

// TestSweepLeavesALiveSenderAlone: a job whose sender still follows it is
// not taken up while its window and the margin last; the sender records
// and counts its delivery, the sweeping serve nothing.
func TestSweepLeavesALiveSenderAlone(t *testing.T) {
	r := newSweepRig(t)
	r.ga.HoldStatuses(true)
	worker := r.process("worker")
	worker.run(t)
	j := r.post(worker, "live", "followed by its sender")

	serve := r.process("serve")
	serve.run(t)
	sweep := NewSweeper(serve.w, r.ix)
	for _, at := range []time.Time{time.Now(), sentAt(j).Add(sweepWindow / 2), orphanedAt(j).Add(-time.Second)} {
		if n, err := sweep.Sweep(t.Context(), at); err != nil || n != 0 {
			t.Fatalf("sweep at %s took %d (%v), want none: its sender follows it", at, n, err)
		}
	}
	r.ga.SetStatusMessage(j.IDMessage, "delivered")
	r.waitJob("live", "delivered", func(j queue.Job) bool {
		return j.Delivery == delivery.Delivered && !strings.Contains(j.DeliveryNote, "after the window")
	})
	r.indexed("live", func(j queue.Job) bool { return j.Delivery == delivery.Delivered })
	if n, err := sweep.Sweep(t.Context(), orphanedAt(j).Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep took %d (%v) after the sender recorded it", n, err)
	}
	if w, s := counted(t, worker.metrics, "delivered"), counted(t, serve.metrics, "delivered"); w != 1 || s != 0 {
		t.Errorf("delivered counted %d by the sender and %d by serve, want 1 and 0", w, s)
	}
}

// TestSweepsOfTwoServesCountOnce: two serves take up the same orphaned
// job; the record gets one result and the metrics of the two count it
// once.
func TestSweepsOfTwoServesCountOnce(t *testing.T) {
	r := newSweepRig(t)
	worker := r.process("worker") // never runs its tracker: as if it died
	j := r.post(worker, "shared", "taken up twice")

	at := orphanedAt(j)
	r.setNow(at)
	serves := []*process{r.process("serve-a"), r.process("serve-b")}
	for i, s := range serves {
		// Both take it before either looks.
		sweep := NewSweeper(s.w, r.ix)
		if n, err := sweep.Sweep(t.Context(), at); err != nil || n != 1 {
			t.Fatalf("serve %d took %d (%v), want the job", i, n, err)
		}
		if n, err := sweep.Sweep(t.Context(), at.Add(SweepEvery)); err != nil || n != 0 {
			t.Fatalf("serve %d took %d (%v) again while following it", i, n, err)
		}
	}
	for _, s := range serves {
		s.run(t)
	}
	r.waitJob("shared", "sent", func(j queue.Job) bool { return j.Delivery == delivery.Sent })
	for _, s := range serves {
		<-s.tracker.Idle()
		s.stop() // every result has been handed over once Run has ended
	}
	if a, b := counted(t, serves[0].metrics, "sent"), counted(t, serves[1].metrics, "sent"); a+b != 1 {
		t.Errorf("the two serves counted %d and %d sent, want 1 in all", a, b)
	}
}

// TestSweeperRunSweepsWhileServing: serve's loop takes up, without a
// restart, a job whose sender stopped after serve started.
func TestSweeperRunSweepsWhileServing(t *testing.T) {
	r := newSweepRig(t)
	r.ga.HoldStatuses(true)
	serve := r.process("serve")
	serve.run(t)
	// Serve starts an hour back on the clock: its Resume at start, which
	// takes up what was sent before, cannot take the job sent later.
	r.setNow(time.Now().Add(-time.Hour))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { NewSweeper(serve.w, r.ix).Run(ctx, 5*time.Millisecond, r.now) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	worker := r.process("worker")
	worker.run(t)
	j := r.post(worker, "orphan", "posted while serve runs")
	worker.stop()
	r.setNow(orphanedAt(j))
	r.waitJob("orphan", "not_confirmed", func(j queue.Job) bool {
		return j.Delivery == delivery.NotConfirmed && strings.Contains(j.DeliveryNote, whyOrphan)
	})
	testutil.WaitFor(t, 30*time.Second, "the sweep's log line", func() bool {
		return strings.Contains(r.logs.String(), "following the deliveries their sender stopped following")
	})
}

// TestResumeDeliveriesAfterARestart: the statuses a stopped serve left
// with delivery pending are followed by the next one, their windows
// counted from the send; two serves resuming the same jobs agree.
func TestResumeDeliveriesAfterARestart(t *testing.T) {
	r := newSweepRig(t)
	enqueue := func(id string, req queue.Request) {
		if _, err := r.q.Enqueue(t.Context(), queue.Job{ID: id, Origin: queue.OriginUpload, Request: req}); err != nil {
			t.Fatal(err)
		}
	}
	set := func(id string, fn func(*queue.Job)) {
		j, err := r.q.Update(t.Context(), id, func(j *queue.Job) error { fn(j); return nil })
		if err != nil {
			t.Fatal(err)
		}
		r.indexed(id, func(ij queue.Job) bool { return ij.Updated.Equal(j.Updated) })
	}

	// The first serve posts p1 and stops before the status shows.
	r.ga.HoldStatuses(true)
	first := r.process("first")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	first.tracker.Run(ctx) // ended: what it is given stays pending
	p1ID := r.post(first, "p1", "before the restart").IDMessage
	r.ga.HoldStatuses(false) // the statuses sent from here show as sent at once

	// old: posted 20 minutes ago, never seen; its window ended while down.
	enqueue("old", queue.Request{Text: "long ago"})
	set("old", func(j *queue.Job) {
		j.State, j.IDMessage, j.Delivery = queue.StatePosted, "BAE5NEVERSEEN", delivery.Pending
		j.PostingAt = time.Now().Add(-2 * sweepWindow)
	})
	// u1: its send's answer was lost; of the two statuses with its text,
	// one is twin's (posted before), so exactly one can be u1's.
	lostAt := time.Now().Add(-30 * time.Second)
	var sent []string
	for range 2 {
		s, err := r.client.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "lost answer", BackgroundColor: "#228B22"})
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
	for i := range 2 {
		serve := r.process(fmt.Sprintf("serve-%d", i))
		serve.run(t)
		n, err := NewSweeper(serve.w, r.ix).Resume(t.Context(), time.Now())
		// The second may see old recorded already by the first.
		if err != nil || n != 3 && (i == 0 || n != 2) {
			t.Fatalf("serve %d resumed %d (%v), want p1, old and u1", i, n, err)
		}
	}
	// p1's status shows only now, after the restart.
	r.ga.SetStatusMessage(p1ID, "delivered")

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
	for id, ok := range want {
		r.waitJob(id, "as after the restart", ok)
	}
	if n := len(r.ga.Posted()); n != 3 {
		t.Errorf("%d statuses posted, want 3: resuming sends nothing", n)
	}
}
