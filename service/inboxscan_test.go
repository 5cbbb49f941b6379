package service

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
)

// TestInboxScanIsBounded: with more files than MaxScan, each scan looks at
// MaxScan of them, the next goes on where it stopped, and once at the end
// the scans start over: every file becomes one job, none twice.
func TestInboxScanIsBounded(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	logs := &testutil.SyncBuffer{}
	in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: jobs, Settle: testSettle, MaxScan: 10, TempDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		put(t, root, fmt.Sprintf("inbox/%02d.jpg", i), "jpeg", time.Hour)
	}

	// First round: each file is seen once (not settled yet).
	for i := range 3 {
		if n := scanOnce(t, in); n != 0 {
			t.Fatalf("scan %d took %d at first sight", i, n)
		}
	}
	for _, left := range []string{"left=15", "left=5"} {
		if !strings.Contains(logs.String(), left) {
			t.Errorf("no log line with %s in\n%s", left, logs)
		}
	}
	if c := strings.Count(logs.String(), "scan stopped at its limit"); c != 2 {
		t.Errorf("%d lines about the limit after three scans, want 2:\n%s", c, logs)
	}

	// Second round: the same three pages, each now settled.
	time.Sleep(testSettle + 20*time.Millisecond)
	for i, want := range []int{10, 10, 5, 0, 0, 0} {
		if n := scanOnce(t, in); n != want {
			t.Errorf("scan %d of the second round took %d, want %d", i, n, want)
		}
	}
	seen := map[string]bool{}
	for _, j := range jobs.Enqueued() {
		if seen[j.Source] {
			t.Errorf("%s enqueued twice", j.Source)
		}
		seen[j.Source] = true
	}
	if len(seen) != 25 {
		t.Errorf("%d files enqueued, want 25", len(seen))
	}
}
