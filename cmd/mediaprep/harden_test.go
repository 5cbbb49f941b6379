package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// These tests attack a running serve as a client that holds what it can
// (connections, slow bodies, a full disk) would; limits are set small by
// their settings so that they run quickly, with wide margins.

// freshClient makes one request per connection: an idle connection kept
// by the test could be closed by the server's cap.
var freshClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}

// getStatus answers GET url's status, failing the test on a network error.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := freshClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // draining only: the status is the answer
	resp.Body.Close()
	return resp.StatusCode
}

// spoolFiles lists the upload spool files of every serve of the cluster.
func (c *cluster) spoolFiles() []string {
	files, _ := filepath.Glob(filepath.Join(c.data, "tmp", "run-*", "uploads", "*"))
	return files
}

// trickleUpload sends a multipart upload of a JPEG's first bytes and size
// bytes in all over a raw connection: the first 64 KiB at once (past the
// sniff, so that the spool file exists), then chunk bytes every pause. It
// returns the answer's status and body.
func trickleUpload(t *testing.T, addr string, size, chunk int, pause time.Duration) (int, string) {
	t.Helper()
	head, err := os.ReadFile(sample("sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	copy(data, head[:min(len(head), 4096)])
	return testutil.TrickleUpload(t, addr, "slow.jpg", data, 64<<10, chunk, pause, 2*time.Minute)
}

// TestServeSlowAndIdleClients: 200 connections left idle or silent against
// a cap of 50, a client that never finishes its headers and an upload body
// trickling below the minimum rate do not keep /healthz or a normal upload
// from being served; the slow body gets 408 too_slow and leaves no spool
// file.
func TestServeSlowAndIdleClients(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	_, base := c.serve("serve", []string{
		"MEDIAPREP_HTTP_MAX_CONNS=50", "MEDIAPREP_HTTP_READ_HEADER_TIMEOUT=2s",
		"MEDIAPREP_HTTP_MIN_RATE=16KiB", "MEDIAPREP_HTTP_MIN_RATE_WINDOW=1s",
	}, "--workers", "0")
	addr := strings.TrimPrefix(base, "http://")

	var idle []net.Conn
	defer func() {
		for _, conn := range idle {
			conn.Close()
		}
	}()
	for i := range 200 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		idle = append(idle, conn)
		if i%2 == 0 { // one request, then idle; the others say nothing
			fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		}
	}
	for range 3 {
		if code := getStatus(t, base+"/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz with 200 idle connections: %d", code)
		}
	}
	code, body, _ := uploadWith(t, freshClient, base, sample("sample.jpg"))
	if code != http.StatusAccepted {
		t.Fatalf("upload with 200 idle connections: %d %v", code, body)
	}

	// Slowloris: headers that never end are cut after the header timeout.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Slow: a", addr)
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("a client with unfinished headers was not cut: %v", err)
	}

	// A body at 200 bytes every 100 ms (2 KB/s) against 16 KiB a second.
	status, answer := trickleUpload(t, addr, 1<<20, 200, 100*time.Millisecond)
	if status != http.StatusRequestTimeout || !strings.Contains(answer, `"too_slow"`) {
		t.Errorf("slow body: %d %s", status, answer)
	}
	if files := c.spoolFiles(); len(files) > 0 {
		t.Errorf("spool files left after the slow body: %v", files)
	}
	// A steady body over several windows goes through: 256 KiB every 50 ms.
	if status, answer := trickleUpload(t, addr, 12<<20, 256<<10, 50*time.Millisecond); status != http.StatusAccepted {
		t.Errorf("steady body: %d %s", status, answer)
	}
	if code := getStatus(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz at the end: %d", code)
	}
}

