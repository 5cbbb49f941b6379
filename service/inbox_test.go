package service

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

func newTestInbox(t *testing.T, dir *storage.Dir, jobs *memqueue.Jobs, settle time.Duration) *Inbox {
	t.Helper()
	in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: jobs, Settle: settle, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func newTestDir(t testing.TB) (*storage.Dir, string) {
	t.Helper()
	root := t.TempDir()
	dir, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, root
}

// put writes a file into the folder with the given age.
func put(t testing.TB, root, key, content string, age time.Duration) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
}

// scanOnce scans without letting the checks it schedules run later.
func scanOnce(t *testing.T, in *Inbox) int {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n, err := in.Scan(ctx)
	if err != nil {
		t.Error(err)
	}
	return n
}

const testSettle = 100 * time.Millisecond

// scanSettled waits out the settle time, scans once more and fails t
// unless that scan took want files; it returns the jobs enqueued so far by
// name.
func scanSettled(t *testing.T, in *Inbox, jobs *memqueue.Jobs, want int) map[string]queue.Job {
	t.Helper()
	time.Sleep(testSettle + 20*time.Millisecond)
	if n := scanOnce(t, in); n != want {
		t.Fatalf("Scan took %d, want %d", n, want)
	}
	byName := map[string]queue.Job{}
	for _, j := range jobs.Enqueued() {
		byName[j.Name] = j
	}
	return byName
}

func TestInboxTakesEachSettledFileOnce(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	a, b := newTestInbox(t, dir, jobs, testSettle), newTestInbox(t, dir, jobs, testSettle)
	put(t, root, "inbox/old.jpg", "jpeg", time.Hour)
	put(t, root, "inbox/sub/old.mp4", "mp4", time.Hour)
	put(t, root, "inbox/growing.jpg", "still being", time.Hour) // an old time says nothing
	put(t, root, "inbox/old.jpg.json", `{"caption":"hi"}`, time.Hour)
	put(t, root, "inbox/.hidden.jpg", "x", time.Hour)
	put(t, root, "inbox/x.jpg.error.json", "{}", time.Hour)
	put(t, root, "elsewhere/other.jpg", "x", time.Hour)
	if n := scanOnce(t, a) + scanOnce(t, b); n != 0 {
		t.Fatalf("took %d files at first sight", n)
	}
	put(t, root, "inbox/growing.jpg", "still being written", time.Hour)
	time.Sleep(testSettle + 20*time.Millisecond)

	// Two inboxes (two serve processes) scan the same folder at once.
	var wg sync.WaitGroup
	for _, in := range []*Inbox{a, b, a, b} {
		wg.Go(func() { scanOnce(t, in) })
	}
	wg.Wait()
	got := map[string]queue.Job{}
	for _, j := range jobs.Enqueued() {
		if _, dup := got[j.Source]; dup {
			t.Errorf("%s enqueued twice", j.Source)
		}
		got[j.Source] = j
	}
	if len(got) != 2 || got["inbox/old.jpg"].Source == "" || got["inbox/sub/old.mp4"].Source == "" {
		t.Fatalf("enqueued %v, want inbox/old.jpg and inbox/sub/old.mp4", got)
	}
	if j := got["inbox/old.jpg"]; j.Request.Caption != "hi" || j.Origin != queue.OriginInbox || j.Name != "old.jpg" {
		t.Errorf("job of old.jpg: %+v", j)
	}
	// A file whose job exists is not taken again, by a fresh inbox either.
	c := newTestInbox(t, dir, jobs, time.Millisecond)
	scanOnce(t, c)
	time.Sleep(5 * time.Millisecond)
	scanOnce(t, c)
	if n := len(jobs.Enqueued()); n != 3 { // growing.jpg has settled by now
		t.Errorf("%d jobs, want 3", n)
	}
}

func TestInboxHonoursALateSidecarAndReportsABrokenOne(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in := newTestInbox(t, dir, jobs, testSettle)
	put(t, root, "inbox/a.jpg", "jpeg", 0)
	put(t, root, "inbox/b.jpg", "jpeg", 0)
	put(t, root, "inbox/b.jpg.json", `{"caption": "unterminated`, 0)
	put(t, root, "inbox/c.jpg", "jpeg", 0)
	put(t, root, "inbox/c.jpg.json", `{"captoin": "typo"}`, 0)
	if n := scanOnce(t, in); n != 0 {
		t.Fatalf("took a file at first sight")
	}
	// a.jpg's sidecar arrives within the settle time.
	put(t, root, "inbox/a.jpg.json", `{"caption":"late","participants":["79001234567@c.us"],"crop":"smart"}`, 0)
	byName := scanSettled(t, in, jobs, 3)
	if a := byName["a.jpg"]; a.Request.Caption != "late" || a.Request.Crop != "smart" || len(a.Request.Participants) != 1 || a.Invalid != "" {
		t.Errorf("a.jpg: %+v", a)
	}
	for _, name := range []string{"b.jpg", "c.jpg"} {
		if j := byName[name]; !strings.Contains(j.Invalid, "sidecar") {
			t.Errorf("%s with a broken sidecar: %+v", name, j)
		}
	}
}

// downBucket fails every lookup, as S3 does while it is down.
type downBucket struct{ *storage.Dir }

func (downBucket) Lookup(context.Context, string) (storage.Object, bool, error) {
	return storage.Object{}, false, storage.ErrFailed
}

