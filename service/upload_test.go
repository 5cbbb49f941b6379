package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mediaprep/mediaprep/queue"
)

func TestUploadAccepted(t *testing.T) {
	data := jpegBytes(300 << 10)
	fields := []formPart{
		field("caption", "Summer 🌞"),
		field("participants", "79001234567@c.us, 79007654321@c.us"),
		field("participants", "441234567890@c.us"),
		field("crop", "smart"),
		field("videoFit", "pad"),
		field("backgroundColor", "#112233"),
	}
	tests := []struct {
		name string
		at   int // where the file part goes among the fields
	}{
		{"fields before the file", len(fields)},
		{"fields after the file", 0},
		{"fields around the file", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			parts := slices.Insert(slices.Clone(fields), tt.at, filePart("../Holiday photo (1).jpg", data))
			resp := ta.upload(t, "", parts...)
			if resp.status != http.StatusAccepted {
				t.Fatalf("status %d %s, want 202", resp.status, resp.body)
			}
			var got struct{ ID, State string }
			if err := json.Unmarshal(resp.body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.ID) != 16 || strings.Trim(got.ID, "0123456789abcdef") != "" || got.State != "queued" {
				t.Errorf("body %s: want a 16 hex digit id and state queued", resp.body)
			}
			if loc := resp.header.Get("Location"); loc != "/v1/statuses/"+got.ID {
				t.Errorf("Location %q", loc)
			}
			jobs := ta.jobs.Enqueued()
			if len(jobs) != 1 {
				t.Fatalf("%d jobs enqueued, want 1", len(jobs))
			}
			j := jobs[0]
			wantKey := "uploads/" + got.ID + "/holiday-photo-1.jpg"
			want := queue.Job{
				ID: got.ID, State: queue.StateQueued, Origin: queue.OriginUpload, Source: wantKey,
				Name: "Holiday photo (1).jpg", Size: int64(len(data)),
				Request: queue.Request{
					Caption:         "Summer 🌞",
					Participants:    []string{"79001234567@c.us", "79007654321@c.us", "441234567890@c.us"},
					BackgroundColor: "#112233", Crop: "smart", VideoFit: "pad",
				},
			}
			if fmt.Sprintf("%+v", j) != fmt.Sprintf("%+v", want) {
				t.Errorf("job\n got %+v\nwant %+v", j, want)
			}
			_, objects := ta.bucket.state()
			o, ok := objects[wantKey]
			if !ok {
				t.Fatalf("nothing stored under %s; have %v", wantKey, objects)
			}
			if !bytes.Equal(o.data, data) {
				t.Errorf("stored %d bytes differ from the %d uploaded", len(o.data), len(data))
			}
			if o.obj.FileName != "Holiday photo (1).jpg" || o.obj.Size != int64(len(data)) {
				t.Errorf("stored object %+v", o.obj)
			}
			ta.spoolEmpty(t)
		})
	}
}

