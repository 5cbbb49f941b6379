package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// repeatedParts is a multipart body of n parts named name, empty, made as
// it is read (3 million of them are 250 MB).
type repeatedParts struct {
	part, end []byte
	left      int
	buf       []byte
	read      atomic.Int64
}

const testBoundary = "b0undary"

func newRepeatedParts(name string, n int) *repeatedParts {
	return &repeatedParts{
		part: []byte("--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n\r\n"),
		end:  []byte("--" + testBoundary + "--\r\n"),
		left: n,
	}
}

func (r *repeatedParts) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.left >= 0 {
		if r.left == 0 {
			r.buf = append(r.buf, r.end...)
		} else {
			r.buf = append(r.buf, r.part...)
		}
		r.left--
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.read.Add(int64(n))
	return n, nil
}

// TestFormCounts: empty fields cost no bytes but are counted; so are
// participants, in all three body types.
func TestFormCounts(t *testing.T) {
	ta := newTestAPI(t, APIConfig{MaxFormFields: 50, MaxParticipants: 20})

	t.Run("3 million empty participants fields", func(t *testing.T) {
		body := newRepeatedParts("participants", 3_000_000)
		r := ta.do(t, http.MethodPost, "/v1/statuses", "multipart/form-data; boundary="+testBoundary, body, "")
		if e := r.apiError(t); r.status != http.StatusBadRequest || e.Error.Code != codeTooManyFields || e.Error.Field != "participants" {
			t.Errorf("%d %s", r.status, r.body)
		}
		// Refused at the 51st field: the server read little of the 250 MB.
		n := body.read.Load()
		if n > 8<<20 {
			t.Errorf("the server read %d bytes of the body before refusing it", n)
		}
		t.Logf("refused after reading %d of the body's %d bytes", n, 3_000_000*len(body.part))
	})

	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("7900123%04d@c.us", i)
	}
	js, _ := json.Marshal(map[string]any{"text": "hi", "backgroundColor": "#228B22", "participants": many})
	for _, tt := range []struct {
		name string
		body func() (io.Reader, string)
		code string
	}{
		{"multipart, one field", func() (io.Reader, string) {
			return multipartBody(field("text", "hi"), field("participants", strings.Join(many, ",")))
		}, codeTooManyPartic},
		{"multipart, a field each", func() (io.Reader, string) {
			return multipartBody(append([]formPart{field("text", "hi")}, repeatField("participants", many[0], 21)...)...)
		}, codeTooManyPartic},
		{"json", func() (io.Reader, string) { return bytes.NewReader(js), "application/json" }, codeTooManyPartic},
		{"urlencoded, many fields", func() (io.Reader, string) {
			return strings.NewReader("text=hi" + strings.Repeat("&participants=", 60)), "application/x-www-form-urlencoded"
		}, codeTooManyFields},
		{"urlencoded, participants", func() (io.Reader, string) {
			return strings.NewReader("text=hi&participants=" + strings.Join(many, ",")), "application/x-www-form-urlencoded"
		}, codeTooManyPartic},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := tt.body()
			r := ta.do(t, http.MethodPost, "/v1/statuses", ct, body, "")
			if e := r.apiError(t); r.status != http.StatusBadRequest || e.Error.Code != tt.code {
				t.Errorf("%d %s, want 400 %s", r.status, r.body, tt.code)
			}
		})
	}
	if n := len(ta.jobs.Enqueued()); n != 0 {
		t.Errorf("%d jobs queued", n)
	}
	ta.spoolEmpty(t)
}

// TestLowDisk: below MinFreeBytes, /readyz names the disk and POST answers
// 507 without reading the body; with room again both are fine.
func TestLowDisk(t *testing.T) {
	var free atomic.Int64
	free.Store(100 << 20)
	ta := newTestAPI(t, APIConfig{MinFreeBytes: 200 << 20, FreeSpace: func(string) (int64, error) { return free.Load(), nil }})

	r := ta.do(t, http.MethodGet, "/readyz", "", nil, "")
	var ready struct {
		Status string   `json:"status"`
		Failed []string `json:"failed"`
	}
	if err := json.Unmarshal(r.body, &ready); err != nil || r.status != http.StatusServiceUnavailable || strings.Join(ready.Failed, ",") != "disk" {
		t.Errorf("/readyz with a full disk: %d %s", r.status, r.body)
	}
	if !strings.Contains(ta.logs.String(), "bytes free") {
		t.Errorf("the log does not say why /readyz failed:\n%s", ta.logs.String())
	}
	r = ta.upload(t, "", filePart("a.jpg", jpegBytes(64<<10)))
	if e := r.apiError(t); r.status != http.StatusInsufficientStorage || e.Error.Code != codeNoSpace || r.header.Get("Retry-After") == "" {
		t.Errorf("upload with a full disk: %d %s", r.status, r.body)
	}
	ta.spoolEmpty(t)

	free.Store(300 << 20)
	if r := ta.do(t, http.MethodGet, "/readyz", "", nil, ""); r.status != http.StatusOK {
		t.Errorf("/readyz with room: %d %s", r.status, r.body)
	}
	if r := ta.upload(t, "", filePart("a.jpg", jpegBytes(64<<10))); r.status != http.StatusAccepted {
		t.Errorf("upload with room: %d %s", r.status, r.body)
	}
}

