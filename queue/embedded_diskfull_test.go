package queue

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes at a new folder, or skips the
// test when this process may not (not root, no mount namespace rights).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): the disk-full path is tested through seams only", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting the tmpfs: %v", err)
		}
	})
	return dir
}

// fill writes zeros to path until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	small := make([]byte, 512)
	for {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
}

// TestEmbeddedDiskFull: on a full disk nats-server keeps failing the
// stream's writes even after space is back (measured: Enqueue still times
// out), so Lost is closed; a restart on the same store, with room again,
// takes jobs and still has the one stored before.
func TestEmbeddedDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "32m")
	store := filepath.Join(dir, "nats")
	e, err := StartEmbedded(store, "", testLogger(t), WithWatch(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	q, nc := openQueue(t, e, Config{})
	before := enqueue(t, q, Job{Source: "uploads/a/a.jpg"})
	fill(t, filepath.Join(dir, "fill"))
	for i := 0; i < 100; i++ {
		if _, err := q.Enqueue(t.Context(), Job{Source: "b", Name: string(make([]byte, 4000))}); err != nil {
			break
		}
	}
	select {
	case <-e.Lost():
	case <-time.After(patience):
		t.Fatal("Lost is not closed after writes found the disk full")
	}
	os.Remove(filepath.Join(dir, "fill"))
	nc.Close()
	e.Shutdown()

	e2, err := StartEmbedded(store, "", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Shutdown()
	q2, _ := openQueue(t, e2, Config{})
	if j, err := q2.Get(t.Context(), before.ID); err != nil || j.Source != "uploads/a/a.jpg" {
		t.Errorf("the job stored before the disk filled: %+v, %v", j, err)
	}
	if _, err := q2.Enqueue(t.Context(), Job{Source: "uploads/c/c.jpg"}); err != nil {
		t.Errorf("Enqueue after the restart: %v", err)
	}
	select {
	case <-e2.Lost():
		t.Error("Lost after the restart")
	default:
	}
}
