package service

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// memJobs is the queue in memory.
type memJobs = memqueue.Jobs

// failWrites makes the next n Updates of m that change a record as set
// says fail like a key-value hiccup.
func failWrites(m *memJobs, n int, set func(before, after queue.Job) bool) {
	m.FailUpdate = func(before, after queue.Job) error {
		if n > 0 && set(before, after) {
			n--
			return errors.New("nats: timeout")
		}
		return nil
	}
}

func setsIDMessage(before, after queue.Job) bool {
	return after.IDMessage != "" && before.IDMessage == ""
}
func setsMovedTo(before, after queue.Job) bool { return after.MovedTo != "" && before.MovedTo == "" }

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
	dir, root := servedDir(t)
	f := &workerFixture{jobs: memqueue.New(), send: &countingSender{}, dir: dir, root: root}
	var err error
	f.w, err = NewWorker(WorkerConfig{Jobs: f.jobs, Bucket: dir, Prep: newTranscoder(t), Check: storage.Checker{}, Send: f.send,
		TempDir: filepath.Join(t.TempDir(), "work")})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// handle runs delivery attempt of j through f's worker, which must not
// fail, and returns the job as it is stored afterwards.
func (f *workerFixture) handle(t *testing.T, j queue.Job, attempt int) queue.Job {
	t.Helper()
	if err := f.w.Handle(t.Context(), queue.NewDelivery(j, attempt, 10)); err != nil {
		t.Fatal(err)
	}
	got, _ := f.jobs.Get(t.Context(), j.ID)
	return got
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
	f.jobs.Set(id, j)
	return j
}

func (f *workerFixture) exists(key string) bool {
	_, err := os.Stat(filepath.Join(f.root, filepath.FromSlash(key)))
	return err == nil
}

