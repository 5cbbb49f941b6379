package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/storage"
)

func newDir(t *testing.T) *storage.Dir {
	t.Helper()
	d, err := storage.NewDir(storage.DirConfig{Root: t.TempDir(), PublicBaseURL: "https://media.example.com/app/"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newDirAt is a Dir in a temporary folder, and that folder (root); its
// links point nowhere.
func newDirAt(t *testing.T) (*storage.Dir, string) {
	t.Helper()
	root := t.TempDir()
	d, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return d, root
}

// servedDir is a Dir in a temporary folder (root) whose MediaHandler
// serves its PublicBaseURL on loopback until the test ends.
func servedDir(t *testing.T) (d *storage.Dir, root string, srv *httptest.Server) {
	t.Helper()
	srv = httptest.NewUnstartedServer(nil)
	root = t.TempDir()
	d, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://" + srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = d.MediaHandler()
	srv.Start()
	t.Cleanup(srv.Close)
	return d, root, srv
}

// files returns every file under root, hidden ones included, relative and
// with slashes.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	// WalkDir fails only through the callback, which skips what it cannot read.
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestDirConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  storage.DirConfig
		want []string // substrings of the error; none means valid
	}{
		{"root and base", storage.DirConfig{Root: "/data", PublicBaseURL: "http://localhost:8080"}, nil},
		{"no root", storage.DirConfig{PublicBaseURL: "http://localhost:8080"}, []string{"Root"}},
		{"no base", storage.DirConfig{Root: "/data"}, []string{"PublicBaseURL"}},
		{"base with query", storage.DirConfig{Root: "/data", PublicBaseURL: "http://h/?a=1"}, []string{"PublicBaseURL"}},
		{"hidden prefix", storage.DirConfig{Root: "/data", PublicBaseURL: "http://h", Prefix: ".meta"}, []string{"Prefix"}},
		{"prefix with slash", storage.DirConfig{Root: "/data", PublicBaseURL: "http://h", Prefix: "statuses/"}, []string{"Prefix"}},
		{"everything wrong", storage.DirConfig{Prefix: "a/../b"}, []string{"Root", "Prefix", "PublicBaseURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.WantErrorMentions(t, tt.cfg.Validate(), tt.want...)
		})
	}
}

func TestDirPutLookupLinkDelete(t *testing.T) {
	d := newDir(t)
	if err := d.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	key := d.Key("0123456789abcdef0123", "beach", ".jpg")
	if key != "statuses/0123456789abcdef-beach.jpg" {
		t.Errorf("Key = %q", key)
	}
	if _, ok, err := d.Lookup(t.Context(), key); ok || err != nil {
		t.Fatalf("Lookup before Put = %v, %v", ok, err)
	}
	data := randomBytes(100 << 10)
	put, err := d.Put(t.Context(), key, io.MultiReader(bytes.NewReader(data)), storage.Object{
		ContentType: "image/jpeg", Size: -1, FileName: "пляж.jpg", Metadata: map[string]string{"Kind": "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	obj, ok, err := d.Lookup(t.Context(), key)
	if err != nil || !ok {
		t.Fatalf("Lookup = %v, %v", ok, err)
	}
	if obj.Key != key || obj.ContentType != "image/jpeg" || obj.Size != int64(len(data)) || obj.FileName != "пляж.jpg" ||
		obj.Metadata["kind"] != "test" || obj.ETag == "" || obj.LastModified.IsZero() {
		t.Errorf("Lookup = %+v", obj)
	}
	if put.ETag != obj.ETag || put.Size != obj.Size {
		t.Errorf("Put returned %+v, Lookup %+v", put, obj)
	}
	p, _ := d.Path(key)
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Error("the file does not hold what was put")
	}

	for key, want := range map[string]string{
		key:                          "https://media.example.com/app/media/statuses/0123456789abcdef-beach.jpg",
		"statuses/a b+c/пляж #1.mp4": "https://media.example.com/app/media/statuses/a%20b%2Bc/%D0%BF%D0%BB%D1%8F%D0%B6%20%231.mp4",
	} {
		link, err := d.Link(t.Context(), key)
		if err != nil || link.URL != want || !link.Expires.IsZero() {
			t.Errorf("Link(%q) = %+v, %v; want %s", key, link, err, want)
		}
	}

	if err := d.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.Lookup(t.Context(), key); ok || err != nil {
		t.Errorf("Lookup after Delete = %v, %v", ok, err)
	}
	if err := d.Delete(t.Context(), key); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if f := files(t, mustPath(t, d, "")); len(f) != 0 {
		t.Errorf("files left after Delete: %q", f)
	}
}

// mustPath is d.Path(key), or the root for "".
func mustPath(t *testing.T, d *storage.Dir, key string) string {
	t.Helper()
	if key == "" {
		return d.String()
	}
	p, err := d.Path(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDirRefusesEscapingKeys(t *testing.T) {
	d := newDir(t)
	for _, key := range []string{
		"", "/etc/passwd", "..", "../x", "statuses/../../x", "statuses/./x", "a//b", "a/", "a\\..\\b", "a\x00b",
		".meta/statuses/x.jpg.json", ".meta", "statuses/.mediaprep-1.part", ".hidden",
	} {
		if _, err := d.Path(key); !errors.Is(err, storage.ErrBadKey) || storage.CodeOf(err) != storage.CodeBadKey {
			t.Errorf("Path(%q) = %v, want ErrBadKey", key, err)
		}
		if _, err := d.Put(t.Context(), key, strings.NewReader("x"), storage.Object{ContentType: "text/plain", Size: 1}); !errors.Is(err, storage.ErrBadKey) {
			t.Errorf("Put(%q) = %v", key, err)
		}
		if _, _, err := d.Lookup(t.Context(), key); !errors.Is(err, storage.ErrBadKey) {
			t.Errorf("Lookup(%q) = %v", key, err)
		}
		if _, err := d.Link(t.Context(), key); !errors.Is(err, storage.ErrBadKey) {
			t.Errorf("Link(%q) = %v", key, err)
		}
		if err := d.Delete(t.Context(), key); !errors.Is(err, storage.ErrBadKey) {
			t.Errorf("Delete(%q) = %v", key, err)
		}
		if _, err := d.Download(t.Context(), key, filepath.Join(t.TempDir(), "x")); !errors.Is(err, storage.ErrBadKey) {
			t.Errorf("Download(%q) = %v", key, err)
		}
	}
	for _, key := range []string{"statuses/a.jpg", "inbox/sub/файл 1.mp4", "a..b", "a/b.c/d"} {
		if _, err := d.Path(key); err != nil {
			t.Errorf("Path(%q) = %v", key, err)
		}
	}
	if _, err := d.List(t.Context(), "../"); !errors.Is(err, storage.ErrBadKey) {
		t.Errorf("List(../) = %v", err)
	}
	if _, err := d.List(t.Context(), ".meta/"); !errors.Is(err, storage.ErrBadKey) {
		t.Errorf("List(.meta/) = %v", err)
	}
	if f := files(t, d.String()); len(f) != 0 {
		t.Errorf("files written: %q", f)
	}
}

func TestDirList(t *testing.T) {
	d := newDir(t)
	put := func(key string) {
		t.Helper()
		if _, err := d.Put(t.Context(), key, strings.NewReader(key), storage.Object{ContentType: "text/plain", Size: int64(len(key))}); err != nil {
			t.Fatal(err)
		}
	}
	drop := func(rel string) { // a file written by hand
		t.Helper()
		p := filepath.Join(d.String(), filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("by hand"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"inbox/b.jpg", "inbox/a/b.jpg", "inbox/a-c.jpg", "inboxes/x.jpg", "statuses/s.mp4"} {
		put(k)
	}
	drop("inbox/dropped.mp4")
	drop("inbox/.hidden.jpg")
	drop("inbox/.mediaprep-123.part")
	drop("inbox/.cache/x.jpg")
	if err := os.Mkdir(filepath.Join(d.String(), "inbox", "empty"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(d.String(), "inbox", "b.jpg"), filepath.Join(d.String(), "inbox", "link.jpg")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		prefix string
		want   []string
	}{
		{"inbox/", []string{"inbox/a-c.jpg", "inbox/a/b.jpg", "inbox/b.jpg", "inbox/dropped.mp4"}},
		{"inbox", []string{"inbox/a-c.jpg", "inbox/a/b.jpg", "inbox/b.jpg", "inbox/dropped.mp4", "inboxes/x.jpg"}},
		{"inbox/a", []string{"inbox/a-c.jpg", "inbox/a/b.jpg"}},
		{"", []string{"inbox/a-c.jpg", "inbox/a/b.jpg", "inbox/b.jpg", "inbox/dropped.mp4", "inboxes/x.jpg", "statuses/s.mp4"}},
		{"failed/", nil},
		{"inbox/b.jpg/", nil},
	}
	for _, tt := range tests {
		objs, err := d.List(t.Context(), tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Key)
			if o.Size <= 0 || o.ETag == "" || o.LastModified.IsZero() {
				t.Errorf("List(%q): %+v", tt.prefix, o)
			}
		}
		if !slices.Equal(keys, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, keys, tt.want)
		}
	}

	obj, ok, err := d.Lookup(t.Context(), "inbox/dropped.mp4")
	if err != nil || !ok || obj.ContentType != "" || obj.Metadata != nil || obj.Size != 7 || obj.ETag == "" {
		t.Errorf("Lookup of a file dropped by hand = %+v, %v, %v", obj, ok, err)
	}
	for _, k := range []string{"inbox/link.jpg", "inbox/empty"} {
		if _, ok, err := d.Lookup(t.Context(), k); ok || err != nil {
			t.Errorf("Lookup(%q) = %v, %v; want no object", k, ok, err)
		}
	}
}

func TestDirListThroughSymlinks(t *testing.T) {
	real := t.TempDir()
	root := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(real, root); err != nil {
		t.Fatal(err)
	}
	d, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://localhost"})
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir() // inbox/ on another disk
	if err := os.WriteFile(filepath.Join(other, "a.jpg"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(real, "inbox")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(t.Context(), "statuses/s.jpg", strings.NewReader("s"), storage.Object{ContentType: "image/jpeg", Size: 1}); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string][]string{
		"":          {"statuses/s.jpg"}, // the symbolic link inbox is not walked from the root
		"statuses/": {"statuses/s.jpg"},
		"inbox/":    {"inbox/a.jpg"},
	} {
		objs, err := d.List(t.Context(), prefix)
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		if err != nil || !slices.Equal(keys, want) {
			t.Errorf("List(%q) = %q, %v; want %q", prefix, keys, err, want)
		}
	}
}

// errReader is in store_test.go.

func TestDirPutFailureLeavesNothing(t *testing.T) {
	d := newDir(t)
	key := d.Key("0123456789abcdef", "broken", ".mp4")
	for _, tc := range []struct {
		name string
		body io.Reader
		size int64
	}{
		{"reader fails midway", &errReader{n: 3 << 20}, -1},
		{"shorter than its size", strings.NewReader("short"), 10},
		{"longer than its size", strings.NewReader("longer than ten"), 10},
	} {
		_, err := d.Put(t.Context(), key, tc.body, storage.Object{ContentType: "video/mp4", Size: tc.size})
		if storage.CodeOf(err) != storage.CodeFailed {
			t.Errorf("%s: Put = %v", tc.name, err)
		}
		if _, ok, err := d.Lookup(t.Context(), key); ok || err != nil {
			t.Errorf("%s: Lookup after a failed Put = %v, %v", tc.name, ok, err)
		}
		if f := files(t, d.String()); len(f) != 0 {
			t.Errorf("%s: files left: %q", tc.name, f)
		}
	}
	// A canceled context stops the copy.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Put(ctx, key, strings.NewReader("data"), storage.Object{ContentType: "video/mp4", Size: -1}); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	if f := files(t, d.String()); len(f) != 0 {
		t.Errorf("files left after a canceled Put: %q", f)
	}
}

func TestDirConcurrentPuts(t *testing.T) {
	d := newDir(t)
	key := "inbox/same.bin"
	types := []string{"image/jpeg", "image/png", "video/mp4", "audio/mpeg", "image/webp", "video/webm"}
	var wg sync.WaitGroup
	for _, ct := range types {
		wg.Go(func() {
			for range 20 {
				if _, err := d.Put(t.Context(), key, strings.NewReader(ct), storage.Object{ContentType: ct, Size: -1}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	obj, _, err := d.Lookup(t.Context(), key)
	got, _ := os.ReadFile(mustPath(t, d, key))
	if err != nil || obj.ContentType != string(got) {
		t.Errorf("after concurrent Puts: content %q, metadata %+v, %v", got, obj, err)
	}
	if f := files(t, d.String()); len(f) != 2 {
		t.Errorf("files left: %q", f)
	}
}

func TestDirDownload(t *testing.T) {
	d := newDir(t)
	data := randomBytes(3<<20 + 5)
	if _, err := d.Put(t.Context(), "inbox/clip.mp4", bytes.NewReader(data), storage.Object{
		ContentType: "video/mp4", Size: int64(len(data)), FileName: "clip.mp4", Metadata: map[string]string{"caption": "hi"},
	}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dst := filepath.Join(out, "clip.mp4")
	if err := os.WriteFile(dst, []byte("old content"), 0o644); err != nil { // replaced
		t.Fatal(err)
	}
	obj, err := d.Download(t.Context(), "inbox/clip.mp4", dst)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("downloaded content differs")
	}
	if obj.ContentType != "video/mp4" || obj.FileName != "clip.mp4" || obj.Metadata["caption"] != "hi" || obj.Size != int64(len(data)) {
		t.Errorf("Download = %+v", obj)
	}
	missing := filepath.Join(out, "missing.mp4")
	_, err = d.Download(t.Context(), "inbox/missing.mp4", missing)
	if !errors.Is(err, storage.ErrNotFound) || storage.CodeOf(err) != storage.CodeNotFound {
		t.Errorf("Download of a missing key = %v", err)
	}
	if f := files(t, out); !slices.Equal(f, []string{"clip.mp4"}) {
		t.Errorf("files in the download folder: %q", f)
	}
}

func TestDirPutFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prepared.mp4")
	data := randomBytes(2 << 20)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"same file system": t.TempDir()}
	if other, err := os.MkdirTemp("/dev/shm", "mediaprep-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(other) })
		if device(t, other) != device(t, src) {
			dirs["another file system"] = other
		}
	}
	for name, root := range dirs {
		t.Run(name, func(t *testing.T) {
			d, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://localhost"})
			if err != nil {
				t.Fatal(err)
			}
			key := "statuses/prepared.mp4"
			obj, err := d.PutFile(t.Context(), key, src, storage.Object{ContentType: "video/mp4", Size: -1, FileName: "clip.mp4"})
			if err != nil {
				t.Fatal(err)
			}
			if obj.Key != key || obj.Size != int64(len(data)) {
				t.Errorf("PutFile = %+v", obj)
			}
			if got, err := os.ReadFile(src); err != nil || !bytes.Equal(got, data) {
				t.Errorf("the source is not left in place: %v", err)
			}
			if got, _ := os.ReadFile(mustPath(t, d, key)); !bytes.Equal(got, data) {
				t.Error("stored content differs")
			}
			srcInfo, _ := os.Stat(src)
			objInfo, _ := os.Stat(mustPath(t, d, key))
			if linked := os.SameFile(srcInfo, objInfo); linked != (name == "same file system") {
				t.Errorf("object is a hard link to its source: %v", linked)
			}
			if got, ok, _ := d.Lookup(t.Context(), key); !ok || got.ContentType != "video/mp4" || got.FileName != "clip.mp4" {
				t.Errorf("Lookup = %+v, %v", got, ok)
			}
			// The source may go once stored.
			tmp := filepath.Join(t.TempDir(), "gone.mp4")
			if err := os.WriteFile(tmp, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := d.PutFile(t.Context(), "statuses/gone.mp4", tmp, storage.Object{ContentType: "video/mp4"}); err != nil {
				t.Fatal(err)
			}
			os.Remove(tmp)
			if got, _ := os.ReadFile(mustPath(t, d, "statuses/gone.mp4")); !bytes.Equal(got, data) {
				t.Error("the object went with its source")
			}
			if _, err := d.PutFile(t.Context(), "statuses/none.mp4", filepath.Join(t.TempDir(), "none"), storage.Object{ContentType: "video/mp4"}); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("PutFile of a missing file = %v", err)
			}
			if f := files(t, filepath.Join(root, "statuses")); !slices.Equal(f, []string{"gone.mp4", "prepared.mp4"}) {
				t.Errorf("files: %q", f)
			}
		})
	}
}

func device(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Dev)
}

func TestDirMove(t *testing.T) {
	d := newDir(t)
	if _, err := d.Put(t.Context(), "inbox/a.mp4", strings.NewReader("video"), storage.Object{
		ContentType: "video/mp4", Size: -1, FileName: "a.mp4", Metadata: map[string]string{"caption": "x"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(t.Context(), "inbox/a.mp4", "failed/2026/a.mp4"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := d.Lookup(t.Context(), "inbox/a.mp4"); ok {
		t.Error("the source is still there")
	}
	obj, ok, err := d.Lookup(t.Context(), "failed/2026/a.mp4")
	if err != nil || !ok || obj.ContentType != "video/mp4" || obj.FileName != "a.mp4" || obj.Metadata["caption"] != "x" || obj.Size != 5 {
		t.Errorf("Lookup after Move = %+v, %v, %v", obj, ok, err)
	}
	// A file without metadata replaces an object that had some.
	if err := os.WriteFile(mustPath(t, d, "inbox/dropped.mp4"), []byte("by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(t.Context(), "inbox/dropped.mp4", "failed/2026/a.mp4"); err != nil {
		t.Fatal(err)
	}
	obj, ok, _ = d.Lookup(t.Context(), "failed/2026/a.mp4")
	if !ok || obj.ContentType != "" || obj.Metadata != nil || obj.Size != 7 {
		t.Errorf("Lookup after moving a file without metadata = %+v", obj)
	}
	if err := d.Move(t.Context(), "failed/2026/a.mp4", "failed/2026/a.mp4"); err != nil {
		t.Errorf("Move onto itself: %v", err)
	}
	if err := d.Move(t.Context(), "inbox/missing.mp4", "failed/missing.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Move of a missing key = %v", err)
	}
	if err := d.Move(t.Context(), "failed/2026/a.mp4", "../a.mp4"); !errors.Is(err, storage.ErrBadKey) {
		t.Errorf("Move out of the folder = %v", err)
	}
	if f := files(t, d.String()); !slices.Equal(f, []string{"failed/2026/a.mp4"}) {
		t.Errorf("files: %q", f)
	}
}

func TestDirPing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	d, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("root not created 0750: %v, %v", fi, err)
	}
	if err := d.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(root)
	if err := d.Ping(t.Context()); storage.CodeOf(err) != storage.CodeFailed {
		t.Errorf("Ping without the folder = %v", err)
	}
}

func TestMediaHandler(t *testing.T) {
	d, _, srv := servedDir(t)

	data := randomBytes(10 << 10)
	put := func(key, ctype string) string {
		t.Helper()
		if _, err := d.Put(t.Context(), key, bytes.NewReader(data), storage.Object{ContentType: ctype, Size: -1, FileName: "пляж.jpg"}); err != nil {
			t.Fatal(err)
		}
		link, err := d.Link(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		return link.URL
	}
	jpeg := put(d.Key("0123456789abcdef", "beach", ".jpg"), "image/jpeg")
	wrong := put(d.Key("fedcba9876543210", "beach", ".jpg"), "video/mp4")
	octet := put(d.Key("aaaaaaaaaaaaaaaa", "beach", ".jpg"), "application/octet-stream")
	inbox := put("inbox/beach.jpg", "image/jpeg")
	if err := os.Mkdir(mustPath(t, d, "statuses/sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.jpg")
	if err := os.WriteFile(outside, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), mustPath(t, d, "statuses/out")); err != nil {
		t.Fatal(err)
	}

	if err := (storage.Checker{}).CheckLink(t.Context(), jpeg, "image/jpeg"); err != nil {
		t.Errorf("CheckLink: %v", err)
	}
	for _, link := range []string{wrong, octet} {
		if err := (storage.Checker{}).CheckLink(t.Context(), link, "image/jpeg"); !errors.Is(err, storage.ErrLinkRejected) {
			t.Errorf("CheckLink of an object stored with the wrong type = %v", err)
		}
	}

	do := func(method, url string, hdr ...string) (answer, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{Status: resp.Status, StatusCode: resp.StatusCode, Header: resp.Header, ContentLength: resp.ContentLength}, body
	}

	resp, body := do("GET", jpeg)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET = %s, %d bytes", resp.Status, len(body))
	}
	for h, want := range map[string]string{
		"Content-Type":        "image/jpeg",
		"Content-Disposition": "inline; filename*=utf-8''%D0%BF%D0%BB%D1%8F%D0%B6.jpg",
		"Cache-Control":       "public, max-age=604800, immutable",
		"Accept-Ranges":       "bytes",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Errorf("no ETag or Last-Modified: %v", resp.Header)
	}

	resp, body = do("GET", jpeg, "Range", "bytes=0-0")
	if resp.StatusCode != http.StatusPartialContent || len(body) != 1 || body[0] != data[0] ||
		resp.Header.Get("Content-Range") != "bytes 0-0/10240" || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("GET with Range = %s, %d bytes, %v", resp.Status, len(body), resp.Header)
	}
	resp, body = do("HEAD", jpeg)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(data)) || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("HEAD = %s, length %d, %v", resp.Status, resp.ContentLength, resp.Header)
	}
	if resp, _ = do("GET", jpeg, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match = %s", resp.Status)
	}
	if resp, _ = do("POST", jpeg); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}

	for _, path := range []string{
		"/media/statuses/missing.jpg",
		"/media/statuses/",
		"/media/statuses",
		"/media/statuses/sub",
		"/media/statuses/out/secret.jpg",
		"/media/statuses/../inbox/beach.jpg",
		"/media/.meta/statuses/0123456789abcdef-beach.jpg.json",
		"/statuses/0123456789abcdef-beach.jpg",
		strings.TrimPrefix(inbox, srv.URL),
	} {
		if resp, _ := do("GET", srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %s, want 404", path, resp.Status)
		}
	}
}

func TestDirMoveAndDeletePruneEmptyFolders(t *testing.T) {
	d, root := newDirAt(t)
	ctx := context.Background()
	for _, k := range []string{"uploads/abc/x.jpg", "inbox/a/b/y.jpg"} {
		if _, err := d.Put(ctx, k, strings.NewReader("x"), storage.Object{ContentType: "image/jpeg", Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Move(ctx, "uploads/abc/x.jpg", "processed/abc/x.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "inbox/a/b/y.jpg"); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"uploads/abc", "inbox/a", ".meta/uploads/abc"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (%v)", gone, err)
		}
	}
	for _, kept := range []string{"uploads", "inbox", "processed/abc/x.jpg"} {
		if _, err := os.Stat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s: %v", kept, err)
		}
	}
}

// answer is what a test reads of a response whose body is read and closed.
type answer struct {
	Status        string
	StatusCode    int
	Header        http.Header
	ContentLength int64
}
