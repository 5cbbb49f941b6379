package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// jpegHead starts like a JPEG as far as the sniff can tell.
var jpegHead = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")

// jpegBytes returns n bytes that sniff as a JPEG.
func jpegBytes(n int) []byte {
	b := bytes.Repeat([]byte{0x5a}, n)
	copy(b, jpegHead)
	return b
}

// fakeBucket keeps what PutFile reads from the spooled file: the bytes of
// small files, the size and digest of all.
type fakeBucket struct {
	mu      sync.Mutex
	objects map[string]fakeObject
	puts    int
	deleted []string
	putErr  error
	pingErr error
	// entered, when set, gets a value as PutFile starts; PutFile then
	// waits for release.
	entered chan struct{}
	release chan struct{}
}

type fakeObject struct {
	data   []byte // when under 1 MiB
	size   int64
	digest [sha256.Size]byte
	obj    storage.Object
}

var _ bucket = (*fakeBucket)(nil)

func newFakeBucket() *fakeBucket { return &fakeBucket{objects: map[string]fakeObject{}} }

func (b *fakeBucket) PutFile(ctx context.Context, key, path string, obj storage.Object) (storage.Object, error) {
	if b.entered != nil {
		b.entered <- struct{}{}
		<-b.release
	}
	if obj.ContentType == "" { // as *storage.Store and *storage.Dir
		return storage.Object{}, fmt.Errorf("storage: put %s: no content type", key)
	}
	b.mu.Lock()
	b.puts++
	err := b.putErr
	b.mu.Unlock()
	if err != nil {
		return storage.Object{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return storage.Object{}, err
	}
	defer f.Close()
	h := sha256.New()
	var small bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &limitedBuffer{&small, 1 << 20}), f)
	if err != nil {
		return storage.Object{}, err
	}
	o := fakeObject{size: n, obj: obj}
	if n < 1<<20 {
		o.data = small.Bytes()
	}
	h.Sum(o.digest[:0])
	b.mu.Lock()
	b.objects[key] = o
	b.mu.Unlock()
	obj.Key, obj.Size = key, n
	return obj, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *fakeBucket) Delete(ctx context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deleted = append(b.deleted, key)
	delete(b.objects, key)
	return nil
}

func (b *fakeBucket) Ping(ctx context.Context) error { return b.pingErr }

func (b *fakeBucket) state() (puts int, objects map[string]fakeObject) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.puts, maps(b.objects)
}

func maps(m map[string]fakeObject) map[string]fakeObject {
	out := make(map[string]fakeObject, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var errUnused = errors.New("not used by the API")

func (b *fakeBucket) Key(digest, slug, ext string) string { return "" }
func (b *fakeBucket) Lookup(ctx context.Context, key string) (storage.Object, bool, error) {
	return storage.Object{}, false, errUnused
}
func (b *fakeBucket) Put(ctx context.Context, key string, body io.Reader, obj storage.Object) (storage.Object, error) {
	return storage.Object{}, errUnused
}
func (b *fakeBucket) Link(ctx context.Context, key string) (storage.Link, error) {
	return storage.Link{}, errUnused
}
func (b *fakeBucket) List(ctx context.Context, prefix string) ([]storage.Object, error) {
	return nil, errUnused
}
func (b *fakeBucket) Download(ctx context.Context, key, dst string) (storage.Object, error) {
	return storage.Object{}, errUnused
}
func (b *fakeBucket) Move(ctx context.Context, from, to string) error { return errUnused }

type fakeJobs struct {
	mu         sync.Mutex
	jobs       map[string]queue.Job
	enqueued   []queue.Job
	depth      int
	depthErr   error
	enqueueErr error
	pingErr    error
}

var _ APIJobs = (*fakeJobs)(nil)

func newFakeJobs() *fakeJobs { return &fakeJobs{jobs: map[string]queue.Job{}} }

func (q *fakeJobs) Enqueue(ctx context.Context, j queue.Job) (queue.Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.enqueueErr != nil {
		return queue.Job{}, q.enqueueErr
	}
	j.State = queue.StateQueued
	q.jobs[j.ID] = j
	q.enqueued = append(q.enqueued, j)
	return j, nil
}

func (q *fakeJobs) Get(ctx context.Context, id string) (queue.Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.jobs[id]
	if !ok {
		return queue.Job{}, queue.ErrNotFound
	}
	return j, nil
}

func (q *fakeJobs) Depth(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.depth, q.depthErr
}

func (q *fakeJobs) Ping(ctx context.Context) error { return q.pingErr }

func (q *fakeJobs) queued() []queue.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.enqueued)
}

