package storage

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// MediaHandler serves the Dir's prepared files at the links Link makes:
// GET and HEAD of /media/<key> (the full request path; do not strip the
// prefix), for keys under Prefix + "/" only, so that sources and failed
// files are never public. It answers with the stored Content-Type, an inline
// Content-Disposition, the Cache-Control and an ETag, supports ranges and
// conditional requests (http.ServeContent), and answers 404 for anything
// else: missing or hidden keys, folders, keys outside Prefix.
func (d *Dir) MediaHandler() http.Handler {
	return http.HandlerFunc(d.serveMedia)
}

func (d *Dir) serveMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/media/")
	if !ok || !strings.HasPrefix(key, d.cfg.Prefix+"/") {
		http.NotFound(w, r)
		return
	}
	_, _, ok, err := d.stat(key)
	if err != nil && !errors.Is(err, ErrBadKey) {
		http.Error(w, "storage: cannot read the file", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	m, _, err := d.readMeta(key)
	if err != nil {
		http.Error(w, "storage: cannot read the file's metadata", http.StatusInternalServerError)
		return
	}
	// Opened through os.Root: a symbolic link in a folder of the key cannot
	// lead out of the Dir.
	f, err := os.OpenInRoot(d.root, filepath.FromSlash(key))
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			http.Error(w, "storage: cannot read the file", http.StatusInternalServerError)
		} else {
			http.NotFound(w, r)
		}
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if m.ContentType != "" {
		h.Set("Content-Type", m.ContentType)
	}
	h.Set("Content-Disposition", inlineDisposition(m.FileName))
	cc := m.CacheControl
	if cc == "" {
		cc = d.cfg.CacheControl
	}
	h.Set("Cache-Control", cc)
	h.Set("ETag", `"`+fileETag(fi)+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}