func TestInboxStorageBlipFailsNothing(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in, err := NewInbox(InboxConfig{Bucket: downBucket{dir}, Jobs: jobs, Settle: time.Millisecond, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	put(t, root, "inbox/a.jpg", "jpeg", 0)
	scanOnce(t, in)
	time.Sleep(5 * time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := in.Scan(ctx); err == nil {
		t.Error("Scan hid the storage error")
	}
	if n := len(jobs.Enqueued()); n != 0 {
		t.Errorf("%d jobs made while the sidecar could not be looked up", n)
	}
}

func TestInboxEvents(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: jobs, Settle: time.Millisecond, TempDir: t.TempDir(), BucketName: "media"})
	// Events are checked twice, Settle apart, before a file is taken.
	if err != nil {
		t.Fatal(err)
	}
	put(t, root, "inbox/Straße und Meer+1.jpg", "jpeg", time.Hour)
	put(t, root, "inbox/plus+sign.jpg", "jpeg", time.Hour)
	put(t, root, "inbox/plain.jpg", "jpeg", time.Hour)
	ev := func(bucket, name, key string) []byte {
		return []byte(`{"Records":[{"eventName":"` + name + `","s3":{"bucket":{"name":"` + bucket + `"},"object":{"key":"` + key + `"}}}]}`)
	}
	ctx := t.Context()
	in.event(ctx, ev("other", "s3:ObjectCreated:Put", "inbox/plus%2Bsign.jpg"))              // another bucket
	in.event(ctx, ev("media", "s3:ObjectRemoved:Delete", "inbox/plus%2Bsign.jpg"))           // not a creation
	in.event(ctx, ev("media", "s3:ObjectCreated:Put", "inbox/Stra%C3%9Fe+und+Meer%2B1.jpg")) // form escaping (MinIO, AWS)
	in.event(ctx, ev("media", "s3:ObjectCreated:Put", "inbox/plus%2Bsign.jpg"))
	in.event(ctx, ev("media", "s3:ObjectCreated:Put", "inbox/plus%2Bsign.jpg")) // twice
	in.event(ctx, ev("media", "s3:ObjectCreated:Put", "inbox/plain.jpg"))       // once: its settle check must follow by itself
	in.event(ctx, []byte("not json"))
	deadline := time.Now().Add(10 * time.Second)
	for len(jobs.Enqueued()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let a wrong duplicate show up
	var keys []string
	for _, j := range jobs.Enqueued() {
		keys = append(keys, j.Source)
	}
	slices.Sort(keys)
	if want := []string{"inbox/Straße und Meer+1.jpg", "inbox/plain.jpg", "inbox/plus+sign.jpg"}; !slices.Equal(keys, want) {
		t.Errorf("enqueued %q, want %q", keys, want)
	}
}

func TestEventKeys(t *testing.T) {
	for raw, want := range map[string]string{
		"inbox/a+b.jpg":       "inbox/a b.jpg", // form style first
		"inbox/a%20b.jpg":     "inbox/a b.jpg",
		"inbox/%E2%9C%93.jpg": "inbox/✓.jpg",
	} {
		if got := eventKeys(raw); len(got) == 0 || got[0] != want {
			t.Errorf("eventKeys(%q) = %q, want %q first", raw, got, want)
		}
	}
	if got := eventKeys("inbox/a+b.jpg"); !slices.Contains(got, "inbox/a+b.jpg") {
		t.Errorf("path-style reading of a literal + is missing: %q", got)
	}
}

func TestInboxFileDroppedAgainAfterItsJobIsANewJob(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in := newTestInbox(t, dir, jobs, time.Millisecond)
	put(t, root, "inbox/a.jpg", "jpeg", time.Hour)
	take := func() int {
		n := scanOnce(t, in)
		time.Sleep(5 * time.Millisecond)
		return n + scanOnce(t, in)
	}
	if n := take(); n != 1 {
		t.Fatalf("first drop: took %d", n)
	}
	// While the job runs, the file is seen again: no new job, and the
	// queue is asked to make sure the job has its message.
	if n := take(); n != 0 || jobs.Requeues() == 0 {
		t.Fatalf("while running: took %d, %d requeue checks", n, jobs.Requeues())
	}
	// The job fails and moves the file to failed/; the user fixes its
	// sidecar and moves it back, same bytes, same time.
	first := jobs.Enqueued()[0]
	if err := dir.Move(t.Context(), "inbox/a.jpg", "failed/a.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Update(t.Context(), first.ID, func(j *queue.Job) error {
		j.State, j.MovedTo = queue.StateFailed, "failed/a.jpg"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := dir.Move(t.Context(), "failed/a.jpg", "inbox/a.jpg"); err != nil {
		t.Fatal(err)
	}
	if n := take(); n != 1 {
		t.Fatalf("dropped again: took %d", n)
	}
	if got := jobs.Enqueued(); len(got) != 2 || got[1].ID != first.ID+"-2" {
		t.Errorf("jobs %v", got)
	}
	// A finished job whose source could not be moved keeps its file from
	// being taken again.
	if _, err := jobs.Update(t.Context(), first.ID+"-2", func(j *queue.Job) error {
		j.State, j.ErrorCode = queue.StatePosted, "source_not_moved"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := take(); n != 0 {
		t.Errorf("a file whose job could not move it was taken again")
	}
}

func TestInboxRunStopsWithoutWaitingForScheduledChecks(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in := newTestInbox(t, dir, jobs, time.Hour) // a check an hour away
	put(t, root, "inbox/a.jpg", "jpeg", 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- in.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		in.mu.Lock()
		n := len(in.pending)
		in.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first scan scheduled no check")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	// Run must not wait for a check scheduled an hour ahead.
	if err := testutil.Receive(t, done, 10*time.Second, "Run to return"); err != nil {
		t.Errorf("Run: %v", err)
	}
}