func TestTooLarge(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"at the limit", limit, 202},
		{"one byte over", limit + 1, 413},
		{"far over", 3 * limit, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{MaxUploadBytes: limit})
			resp := ta.upload(t, "", field("caption", "hi"), filePart("big.jpg", jpegBytes(tt.size)))
			if resp.status != tt.status {
				t.Fatalf("status %d %s, want %d", resp.status, resp.body, tt.status)
			}
			ta.spoolEmpty(t)
			if tt.status == 202 {
				return
			}
			if e := resp.apiError(t); e.Error.Code != "too_large" || e.Error.Field != "file" {
				t.Errorf("error %+v", e.Error)
			}
			if puts, _ := ta.bucket.state(); puts != 0 {
				t.Errorf("%d PutFile calls", puts)
			}
			if n := len(ta.jobs.Enqueued()); n != 0 {
				t.Errorf("%d jobs enqueued", n)
			}
		})
	}
	t.Run("Content-Length over the limit", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{MaxUploadBytes: limit})
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		w, _ := mw.CreateFormFile("file", "big.jpg")
		if _, err := w.Write(jpegBytes(limit + maxTextBody + 10)); err != nil {
			t.Fatal(err)
		}
		mw.Close()
		resp := ta.do(t, http.MethodPost, "/v1/statuses", mw.FormDataContentType(), &buf, "")
		if resp.status != 413 {
			t.Fatalf("status %d", resp.status)
		}
		ta.spoolEmpty(t)
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestUnsupportedTypeAnsweredEarly(t *testing.T) {
	const declared = 50 << 20
	tests := []struct {
		name, head, format string
	}{
		{"pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"},
		{"zip", "PK\x03\x04\x14\x00\x00\x00\x08\x00", "ZIP"},
		{"plain text", "just some words, nothing to show", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			// The multipart framing by hand: the file part's body is the
			// header then 50 MB that are never looked at.
			const boundary = "b0undary"
			pre := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhello\r\n" +
				"--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.jpg\"\r\n" +
				"Content-Type: image/jpeg\r\n\r\n" + tt.head
			post := "\r\n--" + boundary + "--\r\n"
			body := &countingReader{r: io.MultiReader(strings.NewReader(pre), io.LimitReader(zeros{}, declared), strings.NewReader(post))}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/statuses", body)
			req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
			rec := httptest.NewRecorder()
			ta.api.Handler().ServeHTTP(rec, req)

			if rec.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d %s, want 415", rec.Code, rec.Body)
			}
			e := response{body: rec.Body.Bytes()}.apiError(t)
			if e.Error.Code != "unsupported_type" || e.Error.Field != "file" || !strings.Contains(e.Error.Message, tt.format) {
				t.Errorf("error %+v, want unsupported_type naming %q", e.Error, tt.format)
			}
			if read := body.n.Load(); read > 1<<20 {
				t.Errorf("the handler read %d bytes of a %d byte body before answering", read, declared)
			}
			if puts, _ := ta.bucket.state(); puts != 0 {
				t.Errorf("%d PutFile calls", puts)
			}
			ta.spoolEmpty(t)
		})
	}
	t.Run("over the network", func(t *testing.T) {
		// The client is still sending when the answer comes; the server
		// closes the connection, so the client may see the answer or a
		// broken pipe: either way far less than the body went out.
		ta := newTestAPI(t, APIConfig{})
		src := &countingReader{r: io.MultiReader(strings.NewReader("%PDF-1.7\n"), io.LimitReader(zeros{}, declared))}
		body, ct := multipartBody(formPart{name: "file", filename: "doc.pdf", body: src})
		defer body.Close()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ta.srv.URL+"/v1/statuses", body)
		req.Header.Set("Content-Type", ct)
		resp, err := ta.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 415 {
				t.Errorf("status %d, want 415", resp.StatusCode)
			}
		}
		body.Close()
		sent := src.n.Load()
		t.Logf("the client sent %d KB of %d MB (answer: %v)", sent>>10, declared>>20, err == nil)
		if sent > declared/2 {
			t.Errorf("the client got to send %d of %d bytes", sent, declared)
		}
		if puts, _ := ta.bucket.state(); puts != 0 {
			t.Errorf("%d PutFile calls", puts)
		}
	})
}

