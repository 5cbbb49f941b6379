// Package testutil holds the scaffolding the tests of several packages
// share: a buffer safe for concurrent writers, waits for a condition
// (WaitFor) and for a value on a channel (Receive), one HTTP request with
// its whole answer (Request, ReadAnswer), an upload trickled slowly
// (TrickleUpload), and the skips of tests that need ffmpeg or a browser
// (under -short too).
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writes: a logger's or a
// process's output read by the test while it runs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor polls cond until it holds, failing the test when it still does
// not after limit. It looks again after 10 ms, then less and less often,
// at most every 100 ms.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	pause := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %s", what, limit)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// NeedFFmpeg skips the test under -short, or when ffmpeg or ffprobe is
// not installed: it runs them.
func NeedFFmpeg(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ffmpeg: skipped under -short")
	}
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (make test installs it)", p)
		}
	}
}

// NeedChromium returns the path of a headless browser, or skips the test
// under -short or when none is installed.
func NeedChromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs chromium: skipped under -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (make test installs it)")
	return ""
}

// WantErrorMentions fails the test unless err is nil when want is empty,
// or else an error whose text mentions every part of want: the check of a
// table of Validate cases.
func WantErrorMentions(t testing.TB, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
}

// Request makes one HTTP request with c: with body's Content-Type and a
// bearer key when they are not empty. It returns the answer's status,
// header and whole body; a request that gets no answer fails t.
func Request(ctx context.Context, t testing.TB, c *http.Client, method, url, contentType, key string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// ReadAnswer reads one HTTP answer from c, waiting at most limit, and
// returns its status and body; no answer fails t.
func ReadAnswer(t testing.TB, c net.Conn, limit time.Duration) (int, string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(limit)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TrickleUpload posts data as the file name of a multipart upload to
// POST /v1/statuses at addr, over a connection of its own: the headers
// and the first first bytes at once, then chunk bytes every pause, until
// all is sent or the answer comes. It returns the answer's status and
// body, waiting for it at most limit.
func TrickleUpload(t testing.TB, addr, name string, data []byte, first, chunk int, pause, limit time.Duration) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const boundary = "trickle"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name + "\"\r\nContent-Type: image/jpeg\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	fmt.Fprintf(c, "POST /v1/statuses HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n%s",
		addr, boundary, len(head)+len(data)+len(tail), head)
	answered := make(chan struct{})
	defer close(answered)
	go func() {
		n := min(first, len(data))
		for len(data) > 0 {
			if _, err := c.Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
			n = min(chunk, len(data))
			select {
			case <-answered:
				return
			case <-time.After(pause):
			}
		}
		_, _ = io.WriteString(c, tail) // a failed write shows as no answer
	}()
	return ReadAnswer(t, c, limit)
}

// Receive waits at most limit for a value from ch and returns it; waiting
// longer fails t, naming what it waited for.
func Receive[T any](t testing.TB, ch <-chan T, limit time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(limit):
		t.Fatalf("gave up waiting for %s after %s", what, limit)
		panic("unreachable")
	}
}
