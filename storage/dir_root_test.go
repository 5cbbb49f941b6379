package storage_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/storage"
)

// TestDirSymlinksStayInside: a symbolic link below a top folder (dropped
// into inbox/, or planted in statuses/) is never followed out of it: not
// by Lookup, Download, Move or Delete, nor by /media/, even to other files
// of the data dir (the queue's).
func TestDirSymlinksStayInside(t *testing.T) {
	d, root, srv := servedDir(t)

	secret := []byte("job records: captions, phone numbers")
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "a.jpg"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	nats := filepath.Join(root, "nats")
	if err := os.MkdirAll(nats, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nats, "a.jpg"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"inbox", "statuses"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, at string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(at))); err != nil {
			t.Fatal(err)
		}
	}
	link(outside, "inbox/out")        // a folder outside the data dir
	link("../nats", "inbox/queue")    // a folder of the data dir
	link("../nats", "statuses/queue") // the same under the prefix
	link("../../nats/a.jpg", "statuses/f.jpg")
	link(filepath.Join(outside, "a.jpg"), "inbox/f.jpg")

	for _, key := range []string{"inbox/out/a.jpg", "inbox/queue/a.jpg", "inbox/f.jpg", "statuses/queue/a.jpg", "statuses/f.jpg"} {
		t.Run(key, func(t *testing.T) {
			if _, ok, err := d.Lookup(t.Context(), key); ok || err != nil {
				t.Errorf("Lookup = %v, %v; want no object", ok, err)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := d.Download(t.Context(), key, dst); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Download = %v, want ErrNotFound", err)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Error("Download wrote the file")
			}
			if err := d.Move(t.Context(), key, "failed/a.jpg"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Move = %v, want ErrNotFound", err)
			}
			if err := d.Delete(t.Context(), key); err != nil {
				t.Errorf("Delete = %v", err)
			}
			resp, err := http.Get(srv.URL + "/media/" + key)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "captions") {
				t.Errorf("GET /media/%s = %s %q", key, resp.Status, body)
			}
		})
	}
	// List does not walk through them either.
	for _, prefix := range []string{"inbox/", "inbox/out/", "inbox/queue/", "statuses/queue/", "statuses/queue/a"} {
		if objs, err := d.List(t.Context(), prefix); len(objs) != 0 || err != nil {
			t.Errorf("List(%q) = %+v, %v; want no objects", prefix, objs, err)
		}
	}
	for _, p := range []string{filepath.Join(outside, "a.jpg"), filepath.Join(nats, "a.jpg")} {
		if b, err := os.ReadFile(p); err != nil || string(b) != string(secret) {
			t.Errorf("%s was touched: %q, %v", p, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "failed", "a.jpg")); err == nil {
		t.Error("a file was moved to failed/")
	}

	// /media/ serves the prefix only, even for keys that exist elsewhere.
	if err := os.WriteFile(filepath.Join(root, "inbox", "real.jpg"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/media/inbox/real.jpg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /media/inbox/real.jpg = %s", resp.Status)
	}
	// Links inside their folder still work for the Dir's own operations.
	if _, ok, err := d.Lookup(t.Context(), "inbox/real.jpg"); !ok || err != nil {
		t.Errorf("Lookup(inbox/real.jpg) = %v, %v", ok, err)
	}
	if err := d.Move(t.Context(), "inbox/real.jpg", "processed/x/real.jpg"); err != nil {
		t.Errorf("Move: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "processed", "x", "real.jpg")); err != nil || string(b) != string(secret) {
		t.Errorf("moved file: %q, %v", b, err)
	}
}

// TestMediaUnknownTypes: files whose type is not a picture, video or audio
// type are served as application/octet-stream, never as a type a browser
// runs, and the link check refuses them.
func TestMediaUnknownTypes(t *testing.T) {
	d, root, _ := servedDir(t)

	html := "<html><script>alert(1)</script></html>"
	if err := os.MkdirAll(filepath.Join(root, "statuses"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"page.html", "x.xyz", "noext", "svg.svg"} {
		if err := os.WriteFile(filepath.Join(root, "statuses", name), []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Put(t.Context(), "statuses/stored.jpg", strings.NewReader(html), storage.Object{ContentType: "text/html", Size: -1}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "statuses", "byhand.jpg"), []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}

	for key, want := range map[string]string{
		"statuses/page.html": "application/octet-stream", "statuses/x.xyz": "application/octet-stream",
		"statuses/noext": "application/octet-stream", "statuses/svg.svg": "application/octet-stream",
		"statuses/stored.jpg": "application/octet-stream", "statuses/byhand.jpg": "image/jpeg",
	} {
		link, err := d.Link(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || got != want || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %s, Content-Type %q, want %q", key, resp.Status, got, want)
		}
		if want == "application/octet-stream" {
			if err := (storage.Checker{}).CheckLink(t.Context(), link.URL, "image/jpeg"); !errors.Is(err, storage.ErrLinkRejected) {
				t.Errorf("CheckLink(%s) = %v, want ErrLinkRejected", key, err)
			}
		}
	}
}

// TestDirPingStaysInside: Ping writes its probe inside the data dir and
// removes it: links planted there (one named like its temporary files, one
// to a folder outside) are left as they are and nothing is written through
// them, however often it pings.
func TestDirPingStaysInside(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	d, err := storage.NewDir(storage.DirConfig{Root: root, PublicBaseURL: "http://localhost"})
	if err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{".mediaprep-ping.part": filepath.Join(outside, "probe"), "statuses": outside} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		if err := d.Ping(t.Context()); err != nil {
			t.Fatalf("Ping = %v", err)
		}
	}
	names := func(dir string) []string {
		t.Helper()
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if got := strings.Join(names(root), " "); got != ".mediaprep-ping.part statuses" {
		t.Errorf("data dir after Ping holds %q, want only the planted links", got)
	}
	if got := names(outside); len(got) != 0 {
		t.Errorf("Ping wrote %q outside the data dir", got)
	}
}
