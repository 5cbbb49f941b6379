package greenapitest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// extOf is the extension the stand-in gives a file of each type, and
// typeOf the type it serves each extension with: Green API decides the file
// type by the extension (from GA-Filename, else from Content-Type).
var extOf = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
	"video/mp4": ".mp4", "video/3gpp": ".3gp", "video/quicktime": ".mov",
	"audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/aac": ".aac", "audio/mp4": ".m4a",
	"application/pdf": ".pdf",
}

var typeOf = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
	".mp4": "video/mp4", ".3gp": "video/3gpp", ".mov": "video/quicktime",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav", ".aac": "audio/aac", ".m4a": "audio/mp4",
	".pdf": "application/pdf",
}

// handleUpload takes uploadFile's raw body: Content-Type required (not a
// form: the docs send the file itself), GA-Filename when the type alone
// does not name the extension, at most the upload limit. The file is
// written to disk as it arrives, never held in memory.
func (s *Server) handleUpload(r *http.Request) answer {
	if r.URL.RawQuery != "" {
		return s.refuse(http.StatusBadRequest, "uploadFile takes no query string")
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return s.refuse(http.StatusBadRequest, "uploadFile: Content-Type of the file is required")
	case err != nil:
		return s.refuse(http.StatusBadRequest, "uploadFile: Content-Type %q does not parse", ct)
	case strings.HasPrefix(mt, "multipart/") || mt == "application/x-www-form-urlencoded" || mt == "application/json":
		return s.refuse(http.StatusBadRequest, "uploadFile: the body must be the raw file, not %s", mt)
	}
	name := r.Header.Get("GA-Filename")
	ext := strings.ToLower(path.Ext(name))
	if name != "" && (len(ext) < 2 || strings.ContainsAny(name, "/\\")) {
		return s.refuse(http.StatusBadRequest, "uploadFile: GA-Filename %q has no extension", name)
	}
	if name == "" {
		if ext = extOf[mt]; ext == "" {
			return s.refuse(http.StatusBadRequest, "uploadFile: %s is not in the MIME list; send GA-Filename with the extension", mt)
		}
	}
	s.mu.Lock()
	limit := s.uploadLimit
	s.mu.Unlock()
	tooBig := answer{status: http.StatusInternalServerError,
		body: []byte(`{"code":500,"description":"file exceeded max upload size. Limit: 100mb"}`)}
	if r.ContentLength > limit {
		return tooBig
	}
	if r.ContentLength <= 0 {
		return s.refuse(http.StatusBadRequest, "uploadFile: the body is empty or has no Content-Length")
	}
	f, err := os.CreateTemp(s.files, "up-*")
	if err != nil {
		return answer{status: http.StatusInternalServerError, body: []byte(err.Error())}
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		os.Remove(f.Name())
		return s.refuse(http.StatusBadRequest, "uploadFile: reading the body: %v", err)
	case n > limit:
		os.Remove(f.Name())
		return tooBig
	case n != r.ContentLength:
		os.Remove(f.Name())
		return s.refuse(http.StatusBadRequest, "uploadFile: body of %d bytes, Content-Length %d", n, r.ContentLength)
	}
	file := newID() + ext
	if err := os.Rename(f.Name(), filepath.Join(s.files, file)); err != nil {
		return answer{status: http.StatusInternalServerError, body: []byte(err.Error())}
	}
	up := Upload{
		URLFile:     s.media.URL + "/" + s.id + "/" + file,
		ContentType: ct, FileName: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Time: time.Now(),
	}
	s.mu.Lock()
	s.uploads = append(s.uploads, up)
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"urlFile": up.URLFile})
	return answer{status: http.StatusOK, body: b}
}

// serveMedia is the media host: uploadFile at its usual path, and GET of
// the files it hosts, with the Content-Type of their extension.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/"+uploadFile+"/") {
		s.serveHTTP(w, r)
		return
	}
	id, file, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || id != s.id || file == "" || strings.ContainsAny(file, "/\\") || strings.HasPrefix(file, ".") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, err := os.Open(filepath.Join(s.files, file))
	if errors.Is(err, os.ErrNotExist) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	ct := typeOf[strings.ToLower(path.Ext(file))]
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, "", time.Time{}, f)
}