// testAPI is an API over fakes, served by an httptest server.
type testAPI struct {
	api    *API
	srv    *httptest.Server
	bucket *fakeBucket
	jobs   *fakeJobs
	spool  string
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestAPI(t *testing.T, cfg APIConfig) *testAPI {
	t.Helper()
	ta := &testAPI{bucket: newFakeBucket(), jobs: newFakeJobs(), spool: t.TempDir(), logs: &syncBuffer{}}
	cfg.SpoolDir = ta.spool
	cfg.Logger = slog.New(slog.NewTextHandler(ta.logs, nil))
	api, err := NewAPI(cfg, ta.jobs, ta.bucket)
	if err != nil {
		t.Fatal(err)
	}
	ta.api = api
	ta.srv = httptest.NewServer(api.Handler())
	t.Cleanup(ta.srv.Close)
	return ta
}

// spoolEmpty fails the test when an upload was left in SpoolDir.
func (ta *testAPI) spoolEmpty(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir(ta.spool)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		t.Errorf("SpoolDir holds %d files after the request, want none", len(ents))
	}
}

// formPart is a field, or the file when filename or body is set.
type formPart struct {
	name, value string
	filename    string
	body        io.Reader
}

func field(name, value string) formPart { return formPart{name: name, value: value} }

func filePart(filename string, body []byte) formPart {
	return formPart{name: "file", filename: filename, body: bytes.NewReader(body)}
}