func TestWorkerPostsOnceAndMovesTheSource(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	got := f.handle(t, j, 1)
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
	f.jobs.Set("j1", j)
	got := f.handle(t, j, 2)
	if f.send.count() != 0 || got.State != queue.StatePosted || got.IDMessage != "EARLIER" || !f.exists("processed/sample.jpg") {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

func TestWorkerRecordsIDMessageThroughAKeyValueHiccup(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	failWrites(f.jobs, 1, setsIDMessage) // the first write of idMessage fails
	got := f.handle(t, j, 1)
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
	j2.Request.Crop = "diagonal"
	f.jobs.Set("badopt", j2)
	_ = f.w.Handle(t.Context(), queue.NewDelivery(j2, 1, 10))
	j3 := f.drop(t, "sidecar", "samples/sample.webp")
	j3.Invalid = "sidecar inbox/sample.webp.json: unexpected EOF"
	f.jobs.Set("sidecar", j3)
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

func TestWorkerDeliveryAfterACrashWhilePostingDoesNotSend(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	// Another delivery began posting a moment ago: it may be alive.
	j.State, j.PostingBy, j.PostingAt = queue.StatePosting, "other-delivery", time.Now()
	f.jobs.Set("j1", j)
	if _, ok := queue.RetryDelay(f.w.Handle(t.Context(), queue.NewDelivery(j, 2, 10))); !ok {
		t.Fatal("a fresh posting was not given time")
	}
	// The worker sending it was killed long ago, before the answer was
	// recorded.
	j.PostingAt = time.Now().Add(-stalePosting - time.Minute)
	f.jobs.Set("j1", j)
	_ = f.w.Handle(t.Context(), queue.NewDelivery(j, 3, 10))
	got, _ := f.jobs.Get(t.Context(), "j1")
	if f.send.count() != 0 || got.State != queue.StateFailed || got.ErrorCode != greenapi.CodeOutcomeUnknown {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

// meddlingJobs changes a job with meddle, as another delivery or the
// queue would, as soon as this delivery says it is storing.
type meddlingJobs struct {
	*memJobs
	meddle func(*queue.Job)
}

func (r meddlingJobs) Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	j, err := r.memJobs.Update(ctx, id, fn)
	if err == nil && j.State == queue.StateStoring {
		return r.memJobs.Update(ctx, id, func(j *queue.Job) error {
			r.meddle(j)
			return nil
		})
	}
	return j, err
}

// meddledWorker is a worker like f's over f's jobs as seen through
// meddlingJobs with meddle.
func (f *workerFixture) meddledWorker(t *testing.T, meddle func(*queue.Job)) *Worker {
	t.Helper()
	w, err := NewWorker(WorkerConfig{Jobs: meddlingJobs{f.jobs, meddle}, Bucket: f.dir, Prep: f.w.cfg.Prep, Check: storage.Checker{},
		Send: f.send, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWorkerTwoDeliveriesAtOnceSendOnce(t *testing.T) {
	f := newWorkerFixture(t)
	// Two deliveries of one job at once: the other takes it for posting.
	w := f.meddledWorker(t, func(j *queue.Job) { j.State, j.PostingBy = queue.StatePosting, "the other delivery" })
	j := f.drop(t, "j1", "samples/sample.jpg")
	// This delivery keeps its message (the other may still die) and sends
	// nothing.
	if _, ok := queue.RetryDelay(w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))); !ok {
		t.Fatal("Handle did not ask to look again later")
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if f.send.count() != 0 || got.PostingBy != "the other delivery" || !f.exists("inbox/sample.jpg") {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

// stuckBucket refuses to move anything.
type stuckBucket struct{ *storage.Dir }

func (stuckBucket) Move(context.Context, string, string) error {
	return errors.Join(storage.ErrFailed, errors.New("AccessDenied: s3:DeleteObject"))
}

func TestWorkerPostedButSourceStuck(t *testing.T) {
	f := newWorkerFixture(t)
	w, err := NewWorker(WorkerConfig{Jobs: f.jobs, Bucket: stuckBucket{f.dir}, Prep: f.w.cfg.Prep, Check: storage.Checker{},
		Send: f.send, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	j := f.drop(t, "j1", "samples/sample.jpg")
	err = w.Handle(t.Context(), queue.NewDelivery(j, 1, 2))
	if _, ok := queue.RetryDelay(err); !ok {
		t.Fatalf("first delivery: %v, want a retry of the move", err)
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if err := w.Handle(t.Context(), queue.NewDelivery(got, 2, 2)); err != nil {
		t.Fatalf("last delivery: %v", err)
	}
	got, _ = f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StatePosted || got.ErrorCode != "source_not_moved" || f.send.count() != 1 || !f.exists("inbox/sample.jpg") {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

func TestWorkerTextStatusRecordedThroughAKeyValueHiccup(t *testing.T) {
	f := newWorkerFixture(t)
	failWrites(f.jobs, 2, setsIDMessage)
	f.jobs.Set("t1", queue.Job{ID: "t1", State: queue.StateQueued, Request: queue.Request{Text: "hi", BackgroundColor: "#228B22"}})
	if err := f.w.Handle(t.Context(), queue.NewDelivery(f.jobs.Peek("t1"), 1, 10)); err != nil {
		t.Fatal(err)
	}
	got, _ := f.jobs.Get(t.Context(), "t1")
	if got.State != queue.StatePosted || got.IDMessage == "" || got.Method != "sendTextStatus" || f.send.count() != 1 {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

func TestWorkerMoveFinishedByTheNextDelivery(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	failWrites(f.jobs, 2, setsMovedTo) // the move happens, recording it does not
	err := f.w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))
	if _, ok := queue.RetryDelay(err); !ok {
		t.Fatalf("first delivery: %v, want a retry", err)
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if err := f.w.Handle(t.Context(), queue.NewDelivery(got, 2, 10)); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	got, _ = f.jobs.Get(t.Context(), "j1")
	if got.State != queue.StatePosted || got.MovedTo != "processed/sample.jpg" || f.send.count() != 1 {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
	if objs, _ := f.dir.List(t.Context(), "processed/"); len(objs) != 1 {
		t.Errorf("processed/ holds %d objects, want 1 (no second copy under another name)", len(objs))
	}
}

func TestWorkerNeverSendsAFailedJob(t *testing.T) {
	f := newWorkerFixture(t)
	// The queue gives up on the job meanwhile.
	w := f.meddledWorker(t, func(j *queue.Job) { j.State, j.ErrorCode = queue.StateFailed, queue.CodeMaxDeliveries })
	j := f.drop(t, "j1", "samples/sample.jpg")
	_ = w.Handle(t.Context(), queue.NewDelivery(j, 10, 10))
	got, _ := f.jobs.Get(t.Context(), "j1")
	if f.send.count() != 0 || got.State != queue.StateFailed {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

// takenJobs lets another delivery take the job for posting just before
// this delivery's first write of its progress.
type takenJobs struct {
	*memJobs
	once sync.Once
}

func (r *takenJobs) Update(ctx context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	r.once.Do(func() {
		_, _ = r.memJobs.Update(ctx, id, func(j *queue.Job) error {
			j.State, j.PostingBy, j.PostingAt = queue.StatePosting, "delivery A", time.Now()
			return nil
		})
	})
	return r.memJobs.Update(ctx, id, fn)
}

func TestWorkerProgressDoesNotHideAnotherDeliverysPosting(t *testing.T) {
	f := newWorkerFixture(t)
	w, err := NewWorker(WorkerConfig{Jobs: &takenJobs{memJobs: f.jobs}, Bucket: f.dir, Prep: f.w.cfg.Prep, Check: storage.Checker{},
		Send: f.send, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	j := f.drop(t, "j1", "samples/sample.jpg")
	if _, ok := queue.RetryDelay(w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))); !ok {
		t.Error("Handle did not leave the job to the other delivery")
	}
	got, _ := f.jobs.Get(t.Context(), "j1")
	if f.send.count() != 0 || got.State != queue.StatePosting || got.PostingBy != "delivery A" {
		t.Errorf("%d sends; job %+v", f.send.count(), got)
	}
}

func TestWorkerFinishMovesTheSourceOfAJobTheQueueGaveUpOn(t *testing.T) {
	f := newWorkerFixture(t)
	j := f.drop(t, "j1", "samples/sample.jpg")
	j.State, j.ErrorCode, j.Error = queue.StateFailed, queue.CodeMaxDeliveries, "delivered 10 times without finishing"
	f.jobs.Set("j1", j)
	if err := f.w.Finish(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(f.root, "failed", "sample.jpg.error.json"))
	var ef ErrorFile
	if err != nil || json.Unmarshal(b, &ef) != nil || ef.Code != queue.CodeMaxDeliveries {
		t.Errorf("error file %s: %v", b, err)
	}
	if f.exists("inbox/sample.jpg") || !f.exists("failed/sample.jpg") {
		t.Error("the source was not moved to failed/")
	}
	if got, _ := f.jobs.Get(t.Context(), "j1"); got.MovedTo != "failed/sample.jpg" || got.State != queue.StateFailed {
		t.Errorf("job %+v", got)
	}
}