// serveAPI serves the API as serve does (API.Server) on a loopback port.
func serveAPI(t *testing.T, cfg APIConfig) (*testAPI, string) {
	t.Helper()
	ta := unservedAPI(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, limited := ta.api.Server(ln)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(limited) // ends with ErrServerClosed when the test closes it
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return ta, ln.Addr().String()
}

// trickle sends an upload's headers and the first 16 KiB of a JPEG at
// once (past the sniff: the spool file exists), then the rest of size
// bytes in chunks of chunk every pause, and returns the answer's status
// and body.
func trickle(t *testing.T, addr string, size, chunk int, pause time.Duration) (int, string) {
	t.Helper()
	return testutil.TrickleUpload(t, addr, "a.jpg", jpegBytes(size), 16<<10, chunk, pause, time.Minute)
}

// TestSlowBody: an upload whose body comes slower than MinRate is cut with
// 408 too_slow, its spool file removed; one that keeps the rate goes
// through however long it takes.
func TestSlowBody(t *testing.T) {
	ta, addr := serveAPI(t, APIConfig{HTTP: HTTPConfig{MinRate: 4 << 10, MinRateWindow: 300 * time.Millisecond}})

	// 100 bytes every 100 ms: 1 KiB a second against 4 KiB in 300 ms.
	status, body := trickle(t, addr, 1<<20, 100, 100*time.Millisecond)
	if status != http.StatusRequestTimeout || !strings.Contains(body, `"code":"too_slow"`) {
		t.Errorf("slow body: %d %s", status, body)
	}
	ta.spoolEmpty(t)
	if n := len(ta.jobs.Enqueued()); n != 0 {
		t.Errorf("%d jobs queued", n)
	}

	// 64 KiB every 20 ms, for more than three windows.
	status, body = trickle(t, addr, 4<<20, 64<<10, 20*time.Millisecond)
	if status != http.StatusAccepted {
		t.Errorf("steady body: %d %s", status, body)
	}
}

// TestSlowHeaders: a client that never finishes its headers is cut after
// ReadHeaderTimeout; one that sends nothing after a request, after
// IdleTimeout.
func TestSlowHeaders(t *testing.T) {
	_, addr := serveAPI(t, APIConfig{HTTP: HTTPConfig{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}})
	for _, tt := range []struct{ name, send string }{
		{"headers", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"idle", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, c) // until the server closes
			if err != nil {
				t.Errorf("the server did not close the connection: %v", err)
			}
		})
	}
}

// TestConnCap: with every place taken by idle connections, a new client
// is still served (the longest idle connection is closed for it), and
// never more than MaxConns are open.
func TestConnCap(t *testing.T) {
	const capConns, idle = 10, 40
	ta, addr := serveAPI(t, APIConfig{HTTP: HTTPConfig{MaxConns: capConns}})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range idle {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 { // half silent, half idle after a request
			fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		}
	}
	client := &http.Client{Timeout: time.Minute}
	for range 3 {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz: %d", resp.StatusCode)
		}
		client.CloseIdleConnections()
	}
	if r := uploadTo(t, client, addr, jpegBytes(256<<10)); r != http.StatusAccepted {
		t.Errorf("upload with idle connections at the cap: %d", r)
	}
	if n := len(ta.jobs.Enqueued()); n != 1 {
		t.Errorf("%d jobs queued, want 1", n)
	}
	// The oldest idle connections were closed by the server.
	closed := 0
	for _, c := range conns {
		if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, c); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
		}
	}
	if closed < idle-capConns {
		t.Errorf("%d of %d idle connections were closed, want at least %d", closed, idle, idle-capConns)
	}
}

func uploadTo(t *testing.T, client *http.Client, addr string, data []byte) int {
	t.Helper()
	body, ct := multipartBody(filePart("a.jpg", data))
	defer body.Close()
	resp, err := client.Post("http://"+addr+"/v1/statuses", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // draining only: the status is the answer
	return resp.StatusCode
}
