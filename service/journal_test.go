package service

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// downAfterSend is a job store whose writes of idMessage fail the first
// fails times, as during a NATS outage that starts right after a send;
// onFail runs at each failure.
type downAfterSend struct {
	*memJobs
	fails  int
	failed atomic.Int64
	onFail func(n int64)
}

func (d *downAfterSend) Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	probe, _ := d.Get(ctx, id)
	if err := fn(&probe); err == nil && probe.IDMessage != "" && d.failed.Load() < int64(d.fails) {
		n := d.failed.Add(1)
		if d.onFail != nil {
			d.onFail(n)
		}
		return queue.Job{}, errors.New("nats: no responders available for request")
	}
	return d.memJobs.Update(ctx, id, fn)
}

// TestWorkerRecordsASendThroughALongOutage: recording the answer of a send
// is tried until it works, far beyond the 30 one-second tries the worker
// used to give it, and the send stays in the journal on disk meanwhile.
func TestWorkerRecordsASendThroughALongOutage(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	dir := t.TempDir()
	journal, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer journal.Close()
	metrics := NewMetrics()
	journal.Register(metrics)
	const fails = 200 // the old window gave up after 30
	var inJournal atomic.Bool
	store := &downAfterSend{memJobs: f.jobs, fails: fails, onFail: func(n int64) {
		if n == fails/2 {
			p, ok := journal.Pending("j1")
			b, _ := os.ReadFile(journal.path)
			inJournal.Store(ok && p.IDMessage == "ID7" && bytes.Contains(b, []byte(`"idMessage":"ID7"`)) &&
				gauge(t, metrics, "mediaprep_journal_pending") == 1)
		}
	}}
	f.w.cfg.Jobs, f.w.cfg.Journal, f.w.cfg.RecordPause = store, journal, time.Millisecond // the seam: no waiting in tests

	got := f.handle(t, j, 1)
	if got.State != queue.StatePosted || got.IDMessage != "ID7" || got.OutcomeUnknown || f.send.count() != 1 {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
	if n := store.failed.Load(); n != fails {
		t.Errorf("%d failed tries, want %d", n, fails)
	}
	if !inJournal.Load() {
		t.Error("during the outage the send was not in the journal on disk")
	}
	if _, ok := journal.Pending("j1"); ok {
		t.Error("the send is still pending in the journal after it was recorded")
	}
	if b, _ := os.ReadFile(journal.path); len(b) != 0 {
		t.Errorf("journal not emptied once everything was recorded: %q", b)
	}
	if g := gauge(t, metrics, "mediaprep_journal_pending"); g != 0 {
		t.Errorf("mediaprep_journal_pending = %v after recording, want 0", g)
	}
}

// gauge reads the value of an unlabelled gauge.
func gauge(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestWorkerRecordsFromTheJournalAfterACrash: a process that died between
// a send and its record (its journal written, the job still "posting")
// leaves the send to the next start, which records it: the job ends
// posted with its idMessage, not outcome_unknown, and nothing is sent.
func TestWorkerRecordsFromTheJournalAfterACrash(t *testing.T) {
	crashed := func(t *testing.T, f *workerFixture) queue.Job {
		j := f.drop(t, "j1", "samples/sample.jpg")
		// The dead delivery took it for posting long ago.
		j.State, j.PostingBy, j.PostingAt, j.Method = queue.StatePosting, "dead", time.Now().Add(-time.Hour), "sendMediaStatus"
		f.jobs.Set("j1", j)
		return j
	}

	t.Run("without a journal it is unknown", func(t *testing.T) {
		f := newWorkerFixture(t)
		j := crashed(t, f)
		_ = f.w.Handle(t.Context(), queue.NewDelivery(j, 2, 10))
		if got, _ := f.jobs.Get(t.Context(), "j1"); got.ErrorCode != greenapi.CodeOutcomeUnknown {
			t.Fatalf("control: job %+v, want outcome_unknown", got)
		}
	})

	t.Run("with the journal it is posted", func(t *testing.T) {
		dir := t.TempDir()
		dead, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := dead.Append("j1", pipeline.Posted{Prepared: pipeline.Prepared{Method: "sendMediaStatus"},
			IDMessage: "BEFORE-CRASH", PostedAt: time.Now().UTC().Truncate(time.Second)}); err != nil {
			t.Fatal(err)
		}
		dead.f.Close() // kill -9: the lock goes with the process, the file stays

		f := newWorkerFixture(t)
		crashed(t, f)
		journal, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer journal.Close()
		if _, ok := journal.Pending("j1"); !ok {
			t.Fatal("the new journal did not take over the dead process's send")
		}
		if _, err := os.Stat(dead.path); !os.IsNotExist(err) {
			t.Errorf("the dead process's journal is still there: %v", err)
		}
		f.w.cfg.Journal = journal
		f.w.Replay(t.Context())
		got, _ := f.jobs.Get(t.Context(), "j1")
		if got.IDMessage != "BEFORE-CRASH" {
			t.Fatalf("after Replay: job %+v", got)
		}
		// Its message comes back: the job ends posted, nothing is sent.
		got = f.handle(t, got, 2)
		if got.State != queue.StatePosted || got.IDMessage != "BEFORE-CRASH" || got.ErrorCode != "" || f.send.count() != 0 {
			t.Errorf("%d sends; job %+v", f.send.count(), got)
		}
		if !f.exists("processed/sample.jpg") {
			t.Error("the source was not moved to processed/")
		}
	})

	t.Run("a running process's journal is left alone", func(t *testing.T) {
		dir := t.TempDir()
		live, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		if err := live.Append("j9", pipeline.Posted{IDMessage: "LIVE"}); err != nil {
			t.Fatal(err)
		}
		other, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, ok := other.Pending("j9"); ok {
			t.Error("a second process took over the send of a running one")
		}
		if _, ok := live.Pending("j9"); !ok {
			t.Error("the running process lost its send")
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "journal-*.jsonl")); len(m) != 2 {
			t.Errorf("%d journal files, want 2", len(m))
		}
	})
}