// multipartBody streams parts through a pipe, as a client sending a large
// file would.
func multipartBody(parts ...formPart) (io.ReadCloser, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			if p.body == nil {
				if err := mw.WriteField(p.name, p.value); err != nil {
					pw.CloseWithError(err)
					return
				}
				continue
			}
			w, err := mw.CreateFormFile(p.name, p.filename)
			if err == nil {
				_, err = io.Copy(w, p.body)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	return pr, mw.FormDataContentType()
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"error"`
}

func (r response) apiError(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e
}

func (ta *testAPI) do(t *testing.T, method, path, contentType string, body io.Reader, key string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ta.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := ta.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (ta *testAPI) upload(t *testing.T, key string, parts ...formPart) response {
	t.Helper()
	body, ct := multipartBody(parts...)
	defer body.Close()
	return ta.do(t, http.MethodPost, "/v1/statuses", ct, body, key)
}

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
			jobs := ta.jobs.queued()
			if len(jobs) != 1 {
				t.Fatalf("%d jobs enqueued, want 1", len(jobs))
			}
			j := jobs[0]
			wantKey := "uploads/" + got.ID + "/Holiday_photo_1.jpg"
			want := queue.Job{
				ID: got.ID, State: queue.StateQueued, Origin: queue.OriginUpload, Source: wantKey,
				Name: "Holiday photo (1).jpg", Size: int64(len(data)),
				Options: queue.Options{
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

func TestAuth(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Keys: []string{"first-key", "second-key"}, Metrics: NewMetrics()})
	for _, tt := range []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"no key", "", 401, `Bearer realm="mediaprep"`},
		{"wrong key", "Bearer nope", 401, `Bearer realm="mediaprep", error="invalid_token"`},
		{"a prefix of a key", "Bearer first", 401, `Bearer realm="mediaprep", error="invalid_token"`},
		{"not bearer", "Basic Zmlyc3Qta2V5", 401, `Bearer realm="mediaprep"`},
		{"the second key", "Bearer second-key", 404, ""},
		{"scheme in lower case", "bearer first-key", 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ta.srv.URL+"/v1/statuses/0123456789abcdef", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := ta.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, b, tt.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status == 401 {
				if e := (response{body: b}).apiError(t); e.Error.Code != "unauthorized" {
					t.Errorf("code %q", e.Error.Code)
				}
			}
		})
	}
	t.Run("upload without a key stores nothing", func(t *testing.T) {
		resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(10<<10)))
		if resp.status != 401 {
			t.Fatalf("status %d", resp.status)
		}
		if puts, _ := ta.bucket.state(); puts != 0 {
			t.Errorf("%d PutFile calls", puts)
		}
		ta.spoolEmpty(t)
	})
	t.Run("upload with the second key", func(t *testing.T) {
		if resp := ta.upload(t, "second-key", filePart("a.jpg", jpegBytes(10<<10))); resp.status != 202 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	})
	for _, p := range []string{"/healthz", "/readyz"} {
		t.Run(p+" needs no key", func(t *testing.T) {
			if resp := ta.do(t, http.MethodGet, p, "", nil, ""); resp.status != 200 {
				t.Errorf("status %d", resp.status)
			}
		})
	}
	t.Run("/metrics needs a key", func(t *testing.T) {
		if resp := ta.do(t, http.MethodGet, "/metrics", "", nil, ""); resp.status != 401 {
			t.Errorf("without: status %d", resp.status)
		}
		if resp := ta.do(t, http.MethodGet, "/metrics", "", nil, "first-key"); resp.status != 200 {
			t.Errorf("with: status %d", resp.status)
		}
	})
	t.Run("keys never logged", func(t *testing.T) {
		logs := ta.logs.String()
		for _, s := range []string{"first-key", "second-key", "Zmlyc3Qta2V5", "Authorization"} {
			if strings.Contains(logs, s) {
				t.Errorf("the log holds %q:\n%s", s, logs)
			}
		}
	})
}

func TestNoKeysNoAuth(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Metrics: NewMetrics()})
	if resp := ta.do(t, http.MethodGet, "/metrics", "", nil, ""); resp.status != 200 {
		t.Errorf("/metrics: status %d", resp.status)
	}
	if resp := ta.do(t, http.MethodGet, "/v1/statuses/abc", "", nil, ""); resp.status != 404 {
		t.Errorf("GET job: status %d", resp.status)
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
			if n := len(ta.jobs.queued()); n != 0 {
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
			if n := len(ta.jobs.queued()); n != 0 {
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
		ta.jobs.depth = 5
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
		ta.jobs.depth = 4
		if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000))); resp.status != 202 {
			t.Errorf("under MaxQueued: status %d", resp.status)
		}
	})
	t.Run("Enqueue says full", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{})
		ta.jobs.enqueueErr = fmt.Errorf("stream: %w", queue.ErrQueueFull)
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
		ta.jobs.enqueueErr = errors.New("nats: timeout")
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
	if n := len(ta.jobs.queued()); n != 0 {
		t.Errorf("%d jobs enqueued", n)
	}
	ta.spoolEmpty(t)
	if !strings.Contains(ta.logs.String(), "connection refused") {
		t.Errorf("the cause is not logged:\n%s", ta.logs)
	}
}

func TestTextStatus(t *testing.T) {
	want := queue.Options{Text: "Hello 👋", Font: "SERIF", BackgroundColor: "#228B22", Participants: []string{"79001234567@c.us"}}
	form := url.Values{"text": {want.Text}, "font": {want.Font}, "backgroundColor": {want.BackgroundColor}, "participants": {"79001234567@c.us"}}
	tests := []struct {
		name, contentType string
		body              func() io.Reader
	}{
		{"json", "application/json", func() io.Reader {
			return strings.NewReader(`{"text":"Hello 👋","font":"SERIF","backgroundColor":"#228B22","participants":["79001234567@c.us"]}`)
		}},
		{"urlencoded", "application/x-www-form-urlencoded", func() io.Reader { return strings.NewReader(form.Encode()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			resp := ta.do(t, http.MethodPost, "/v1/statuses", tt.contentType, tt.body(), "")
			if resp.status != 202 {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			checkTextJob(t, ta, resp, want)
		})
	}
	t.Run("multipart", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{})
		resp := ta.upload(t, "", field("text", want.Text), field("font", want.Font), field("backgroundColor", want.BackgroundColor), field("participants", "79001234567@c.us"))
		if resp.status != 202 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		checkTextJob(t, ta, resp, want)
	})

	bad := []struct {
		name, body, field string
	}{
		{"no text", `{"backgroundColor":"#000000"}`, "text"},
		{"blank text", `{"text":" \n ","backgroundColor":"#000000"}`, "text"},
		{"text too long", `{"text":"` + strings.Repeat("ж", 501) + `","backgroundColor":"#000000"}`, "text"},
		{"no color", `{"text":"hi"}`, "backgroundColor"},
		{"white", `{"text":"hi","backgroundColor":"#ffffff"}`, "backgroundColor"},
		{"bad font", `{"text":"hi","backgroundColor":"#000000","font":"COMIC_SANS"}`, "font"},
		{"bad participant", `{"text":"hi","backgroundColor":"#000000","participants":["me"]}`, "participants"},
		{"unknown field", `{"text":"hi","backgroundColor":"#000000","caption":"x"}`, ""},
		{"not JSON", `text=hi`, ""},
	}
	for _, tt := range bad {
		t.Run("invalid "+tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			resp := ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(tt.body), "")
			if resp.status != 400 {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			if e := resp.apiError(t); e.Error.Code != "invalid_request" || e.Error.Field != tt.field {
				t.Errorf("error %+v, want field %q", e.Error, tt.field)
			}
			if n := len(ta.jobs.queued()); n != 0 {
				t.Errorf("%d jobs enqueued", n)
			}
		})
	}
}

func checkTextJob(t *testing.T, ta *testAPI, resp response, want queue.Options) {
	t.Helper()
	jobs := ta.jobs.queued()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs enqueued", len(jobs))
	}
	j := jobs[0]
	if j.Source != "" || j.Origin != queue.OriginUpload || fmt.Sprint(j.Options) != fmt.Sprint(want) {
		t.Errorf("job %+v, want options %+v and no source", j, want)
	}
	if resp.header.Get("Location") != "/v1/statuses/"+j.ID {
		t.Errorf("Location %q for job %s", resp.header.Get("Location"), j.ID)
	}
	if puts, _ := ta.bucket.state(); puts != 0 {
		t.Errorf("%d PutFile calls for a text status", puts)
	}
}

func TestGetStatus(t *testing.T) {
	ta := newTestAPI(t, APIConfig{})
	ta.jobs.jobs["00112233aabbccdd"] = queue.Job{
		ID: "00112233aabbccdd", State: queue.StatePosted, Origin: queue.OriginUpload,
		URL: "https://media.example/x.jpg", IDMessage: "BAE5F4886F6F2D05",
	}
	ta.jobs.jobs["feedfacefeedface"] = queue.Job{ID: "feedfacefeedface", State: queue.StateFailed, ErrorCode: "unsupported_type", Error: "not a picture"}

	resp := ta.do(t, http.MethodGet, "/v1/statuses/00112233aabbccdd", "", nil, "")
	var j queue.Job
	if resp.status != 200 || json.Unmarshal(resp.body, &j) != nil || j.State != queue.StatePosted || j.IDMessage != "BAE5F4886F6F2D05" || j.URL == "" {
		t.Errorf("posted job: status %d %s", resp.status, resp.body)
	}
	resp = ta.do(t, http.MethodGet, "/v1/statuses/feedfacefeedface", "", nil, "")
	if resp.status != 200 || !strings.Contains(string(resp.body), `"errorCode":"unsupported_type"`) {
		t.Errorf("failed job: status %d %s", resp.status, resp.body)
	}
	for _, id := range []string{"0000000000000000", "a.b", "%2A"} {
		resp = ta.do(t, http.MethodGet, "/v1/statuses/"+id, "", nil, "")
		if resp.status != 404 || resp.apiError(t).Error.Code != "not_found" {
			t.Errorf("%s: status %d %s", id, resp.status, resp.body)
		}
	}

	down := &erroringJobs{fakeJobs: newFakeJobs(), err: errors.New("nats: no responders")}
	api, err := NewAPI(APIConfig{SpoolDir: t.TempDir()}, down, newFakeBucket())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/statuses/00112233aabbccdd", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("queue down: status %d %s", rec.Code, rec.Body)
	}
}

type erroringJobs struct {
	*fakeJobs
	err error
}

func (e *erroringJobs) Get(ctx context.Context, id string) (queue.Job, error) {
	return queue.Job{}, e.err
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name             string
		queueErr, bktErr error
		status           int
		failed           []string
	}{
		{"all up", nil, nil, 200, nil},
		{"storage down", nil, errors.New("no route"), 503, []string{"storage"}},
		{"queue down", errors.New("nats: timeout"), nil, 503, []string{"queue"}},
		{"both down", errors.New("x"), errors.New("y"), 503, []string{"queue", "storage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			ta.jobs.pingErr, ta.bucket.pingErr = tt.queueErr, tt.bktErr
			resp := ta.do(t, http.MethodGet, "/readyz", "", nil, "")
			if resp.status != tt.status {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			var got struct {
				Status string
				Failed []string
			}
			if err := json.Unmarshal(resp.body, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Failed, tt.failed) {
				t.Errorf("failed %v, want %v", got.Failed, tt.failed)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	media := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "media "+r.URL.Path) // a failed write shows as a wrong body in the test
	})
	ta := newTestAPI(t, APIConfig{Keys: []string{"k"}, Media: media})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/healthz", 200, ""},
		{"PUT", "/v1/statuses/0011", 405, "method_not_allowed"},
		{"GET", "/v1/statuses", 405, "method_not_allowed"},
		{"POST", "/healthz", 405, "method_not_allowed"},
		{"GET", "/nope", 404, "not_found"},
		{"GET", "/metrics", 404, "not_found"}, // no Metrics configured
		{"GET", "/media/a/b.jpg", 200, ""},
	}
	for _, tt := range tests {
		resp := ta.do(t, tt.method, tt.path, "", nil, "")
		if resp.status != tt.status {
			t.Errorf("%s %s: status %d %s, want %d", tt.method, tt.path, resp.status, resp.body, tt.status)
			continue
		}
		if tt.code != "" && resp.apiError(t).Error.Code != tt.code {
			t.Errorf("%s %s: body %s, want code %s", tt.method, tt.path, resp.body, tt.code)
		}
		if tt.status == 405 && resp.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
	if resp := ta.do(t, "GET", "/media/a/b.jpg", "", nil, ""); string(resp.body) != "media /media/a/b.jpg" {
		t.Errorf("media body %q", resp.body)
	}
	if resp := ta.do(t, "GET", "/healthz", "", nil, ""); strings.TrimSpace(string(resp.body)) != `{"status":"ok"}` {
		t.Errorf("healthz body %q", resp.body)
	}
}

func TestRequestLog(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Keys: []string{"s3cret-key"}})
	resp := ta.upload(t, "s3cret-key", filePart("a.jpg", jpegBytes(1000)))
	if resp.status != 202 {
		t.Fatalf("status %d", resp.status)
	}
	var got struct{ ID string }
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatal(err)
	}
	logs := ta.logs.String()
	for _, want := range []string{"method=POST", "path=/v1/statuses", "status=202", "duration=", "job=" + got.ID} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "s3cret") {
		t.Errorf("the key is in the log:\n%s", logs)
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

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr string
		keys []string
		ok   bool
	}{
		{"127.0.0.1:8080", nil, true},
		{"127.1.2.3:8080", nil, true},
		{"[::1]:8080", nil, true},
		{"localhost:8080", nil, true},
		{":8080", nil, false},
		{"0.0.0.0:8080", nil, false},
		{"[::]:8080", nil, false},
		{"192.168.1.10:8080", nil, false},
		{"example.com:80", nil, false},
		{"no-port", nil, false},
		{":8080", []string{"k"}, true},
		{"0.0.0.0:8080", []string{"k"}, true},
	}
	for _, tt := range tests {
		err := CheckListen(tt.addr, tt.keys)
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q, %v) = %v, want ok %v", tt.addr, tt.keys, err, tt.ok)
		}
	}
}

func TestNewAPIValidates(t *testing.T) {
	_, err := NewAPI(APIConfig{Keys: []string{"ok", ""}, MaxUploadBytes: -1, UploadPrefix: "/abs"}, newFakeJobs(), newFakeBucket())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"API key 2", "MaxUploadBytes", "SpoolDir", "UploadPrefix"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not mention %s", err, want)
		}
	}
}

func TestFileNames(t *testing.T) {
	tests := []struct{ in, clean, key string }{
		{"photo.jpg", "photo.jpg", "photo.jpg"},
		{`C:\Users\me\Видео отпуск.mp4`, "Видео отпуск.mp4", "upload.mp4"},
		{"Отпуск", "Отпуск", "upload"},
		{"x.tar.gz", "x.tar.gz", "x.tar.gz"},
		{"résumé (final).PNG", "résumé (final).PNG", "r_sum_final.PNG"},
		{"../../etc/passwd", "passwd", "passwd"},
		{".hidden.png", ".hidden.png", "hidden.png"},
		{"..", "upload", "upload"},
		{"", "upload", "upload"},
		{"a\x00b\nc\xff.jpg", "abc.jpg", "abc.jpg"},
		{"a b&c?d#e.jpg", "a b&c?d#e.jpg", "a_b_c_d_e.jpg"},
		{strings.Repeat("x", 300) + ".jpeg", strings.Repeat("x", 250) + ".jpeg", strings.Repeat("x", 95) + ".jpeg"},
	}
	for _, tt := range tests {
		clean := cleanFileName(tt.in)
		if clean != tt.clean {
			t.Errorf("cleanFileName(%q) = %q, want %q", tt.in, clean, tt.clean)
		}
		if key := keyName(clean); key != tt.key {
			t.Errorf("keyName(%q) = %q, want %q", clean, key, tt.key)
		}
	}
}

// TestOpenAPIDocument keeps api/openapi.yaml in step with the routes and
// error codes.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"/v1/statuses:", "/v1/statuses/{id}:", "/healthz:", "/readyz:", "/metrics:", "/media/{path}:",
		codeUnauthorized, codeTooLarge, codeUnsupportedType, codeInvalidRequest, codeNotFound,
		codeQueueFull, codeBusy, codeUnavailable, codeMethodNotAllowed,
		codeTooSlow, codeTooManyFields, codeTooManyPartic, codeNoSpace, codeTooFarAhead, codeConflict, codeNotImplemented, "delete:", "[queue, storage, disk]",
		"Retry-After", "scheme: bearer",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("api/openapi.yaml does not mention %q", want)
		}
	}
	for name := range formFields {
		if !strings.Contains(string(doc), "\n        "+name+":") {
			t.Errorf("api/openapi.yaml: UploadForm lacks the field %s", name)
		}
	}
}

// repeatField is n copies of one field.
func repeatField(name, value string, n int) []formPart {
	parts := make([]formPart, n)
	for i := range parts {
		parts[i] = field(name, value)
	}
	return parts
}