func TestInvalidRequest(t *testing.T) {
	jpeg := jpegBytes(8 << 10)
	tests := []struct {
		name  string
		parts []formPart
		field string
	}{
		{"bad crop", []formPart{field("crop", "diagonal"), filePart("a.jpg", jpeg)}, "crop"},
		{"bad videoFit", []formPart{filePart("a.jpg", jpeg), field("videoFit", "stretch")}, "videoFit"},
		{"bad participant", []formPart{field("participants", "79001234567@c.us,+7 900 123"), filePart("a.jpg", jpeg)}, "participants"},
		{"group chat as participant", []formPart{filePart("a.jpg", jpeg), field("participants", "120363@g.us")}, "participants"},
		{"caption too long", []formPart{field("caption", strings.Repeat("é", 1025)), filePart("a.jpg", jpeg)}, "caption"},
		{"caption not UTF-8", []formPart{field("caption", "caf\xe9"), filePart("a.jpg", jpeg)}, "caption"},
		{"bad color", []formPart{field("backgroundColor", "red"), filePart("a.jpg", jpeg)}, "backgroundColor"},
		{"empty file", []formPart{field("caption", "x"), filePart("a.jpg", nil)}, "file"},
		{"no file", []formPart{field("caption", "x")}, "file"},
		{"two files", []formPart{filePart("a.jpg", jpeg), filePart("b.jpg", jpeg)}, "file"},
		{"unknown field", []formPart{field("captoin", "x"), filePart("a.jpg", jpeg)}, "captoin"},
		{"field twice", []formPart{field("caption", "x"), field("caption", "y"), filePart("a.jpg", jpeg)}, "caption"},
		{"field over 64 KiB", []formPart{field("caption", strings.Repeat("a", 64<<10+1)), filePart("a.jpg", jpeg)}, "caption"},
		{"text with a file", []formPart{field("text", "hello"), filePart("a.jpg", jpeg)}, "text"},
		{"fields over 1 MiB in all", append(repeatField("participants", strings.Repeat("79001234567@c.us,", 3500), 20), filePart("a.jpg", jpeg)), "participants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			resp := ta.upload(t, "", tt.parts...)
			if resp.status != 400 {
				t.Fatalf("status %d %s, want 400", resp.status, resp.body)
			}
			if e := resp.apiError(t); e.Error.Code != "invalid_request" || e.Error.Field != tt.field || e.Error.Message == "" {
				t.Errorf("error %+v, want invalid_request naming %s", e.Error, tt.field)
			}
			if puts, _ := ta.bucket.state(); puts != 0 {
				t.Errorf("%d PutFile calls", puts)
			}
			if n := len(ta.jobs.Enqueued()); n != 0 {
				t.Errorf("%d jobs enqueued", n)
			}
			ta.spoolEmpty(t)
		})
	}
	t.Run("no Content-Type", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{})
		resp := ta.do(t, http.MethodPost, "/v1/statuses", "", bytes.NewReader(jpeg), "")
		if resp.status != 415 || resp.apiError(t).Error.Code != "unsupported_type" {
			t.Errorf("status %d %s", resp.status, resp.body)
		}
	})
}

func TestQueueFull(t *testing.T) {
	t.Run("depth at MaxQueued", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{MaxQueued: 5})
		ta.jobs.QueueDepth = 5
		resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000)))
		if resp.status != 429 || resp.apiError(t).Error.Code != "queue_full" {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		if resp.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if puts, _ := ta.bucket.state(); puts != 0 {
			t.Errorf("%d PutFile calls", puts)
		}
		ta.jobs.QueueDepth = 4
		if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000))); resp.status != 202 {
			t.Errorf("under MaxQueued: status %d", resp.status)
		}
	})
	t.Run("scheduled jobs not counted", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{MaxQueued: 5, Counts: stateCounts{queue.StateScheduled: 3, queue.StateQueued: 9}})
		ta.jobs.QueueDepth = 7 // 3 of them wait for their publish time
		if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000))); resp.status != 202 {
			t.Errorf("4 jobs to run now, 3 scheduled, MaxQueued 5: status %d %s", resp.status, resp.body)
		}
		ta.jobs.QueueDepth = 8
		if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000))); resp.status != 429 || resp.apiError(t).Error.Code != "queue_full" {
			t.Errorf("5 jobs to run now, 3 scheduled, MaxQueued 5: status %d %s", resp.status, resp.body)
		}
	})
	t.Run("Enqueue says full", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{})
		ta.jobs.EnqueueErr = fmt.Errorf("stream: %w", queue.ErrQueueFull)
		resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000)))
		if resp.status != 429 || resp.apiError(t).Error.Code != "queue_full" || resp.header.Get("Retry-After") == "" {
			t.Fatalf("status %d %v %s", resp.status, resp.header, resp.body)
		}
		_, objects := ta.bucket.state()
		if len(objects) != 0 || len(ta.bucket.deleted) != 1 {
			t.Errorf("the upload was not taken back: objects %v, deleted %v", objects, ta.bucket.deleted)
		}
		ta.spoolEmpty(t)
	})
	t.Run("queue down", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{})
		ta.jobs.EnqueueErr = errors.New("nats: timeout")
		resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000)))
		if resp.status != 503 || resp.apiError(t).Error.Code != "unavailable" || resp.header.Get("Retry-After") == "" {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		if len(ta.bucket.deleted) != 1 {
			t.Errorf("deleted %v", ta.bucket.deleted)
		}
		if strings.Contains(string(resp.body), "nats") {
			t.Errorf("the cause shows in the answer: %s", resp.body)
		}
	})
}

