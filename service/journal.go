package service

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// Journal keeps what each send answered (job id, idMessage, time) in a
// local file, synced before anything else is done, until the job's record
// has it: a NATS outage, however long, or a crash between a send and its
// record does not leave a posted status looking unknown. Each process
// keeps a file of its own (several may share a data dir), locked while it
// runs; OpenJournal adopts the files of processes that are gone. A nil
// *Journal keeps nothing.
type Journal struct {
	log *slog.Logger

	mu      sync.Mutex
	f       *os.File
	path    string
	pending map[string]pipeline.Posted // sends not recorded yet, by job id
}

// journalLine is one line of a journal file: a send, or (Posted nil) the
// note that the send of Job is recorded.
type journalLine struct {
	Job    string           `json:"job"`
	Posted *pipeline.Posted `json:"posted,omitempty"`
}

// OpenJournal opens a journal of this process's own in dir, taking over
// the sends that processes that are gone left unrecorded in theirs.
func OpenJournal(dir string, log *slog.Logger) (*Journal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("service: journal folder: %w", err)
	}
	// Made under a hidden name, locked, then renamed: another process
	// starting now never finds a journal-* file it could lock and take.
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := hex.EncodeToString(b[:])
	tmp := filepath.Join(dir, ".new-"+name)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("service: journal: %w", err)
	}
	path := filepath.Join(dir, "journal-"+name+".jsonl")
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("service: journal: %w", err)
	}
	j := &Journal{log: log, f: f, path: path, pending: map[string]pipeline.Posted{}}
	old, _ := filepath.Glob(filepath.Join(dir, "journal-*.jsonl"))
	for _, p := range old {
		if p != path {
			j.adopt(p)
		}
	}
	return j, nil
}

// adopt takes over the unrecorded sends of the journal at path when its
// process is gone (its lock is free), then removes it.
func (j *Journal) adopt(path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // its process runs
	}
	sends := readJournal(f)
	for id, p := range sends {
		if err := j.Append(id, p); err != nil {
			j.log.Error("journal: taking over a send of a process that is gone failed; its file stays", "job", id, "file", path, "err", err)
			return
		}
	}
	if len(sends) > 0 {
		j.log.Warn("journal: took over sends another process left unrecorded", "file", filepath.Base(path), "sends", len(sends))
	}
	os.Remove(path)
}

// readJournal returns the sends of a journal not marked recorded. A line
// cut short by a crash is skipped.
func readJournal(f *os.File) map[string]pipeline.Posted {
	sends := map[string]pipeline.Posted{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Job == "" {
			continue
		}
		if l.Posted != nil {
			sends[l.Job] = *l.Posted
		} else {
			delete(sends, l.Job)
		}
	}
	return sends
}

// Append writes the send of job id and syncs it to disk.
func (j *Journal) Append(id string, p pipeline.Posted) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.write(journalLine{Job: id, Posted: &p}); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("service: journal: %w", err)
	}
	j.pending[id] = p
	return nil
}

// Recorded notes that the job's record has its send; once nothing is
// pending the file is emptied.
func (j *Journal) Recorded(id string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.pending[id]; !ok {
		return
	}
	delete(j.pending, id)
	if len(j.pending) == 0 {
		// Not synced: should the truncation be lost, recording again
		// changes nothing.
		if err := j.f.Truncate(0); err == nil {
			return
		}
	}
	if err := j.write(journalLine{Job: id}); err != nil {
		j.log.Warn("journal: noting a recorded send", "job", id, "err", err)
	}
}

func (j *Journal) write(l journalLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("service: journal: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("service: journal %s: %w", j.path, err)
	}
	return nil
}

// Register adds the gauge mediaprep_journal_pending (sends whose answer is
// not in their job yet) to m.
func (j *Journal) Register(m *Metrics) {
	if j == nil || m == nil {
		return
	}
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mediaprep_journal_pending",
		Help: "Sends whose answer (idMessage) is kept in this process's journal, not in their job yet: the queue is unreachable.",
	}, func() float64 {
		j.mu.Lock()
		defer j.mu.Unlock()
		return float64(len(j.pending))
	}))
}

