package storage

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
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
	// Opened through os.Root at the prefix's folder: a symbolic link under
	// it (to the queue's files, to a source) cannot lead out of it.
	f, err := os.OpenInRoot(filepath.Join(d.root, filepath.FromSlash(d.cfg.Prefix)), filepath.FromSlash(strings.TrimPrefix(key, d.cfg.Prefix+"/")))
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
	h.Set("Content-Type", mediaType(m.ContentType, key))
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

// mediaType is the Content-Type a stored file is served with: its stored
// type when that is a picture, video or audio type; for a file without one
// (put there by hand) the type of a media extension the service makes;
// else application/octet-stream, which the link check refuses. Never a
// type a browser would run, such as text/html.
func mediaType(stored, key string) string {
	if stored != "" {
		if mt, _, err := mime.ParseMediaType(stored); err == nil {
			if top, _, _ := strings.Cut(mt, "/"); top == "image" || top == "video" || top == "audio" {
				return stored
			}
		}
		return "application/octet-stream"
	}
	switch strings.ToLower(path.Ext(key)) {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".webp":
		return "image/webp"
	case ".mp4":
		return "video/mp4"
	case ".mp3":
		return "audio/mpeg"
	case ".ogg", ".opus":
		return "audio/ogg"
	case ".m4a":
		return "audio/mp4"
	case ".wav":
		return "audio/wav"
	}
	return "application/octet-stream"
}