func TestBusy(t *testing.T) {
	ta := newTestAPI(t, APIConfig{MaxConcurrentUploads: 2})
	ta.bucket.entered = make(chan struct{})
	ta.bucket.release = make(chan struct{})
	results := make(chan response, 2)
	for range 2 {
		go func() {
			body, ct := multipartBody(filePart("a.jpg", jpegBytes(5000)))
			defer body.Close()
			req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/v1/statuses", body)
			req.Header.Set("Content-Type", ct)
			resp, err := ta.srv.Client().Do(req)
			if err != nil {
				results <- response{status: -1, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results <- response{resp.StatusCode, resp.Header, b}
		}()
	}
	<-ta.bucket.entered
	<-ta.bucket.entered // both uploads in flight, held in PutFile

	resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(5000)))
	if resp.status != 503 || resp.apiError(t).Error.Code != "busy" || resp.header.Get("Retry-After") == "" {
		t.Errorf("third upload: status %d %v %s, want 503 busy with Retry-After", resp.status, resp.header, resp.body)
	}
	close(ta.bucket.release)
	for range 2 {
		if r := <-results; r.status != 202 {
			t.Errorf("held upload: status %d %s", r.status, r.body)
		}
	}
	go func() { <-ta.bucket.entered }() // release is closed: PutFile goes on
	if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(5000))); resp.status != 202 {
		t.Errorf("after the others: status %d %s", resp.status, resp.body)
	}
}

func TestStorageDown(t *testing.T) {
	ta := newTestAPI(t, APIConfig{})
	ta.bucket.putErr = errors.New("dial tcp 10.0.0.1:9000: connection refused")
	resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000)))
	if resp.status != 503 || resp.apiError(t).Error.Code != "unavailable" || resp.header.Get("Retry-After") == "" {
		t.Fatalf("status %d %v %s", resp.status, resp.header, resp.body)
	}
	if n := len(ta.jobs.Enqueued()); n != 0 {
		t.Errorf("%d jobs enqueued", n)
	}
	ta.spoolEmpty(t)
	if !strings.Contains(ta.logs.String(), "connection refused") {
		t.Errorf("the cause is not logged:\n%s", ta.logs)
	}
}

// TestUploadMemory streams 100 MB through the handler: it must not be
// held in memory.
func TestUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 100 MB")
	}
	const size = 100 << 20
	ta := newTestAPI(t, APIConfig{})
	src := io.MultiReader(bytes.NewReader(jpegHead), io.LimitReader(zeros{}, size-int64(len(jpegHead))))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp := ta.upload(t, "", formPart{name: "file", filename: "big.jpg", body: src})
	runtime.ReadMemStats(&after)

	if resp.status != 202 {
		t.Fatalf("status %d %s", resp.status, resp.body)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d MB upload allocated %d KB (client and server)", size>>20, alloc>>10)
	if alloc > 16<<20 {
		t.Errorf("a %d MB upload allocated %d MB", size>>20, alloc>>20)
	}
	_, objects := ta.bucket.state()
	for _, o := range objects {
		if o.size != size {
			t.Errorf("stored %d bytes, want %d", o.size, size)
		}
	}
	ta.spoolEmpty(t)
}

// repeatField is n copies of one field.
func repeatField(name, value string, n int) []formPart {
	parts := make([]formPart, n)
	for i := range parts {
		parts[i] = field(name, value)
	}
	return parts
}

// stateCounts is a JobCounter of fixed counts.
type stateCounts map[queue.State]int

func (c stateCounts) Count(s queue.State) int { return c[s] }