// Pending returns the send of job id not recorded yet, if any.
func (j *Journal) Pending(id string) (pipeline.Posted, bool) {
	if j == nil {
		return pipeline.Posted{}, false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	p, ok := j.pending[id]
	return p, ok
}

// pendingIDs lists the jobs whose sends are not recorded yet.
func (j *Journal) pendingIDs() []string {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	ids := make([]string, 0, len(j.pending))
	for id := range j.pending {
		ids = append(ids, id)
	}
	return ids
}

// Close closes the journal; a file with sends still unrecorded stays for
// the next process to take over.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) == 0 {
		os.Remove(j.path)
	} else {
		j.log.Warn("journal: sends not recorded yet stay in the journal for the next start", "sends", len(j.pending), "file", j.path)
	}
	return j.f.Close()
}

// Record retry pauses: from recordPauseMin doubling to WorkerConfig's
// RecordPause.
const recordPauseMin = 100 * time.Millisecond

// record writes what a send answered into the job: first to the journal
// (synced), then into the job's record, tried again and again (the pause
// doubling up to RecordPause) until it is written or ctx ends (shutdown);
// the journal keeps it then for the next start.
func (w *Worker) record(ctx context.Context, id string, p pipeline.Posted, log *slog.Logger) (queue.Job, error) {
	if _, pending := w.cfg.Journal.Pending(id); !pending {
		if err := w.cfg.Journal.Append(id, p); err != nil {
			log.Error("journal: the send could not be written down; recording it in the job only", "err", err)
		}
	}
	pause := recordPauseMin
	for try := 1; ; try++ {
		job, err := w.cfg.Jobs.Update(ctx, id, func(j *queue.Job) error { return applySend(j, p) })
		if errors.Is(err, errRecordedAlready) {
			job, err = w.cfg.Jobs.Get(ctx, id)
		}
		if err == nil {
			w.cfg.Journal.Recorded(id)
			if try > 1 {
				log.Info("recorded idMessage", "idMessage", p.IDMessage, "tries", try)
			}
			return job, nil
		}
		if ctx.Err() != nil {
			return queue.Job{}, fmt.Errorf("%w: posted as %s, recording it failed (kept in the journal for the next start): %w", errQueue, p.IDMessage, err)
		}
		log.Warn("recording idMessage failed; trying again", "err", err, "try", try, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		pause = min(2*pause, w.cfg.RecordPause)
	}
}

// errRecordedAlready: the job's record has this send already.
var errRecordedAlready = errors.New("send recorded already")

// applySend copies a send into j. A job another delivery took for failed
// with outcome_unknown meanwhile (its record came too late) is posted
// after all: its source stays where that failure moved it.
func applySend(j *queue.Job, p pipeline.Posted) error {
	if j.IDMessage != "" && j.IDMessage == p.IDMessage {
		return errRecordedAlready
	}
	late := j.State == queue.StateFailed && j.ErrorCode == greenapi.CodeOutcomeUnknown && p.IDMessage != ""
	setPosted(j, p)
	if late {
		j.State, j.ErrorCode = queue.StatePosted, codeLateRecord
		j.Error = fmt.Sprintf("posted as %s; the answer was recorded after the job had been given up as outcome_unknown; the source stays in %s", p.IDMessage, j.MovedTo)
	}
	return nil
}

// Replay records the sends the journal holds (this process's, and those
// taken over from processes that are gone), each retried until recorded
// or ctx ends. serve and worker run it at start.
func (w *Worker) Replay(ctx context.Context) {
	var wg sync.WaitGroup
	for _, id := range w.cfg.Journal.pendingIDs() {
		p, ok := w.cfg.Journal.Pending(id)
		if !ok {
			continue
		}
		log := w.log.With("job", id)
		wg.Go(func() {
			if _, err := w.record(ctx, id, p, log); err == nil {
				log.Info("journal: recorded a send left unrecorded", "idMessage", p.IDMessage)
			}
		})
	}
	wg.Wait()
}
