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
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
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

// fakeJobs is the queue in memory.
type fakeJobs = memqueue.Jobs

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
func (b *fakeBucket) ListPage(ctx context.Context, prefix, after string, limit int) (storage.Page, error) {
	return storage.Page{}, errUnused
}
func (b *fakeBucket) Download(ctx context.Context, key, dst string) (storage.Object, error) {
	return storage.Object{}, errUnused
}
func (b *fakeBucket) Move(ctx context.Context, from, to string) error { return errUnused }

// testAPI is an API over fakes, served by an httptest server.
type testAPI struct {
	api    *API
	srv    *httptest.Server
	bucket *fakeBucket
	jobs   *fakeJobs
	spool  string
	logs   *testutil.SyncBuffer
}

func newTestAPI(t *testing.T, cfg APIConfig) *testAPI {
	t.Helper()
	ta := unservedAPI(t, cfg)
	ta.srv = httptest.NewServer(ta.api.Handler())
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

// unservedAPI is an API over a fake bucket and an in-memory queue, with
// a spool folder of its own and its log in ta.logs; nothing serves it yet.
func unservedAPI(t *testing.T, cfg APIConfig) *testAPI {
	t.Helper()
	ta := &testAPI{bucket: newFakeBucket(), jobs: memqueue.New(), spool: t.TempDir(), logs: &testutil.SyncBuffer{}}
	cfg.SpoolDir = ta.spool
	cfg.Logger = slog.New(slog.NewTextHandler(ta.logs, nil))
	api, err := NewAPI(cfg, ta.jobs, ta.bucket)
	if err != nil {
		t.Fatal(err)
	}
	ta.api = api
	return ta
}

func (ta *testAPI) do(t *testing.T, method, path, contentType string, body io.Reader, key string) response {
	t.Helper()
	code, hdr, b := testutil.Request(t.Context(), t, ta.srv.Client(), method, ta.srv.URL+path, contentType, key, body)
	return response{code, hdr, b}
}

func (ta *testAPI) upload(t *testing.T, key string, parts ...formPart) response {
	t.Helper()
	body, ct := multipartBody(parts...)
	defer body.Close()
	return ta.do(t, http.MethodPost, "/v1/statuses", ct, body, key)
}

func TestNewAPIValidates(t *testing.T) {
	_, err := NewAPI(APIConfig{Keys: []string{"ok", ""}, MaxUploadBytes: -1, UploadPrefix: "/abs"}, memqueue.New(), newFakeBucket())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"API key 2", "MaxUploadBytes", "SpoolDir", "UploadPrefix"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not mention %s", err, want)
		}
	}
}