// uploadWith posts file as multipart with client.
func uploadWith(t *testing.T, client *http.Client, base, file string) (int, map[string]any, http.Header) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", filepath.Base(file))
		if err == nil {
			_, err = io.Copy(fw, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := client.Post(base+"/v1/statuses", mw.FormDataContentType(), pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body) // a body that is not JSON leaves body nil: the callers check it
	return resp.StatusCode, body, resp.Header
}

// mountDataDir mounts a tmpfs of size over the cluster's data dir, or
// skips the test when this process may not mount (not root): the low-disk
// logic is then covered through the FreeSpace seam (service) only.
func (c *cluster) mountDataDir(size string) {
	c.t.Helper()
	if err := syscall.Mount("tmpfs", c.data, "tmpfs", 0, "size="+size); err != nil {
		c.t.Skipf("cannot mount a tmpfs over the data dir (%v); the disk-full answers are tested in service through FreeSpace", err)
	}
	c.t.Cleanup(func() {
		if err := syscall.Unmount(c.data, syscall.MNT_DETACH); err != nil {
			c.t.Errorf("unmounting the data dir: %v", err)
		}
	})
}

// fillDisk writes a file in dir until the disk has at most leave bytes
// free, and returns its path.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		free := int64(st.Bavail) * int64(st.Bsize)
		if free <= leave {
			return p
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), max(free-leave, 512))]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return p
			}
			t.Fatal(err)
		}
	}
}

