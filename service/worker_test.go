package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// memJobs is a JobStore in memory whose Update can be made to fail.
type memJobs struct {
	mu   sync.Mutex
	jobs map[string]queue.Job
	// failIDMessage makes this many Updates that set idMessage fail.
	failIDMessage int
}

func (m *memJobs) Get(_ context.Context, id string) (queue.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return queue.Job{}, queue.ErrNotFound
	}
	return j, nil
}

func (m *memJobs) Update(_ context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return queue.Job{}, queue.ErrNotFound
	}
	if err := fn(&j); err != nil {
		return queue.Job{}, err
	}
	if j.IDMessage != "" && m.jobs[id].IDMessage == "" && m.failIDMessage > 0 {
		m.failIDMessage--
		return queue.Job{}, errors.New("nats: timeout")
	}
	m.jobs[id] = j
	return j, nil
}

// countingSender answers each send with err, or a new idMessage.
type countingSender struct {
	mu    sync.Mutex
	sends int
	err   error
}

func (s *countingSender) send() (greenapi.Sent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if s.err != nil {
		return greenapi.Sent{}, s.err
	}
	return greenapi.Sent{IDMessage: "ID" + strings.Repeat("7", s.sends)}, nil
}

func (s *countingSender) SendMediaStatus(context.Context, greenapi.MediaStatus) (greenapi.Sent, error) {
	return s.send()
}
func (s *countingSender) SendVoiceStatus(context.Context, greenapi.VoiceStatus) (greenapi.Sent, error) {
	return s.send()
}
func (s *countingSender) SendTextStatus(context.Context, greenapi.TextStatus) (greenapi.Sent, error) {
	return s.send()
}

func (s *countingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sends
}

// workerFixture is a Worker over a real storage.Dir served on loopback, a
// real transcoder, an in-memory job store and a counting sender.
type workerFixture struct {
	w    *Worker
	jobs *memJobs
	send *countingSender
	dir  *storage.Dir
	root string
}

