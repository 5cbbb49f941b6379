package hostiletest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Setup writes the hostile inputs into a folder of their own, with the
// file they name (a copy of sampleMP4, which an unprotected ffmpeg would
// happily prepare and post) in another, watched. big is as for Write.
func Setup(tb testing.TB, sampleMP4 string, big bool) ([]Case, *Watch) {
	tb.Helper()
	dir := tb.TempDir()
	in, secret := filepath.Join(dir, "in"), filepath.Join(dir, "secret")
	for _, d := range []string{in, secret} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	data, err := os.ReadFile(sampleMP4)
	if err != nil {
		tb.Fatal(err)
	}
	target := filepath.Join(secret, "other-team.mp4")
	if err := os.WriteFile(target, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	cases, err := Write(in, target, sampleMP4, big)
	if err != nil {
		tb.Fatal(err)
	}
	return cases, watchOpens(tb, target)
}

// Watch reports every open or read of one file, through inotify: the
// kernel queues the event before the open returns, so reading the queue
// after a run tells, without timing, whether the run touched the file.
type Watch struct{ fd int }

// watchOpens watches path until the test ends; without inotify the test is
// skipped.
func watchOpens(tb testing.TB, path string) *Watch {
	tb.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		tb.Skipf("inotify: %v", err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN|unix.IN_ACCESS); err != nil {
		tb.Fatalf("inotify watch %s: %v", path, err)
	}
	return &Watch{fd}
}

// Touched reports whether the file was opened or read since the last call.
func (w *Watch) Touched(tb testing.TB) bool {
	tb.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Read(w.fd, buf)
	if errors.Is(err, unix.EAGAIN) {
		return false
	}
	if err != nil {
		tb.Fatalf("reading inotify events: %v", err)
	}
	return n > 0
}