// TestServeDiskFull: with the data dir's disk below MEDIAPREP_MIN_FREE_DISK
// /readyz names the disk and uploads answer 507 insufficient_storage, as
// does an upload that fills the disk while it is spooled, leaving nothing
// behind; once space is back both work again without a
// restart. A serve that meets a full disk at its queue exits non-zero (for
// its supervisor), and the job accepted before is posted after a restart.
func TestServeDiskFull(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	c.mountDataDir("64m")
	p, base := c.serve("serve", []string{"MEDIAPREP_MIN_FREE_DISK=16MiB"}, "--workers", "0")

	filler := fillDisk(t, c.data, 4<<20)
	code, b, _ := request(t, "GET", base+"/readyz", "", "", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(b), `"disk"`) {
		t.Errorf("/readyz on a full disk: %d %s", code, b)
	}
	code, body, hdr := upload(t, base, "", sample("sample.jpg"), nil)
	if e, _ := body["error"].(map[string]any); code != http.StatusInsufficientStorage || e["code"] != "insufficient_storage" || hdr.Get("Retry-After") == "" {
		t.Errorf("upload on a full disk: %d %v", code, body)
	}
	code, b, _ = request(t, "POST", base+"/v1/statuses", "", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22"}`))
	if code != http.StatusInsufficientStorage {
		t.Errorf("text status on a full disk: %d %s", code, b)
	}
	if files := c.spoolFiles(); len(files) > 0 {
		t.Errorf("spool files left: %v", files)
	}
	if !strings.Contains(p.out.String(), "bytes free") {
		t.Error("the log does not say why /readyz failed")
	}

	// Above the minimum, but the upload is bigger than what is left: the
	// disk fills while it is spooled.
	os.Remove(filler)
	filler = fillDisk(t, c.data, 24<<20)
	big := filepath.Join(t.TempDir(), "big.jpg")
	head, err := os.ReadFile(sample("sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, append(head, make([]byte, 40<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body, _ = upload(t, base, "", big, nil)
	if e, _ := body["error"].(map[string]any); code != http.StatusInsufficientStorage || e["code"] != "insufficient_storage" {
		t.Errorf("upload that fills the disk: %d %v", code, body)
	}
	if files := c.spoolFiles(); len(files) > 0 {
		t.Errorf("spool files left after the disk filled: %v", files)
	}

	os.Remove(filler)
	if code, b, _ := request(t, "GET", base+"/readyz", "", "", nil); code != http.StatusOK {
		t.Errorf("/readyz with room again: %d %s", code, b)
	}
	code, body, _ = upload(t, base, "", sample("sample.jpg"), nil)
	if code != http.StatusAccepted {
		t.Fatalf("upload with room again: %d %v", code, body)
	}
	id := body["id"].(string)
	p.stop(t)

	// The disk fills while no serve runs: the next one cannot open its
	// queue and exits non-zero.
	filler = fillDisk(t, c.data, 0)
	full := c.start("serve-full", []string{"MEDIAPREP_MIN_FREE_DISK=1"}, "serve", "--listen", "127.0.0.1:0", "--workers", "1")
	select {
	case <-full.done:
	case <-time.After(time.Minute):
		t.Fatal("serve on a full disk did not exit")
	}
	if full.err == nil || !strings.Contains(full.out.String(), "no space left") {
		t.Errorf("serve on a full disk: %v\n%s", full.err, lastLines(full.out.String(), 10))
	}
	os.Remove(filler)
	_, base = c.serve("serve-again", nil, "--workers", "1")
	if j := waitFinal(t, base, "", id, 2*time.Minute); j["state"] != "posted" {
		t.Errorf("the job accepted before the disk filled: %v", j)
	}
}

// TestServeSymlinksAndTypes: symbolic links dropped into the inbox folder
// (to a file or a folder outside the data dir, or to the queue's files) are
// never taken, and /media/ follows none out of statuses/, whatever the
// path tricks; a file of an unknown type there is served as
// application/octet-stream. A real drop next to the links is posted.
func TestServeSymlinksAndTypes(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	p, base := c.serve("serve", nil, "--workers", "1")

	outside := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(outside, "secret.jpg"))
	for _, dir := range []string{"inbox", "statuses"} {
		if err := os.MkdirAll(filepath.Join(c.data, dir), 0o750); err != nil {
			c.t.Fatal(err)
		}
	}
	link := func(target, at string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(c.data, filepath.FromSlash(at))); err != nil {
			t.Fatal(err)
		}
	}
	link(filepath.Join(outside, "secret.jpg"), "inbox/evil.jpg")
	link(outside, "inbox/evildir")
	link("../nats", "inbox/queue")
	link("../nats", "statuses/queue")
	link(filepath.Join(outside, "secret.jpg"), "statuses/leak.jpg")
	c.drop("inbox/real.jpg", sample("sample.jpg"), nil)
	testutil.WaitFor(t, 90*time.Second, "the real drop to be processed", func() bool {
		return len(c.keys("processed/")) == 1
	})
	// Two more listings pass: the links were seen and left alone.
	time.Sleep(2 * time.Second)
	if got := c.keys("processed/"); len(got) != 1 || got[0] != "processed/real.jpg" {
		t.Errorf("processed/ = %v, want only real.jpg", got)
	}
	if got := c.keys("failed/"); len(got) != 0 {
		t.Errorf("failed/ = %v", got)
	}
	if strings.Contains(p.out.String(), "evil") || strings.Contains(p.out.String(), "inbox/queue") {
		t.Errorf("serve took a link:\n%s", lastLines(p.out.String(), 20))
	}
	for _, at := range []string{"inbox/evil.jpg", "inbox/evildir", "inbox/queue"} {
		if fi, err := os.Lstat(filepath.Join(c.data, filepath.FromSlash(at))); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer the link dropped: %v", at, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "secret.jpg")); err != nil {
		t.Errorf("the file outside was moved: %v", err)
	}

	// /media/: links out of statuses/, other folders, and path tricks.
	natsFiles, _ := filepath.Glob(filepath.Join(c.data, "nats", "jetstream", "*", "streams", "*", "meta.inf"))
	if len(natsFiles) == 0 {
		t.Fatal("no queue file to aim at")
	}
	rel, _ := filepath.Rel(filepath.Join(c.data, "nats"), natsFiles[0])
	for _, path := range []string{
		"/media/statuses/leak.jpg",
		"/media/statuses/queue/" + filepath.ToSlash(rel),
		"/media/inbox/real.jpg",
		"/media/processed/real.jpg",
		"/media/statuses/../processed/real.jpg",
		"/media/statuses/%2e%2e/processed/real.jpg",
		"/media/statuses/..%2fprocessed/real.jpg",
		"/media/statuses%2f..%2fprocessed/real.jpg",
		"/media/.meta/statuses",
	} {
		resp, err := freshClient.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || len(body) > 1000 {
			t.Errorf("GET %s = %s, %d bytes", path, resp.Status, len(body))
		}
	}

	// A file of an unknown type under statuses/ is served as bytes.
	html := []byte("<html><script>alert(document.cookie)</script></html>")
	for _, name := range []string{"page.html", "x.xyz"} {
		if err := os.WriteFile(filepath.Join(c.data, "statuses", name), html, 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err := freshClient.Get(base + "/media/statuses/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/octet-stream" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /media/statuses/%s = %s, Content-Type %q", name, resp.Status, ct)
		}
	}
}
