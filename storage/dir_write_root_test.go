package storage_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/storage"
)

// outsideDir returns a folder outside any Dir with an empty folder sub/ in
// it, and a check that it still holds exactly that.
func outsideDir(t *testing.T) (string, func()) {
	t.Helper()
	outside := t.TempDir()
	if err := os.Mkdir(filepath.Join(outside, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	return outside, func() {
		t.Helper()
		entries, err := os.ReadDir(outside)
		if err != nil || len(entries) != 1 || entries[0].Name() != "sub" || !entries[0].IsDir() {
			t.Errorf("outside folder changed: %v, %v", entries, err)
		}
		if got := files(t, outside); len(got) != 0 {
			t.Errorf("files written outside: %q", got)
		}
	}
}

// TestDirWritesStayInside: a symbolic link planted below a top folder
// (statuses/x -> a folder outside, .meta/statuses/m -> the same, statuses/up
// -> the data dir) never makes Put, PutFile, Move, Delete or the pruning of
// empty folders write, rename or remove anything through it. Writes refuse
// with ErrBadKey; Delete finds no object and removes nothing.
func TestDirWritesStayInside(t *testing.T) {
	d, root := newDirAt(t)
	outside, unchanged := outsideDir(t)
	for _, dir := range []string{"statuses", ".meta/statuses"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(dir)), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, at string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(at))); err != nil {
			t.Fatal(err)
		}
	}
	link(outside, "statuses/x")
	link("..", "statuses/up")
	link(outside, ".meta/statuses/m")
	obj := storage.Object{ContentType: "image/jpeg", FileName: "a.jpg", Size: 1}
	if _, err := d.Put(t.Context(), "statuses/ok.jpg", strings.NewReader("k"), obj); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src.jpg")
	if err := os.WriteFile(src, []byte("s"), 0o640); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"statuses/x/a.jpg", "statuses/x/sub/a.jpg", "statuses/x/new/a.jpg", "statuses/up/inbox/a.jpg", "statuses/m/a.jpg"} {
		t.Run(key, func(t *testing.T) {
			if _, err := d.Put(t.Context(), key, strings.NewReader("p"), obj); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("Put = %v, want ErrBadKey", err)
			}
			if _, err := d.PutFile(t.Context(), key, src, obj); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("PutFile = %v, want ErrBadKey", err)
			}
			if err := d.Move(t.Context(), "statuses/ok.jpg", key); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("Move = %v, want ErrBadKey", err)
			}
			if got, ok, err := d.Lookup(t.Context(), "statuses/ok.jpg"); !ok || err != nil || got.FileName != "a.jpg" {
				t.Errorf("after the refused Move, Lookup(statuses/ok.jpg) = %+v, %v, %v", got, ok, err)
			}
			if err := d.Delete(t.Context(), key); err != nil {
				t.Errorf("Delete = %v", err)
			}
			if _, ok, err := d.Lookup(t.Context(), key); ok || err != nil {
				t.Errorf("Lookup = %v, %v; want no object", ok, err)
			}
		})
	}
	unchanged()
	// Nothing landed in the data dir through statuses/up either, and the
	// planted links are still there: pruning removes empty folders only.
	if _, err := os.Stat(filepath.Join(root, "inbox")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("inbox/ was created through statuses/up (%v)", err)
	}
	for _, l := range []string{"statuses/x", "statuses/up", ".meta/statuses/m"} {
		if fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(l))); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: %v, %v", l, fi, err)
		}
	}
	if got, want := strings.Join(files(t, root), " "), ".meta/statuses/m .meta/statuses/ok.jpg.json statuses/ok.jpg statuses/up statuses/x"; got != want {
		t.Errorf("files and links of the Dir: %s, want %s", got, want)
	}
}

// swapReader calls swap before its first read: a folder is replaced while a
// write is in progress.
type swapReader struct {
	r    io.Reader
	swap func()
}

func (s *swapReader) Read(p []byte) (int, error) {
	if s.swap != nil {
		s.swap()
		s.swap = nil
	}
	return s.r.Read(p)
}

// TestDirWriteFolderSwappedForLink: the folder of a Put (uploads/ID/) is
// replaced by a symbolic link to a folder outside while the body is being
// read; the write is refused and nothing lands outside.
func TestDirWriteFolderSwappedForLink(t *testing.T) {
	d, root := newDirAt(t)
	outside, unchanged := outsideDir(t)
	id := filepath.Join(root, "uploads", "id")
	body := &swapReader{r: strings.NewReader("body"), swap: func() {
		if err := os.Rename(id, filepath.Join(root, "uploads", "moved")); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, id); err != nil {
			t.Error(err)
		}
	}}
	_, err := d.Put(t.Context(), "uploads/id/a.jpg", body, storage.Object{ContentType: "image/jpeg", Size: -1})
	if !errors.Is(err, storage.ErrBadKey) || !strings.Contains(err.Error(), "leads out of its folder") {
		t.Errorf("Put = %v, want ErrBadKey (leads out of its folder)", err)
	}
	unchanged()
	if _, ok, err := d.Lookup(t.Context(), "uploads/id/a.jpg"); ok || err != nil {
		t.Errorf("Lookup = %v, %v; want no object", ok, err)
	}
	if _, err := os.Stat(filepath.Join(root, ".meta", "uploads", "id", "a.jpg.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("metadata left behind (%v)", err)
	}
}

// TestDirWritesThroughSymlinkedTopFolder: a top folder that is a symbolic
// link (inbox/ on another disk, the operator's choice) is written to,
// moved from and pruned below as today; the link itself stays.
func TestDirWritesThroughSymlinkedTopFolder(t *testing.T) {
	d, root := newDirAt(t)
	other := t.TempDir()
	if err := os.Symlink(other, filepath.Join(root, "inbox")); err != nil {
		t.Fatal(err)
	}
	obj := storage.Object{ContentType: "image/jpeg", Size: 1}
	if _, err := d.Put(t.Context(), "inbox/a/b.jpg", strings.NewReader("b"), obj); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(other, "a", "b.jpg")); err != nil || string(b) != "b" {
		t.Fatalf("inbox/a/b.jpg on the other disk: %q, %v", b, err)
	}
	src := filepath.Join(t.TempDir(), "c.jpg")
	if err := os.WriteFile(src, []byte("c"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutFile(t.Context(), "inbox/c/c.jpg", src, obj); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(t.Context(), "inbox/a/b.jpg", "processed/b.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(t.Context(), "processed/b.jpg", "inbox/d/b.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(t.Context(), "inbox/c/c.jpg"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(files(t, other), " "); got != "d/b.jpg" {
		t.Errorf("files of inbox/: %s, want d/b.jpg", got)
	}
	for _, gone := range []string{"a", "c"} {
		if _, err := os.Stat(filepath.Join(other, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("inbox/%s not pruned (%v)", gone, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(root, "inbox")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("inbox link: %v, %v", fi, err)
	}
}