func newWorkerFixture(t *testing.T) *workerFixture {
	t.Helper()
	var media http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { media.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	root := t.TempDir()
	dir, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	media = dir.MediaHandler()
	tr, err := transcode.New(transcode.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := &workerFixture{jobs: &memJobs{jobs: map[string]queue.Job{}}, send: &countingSender{}, dir: dir, root: root}
	f.w, err = NewWorker(WorkerConfig{Jobs: f.jobs, Bucket: dir, Prep: tr, Check: storage.Checker{}, Send: f.send,
		TempDir: filepath.Join(t.TempDir(), "work")})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// drop puts a sample into the inbox and makes its job.
func (f *workerFixture) drop(t *testing.T, id, sample string) queue.Job {
	t.Helper()
	src, err := os.Open(filepath.Join("..", "testdata", sample))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	key := "inbox/" + filepath.Base(sample)
	if _, err := f.dir.Put(context.Background(), key, src, storage.Object{ContentType: "application/octet-stream", Size: -1}); err != nil {
		t.Fatal(err)
	}
	j := queue.Job{ID: id, State: queue.StateQueued, Origin: queue.OriginInbox, Source: key, Name: filepath.Base(sample)}
	f.jobs.jobs[id] = j
	return j
}

func (f *workerFixture) exists(key string) bool {
	_, err := os.Stat(filepath.Join(f.root, filepath.FromSlash(key)))
	return err == nil
}

func TestWorkerPostsOnceAndMovesTheSource(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	if err := f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10)); err != nil {
		t.Fatal(err)
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StatePosted || got.IDMessage == "" || got.MovedTo != "processed/sample.jpg" || got.Method != "sendMediaStatus" {
		t.Fatalf("job: %+v", got)
	}
	if f.exists("inbox/sample.jpg") || !f.exists("processed/sample.jpg") {
		t.Error("the source was not moved to processed/")
	}
	// The same job delivered again (its ack was lost): nothing is sent.
	if err := f.w.Handle(t.Context(), queue.NewDelivery(got, 2, 10)); err != nil {
		t.Fatal(err)
	}
	if n := f.send.count(); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
}

func TestWorkerRedeliveryAfterPostingDoesNotSendAgain(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	// An earlier delivery posted and recorded idMessage, then died before
	// moving the source.
	j.State, j.IDMessage = queue.StatePosting, "EARLIER"
	f.jobs.jobs["j1"] = j
	if err := f.w.Handle(t.Context(), queue.NewDelivery(j, 2, 10)); err != nil {
		t.Fatal(err)
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if f.send.count() != 0 || got.State != queue.StatePosted || got.IDMessage != "EARLIER" || !f.exists("processed/sample.jpg") {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

func TestWorkerRecordsIDMessageThroughAKeyValueHiccup(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	f.jobs.failIDMessage = 1 // the first write of idMessage fails
	if err := f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10)); err != nil {
		t.Fatal(err)
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StatePosted || got.IDMessage != "ID7" || f.send.count() != 1 {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

func TestWorkerRetryableFailures(t *testing.T) {
	f := newWorkerFixture(t)
	f.send.err = &greenapi.Error{Method: "sendMediaStatus", Code: greenapi.CodeRateLimited, HTTPStatus: 429, Message: "too many requests"}
	f.send.err = errors.Join(f.send.err, greenapi.ErrRetryExhausted)
	j := f.drop(t, "j1", "samples/sample.jpg")
	err := f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 3))
	if d, ok := queue.RetryDelay(err); !ok || d <= 0 || !errors.Is(err, greenapi.ErrRetryExhausted) {
		t.Fatalf("Handle: %v, want a RetryLater", err)
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StateQueued || !f.exists("inbox/sample.jpg") {
		t.Errorf("after a retryable failure: %+v; source in inbox: %v", got, f.exists("inbox/sample.jpg"))
	}
	// The last delivery fails the job for good, with the reason.
	if err := f.w.Handle(t.Context(), queue.NewDelivery(got, 3, 3)); err == nil {
		t.Fatal("the last attempt succeeded")
	}
	got, _ = f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StateFailed || !strings.Contains(got.Error, "gave up after 3 deliveries") {
		t.Errorf("after the last attempt: %+v", got)
	}
	if !f.exists("failed/sample.jpg") || !f.exists("failed/sample.jpg.error.json") {
		t.Error("the source and its error file are not in failed/")
	}
}

func TestWorkerOutcomeUnknownIsNeverSentAgain(t *testing.T) {
	f := newWorkerFixture(t)
	f.send.err = &greenapi.Error{Method: "sendMediaStatus", Code: greenapi.CodeOutcomeUnknown, Message: "no answer"}
	f.send.err = errors.Join(f.send.err, greenapi.ErrOutcomeUnknown)
	j := f.drop(t, "j1", "samples/sample.jpg")
	_ = f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))
	got, _ := f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StateFailed || got.ErrorCode != greenapi.CodeOutcomeUnknown || !got.OutcomeUnknown {
		t.Fatalf("job: %+v", got)
	}
	f.send.err = nil
	_ = f.w.Handle(t.Context(), queue.NewDelivery(got, 2, 10))
	if n := f.send.count(); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
}

func TestWorkerBrokenMediaAndBadOptions(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "broken", "bad/truncated.jpg")
	_ = f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))
	j2 := f.drop(t, "badopt", "samples/alpha.png")
	j2.Options.Crop = "diagonal"
	f.jobs.jobs["badopt"] = j2
	_ = f.w.Handle(t.Context(), queue.NewDelivery(j2, 1, 10))
	j3 := f.drop(t, "sidecar", "samples/sample.webp")
	j3.Invalid = "sidecar inbox/sample.webp.json: unexpected EOF"
	f.jobs.jobs["sidecar"] = j3
	_ = f.w.Handle(t.Context(), queue.NewDelivery(j3, 1, 10))

	for id, want := range map[string]string{"broken": "corrupt_media", "badopt": "bad_metadata", "sidecar": "bad_metadata"} {
		got, _ := f.jobs.Get(t.Context(), id)
		if got.State != queue.StateFailed || got.ErrorCode != want {
			t.Errorf("%s: %+v, want failed with %s", id, got, want)
		}
		b, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(got.MovedTo)+".error.json"))
		var ef ErrorFile
		if err != nil || json.Unmarshal(b, &ef) != nil || ef.Code != want || ef.Job != id {
			t.Errorf("%s: error file %s: %v", id, b, err)
		}
	}
	if n := f.send.count(); n != 0 {
		t.Errorf("%d sends for broken input", n)
	}
	if objs, _ := f.dir.List(t.Context(), "statuses/"); len(objs) != 0 {
		t.Errorf("broken input was stored: %v", objs)
	}
}
