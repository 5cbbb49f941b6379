package greenapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
)

// MethodUploadFile is the method that hosts a file on Green API's media
// host (Config.MediaURL).
const MethodUploadFile = "uploadFile"

// Facts of uploadFile from Green API's docs.
const (
	MaxUploadBytes = 100 << 20           // the largest file uploadFile takes (100 MB)
	UploadLifetime = 15 * 24 * time.Hour // how long a urlFile it answers stays valid
)

// Upload is a file to host with uploadFile.
type Upload struct {
	// Open opens the file afresh; it is called once per attempt, so that
	// a retry sends the whole file again. Use UploadPath for a file on disk.
	Open        func() (io.ReadCloser, error)
	Size        int64  // bytes Open yields
	ContentType string // the file's type, e.g. video/mp4; required
	// FileName, with the extension the file type is decided by, is sent
	// as GA-Filename when ContentType alone does not name the type (not
	// in Green API's MIME list), and whenever it is set and plain ASCII.
	FileName string
}

// UploadPath describes the file at p for UploadFile: streamed from disk on
// every attempt, never held whole in memory.
func UploadPath(p, contentType, fileName string) (Upload, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return Upload{}, invalid(MethodUploadFile, []problem{{"file", err.Error()}})
	}
	if !fi.Mode().IsRegular() {
		return Upload{}, invalid(MethodUploadFile, []problem{{"file", p + " is not a regular file"}})
	}
	return Upload{
		Open:        func() (io.ReadCloser, error) { return os.Open(p) },
		Size:        fi.Size(),
		ContentType: contentType,
		FileName:    fileName,
	}, nil
}

// Uploaded is uploadFile's answer.
type Uploaded struct {
	URLFile string `json:"urlFile"`
	// Expires is when the link stops working: UploadLifetime after the
	// upload began (a lower bound; Green API counts from its end).
	Expires time.Time `json:"-"`
}

// knownTypes are common types whose extension Green API can tell from the
// Content-Type alone; the others need GA-Filename. Green API's own MIME
// list is not in the pages this project holds, so this list is kept
// short; UploadLinker always sends GA-Filename anyway.
var knownTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/3gpp": true, "video/quicktime": true,
	"audio/mpeg": true, "audio/mp3": true, "audio/ogg": true, "audio/wav": true, "audio/aac": true, "audio/mp4": true,
	"application/pdf": true,
}

// MediaURL returns the media host uploads go to (no secret in it).
func (c *Client) MediaURL() string { return c.redact(c.cfg.MediaURL) }

// UploadFile hosts a file on Green API's media host and returns its
// urlFile, a direct link that lives UploadLifetime. The body is the raw
// file, streamed with its Content-Type. An upload posts nothing, so unlike
// the sends it is retried after a lost answer too.
func (c *Client) UploadFile(ctx context.Context, u Upload) (Uploaded, error) {
	var bad checker
	mt, _, err := mime.ParseMediaType(u.ContentType)
	switch {
	case u.ContentType == "":
		bad.add("contentType", "required: the file's type, e.g. video/mp4")
	case err != nil || !strings.Contains(mt, "/"):
		bad.add("contentType", "%q is not a media type", u.ContentType)
	}
	switch {
	case u.Open == nil:
		bad.add("file", "nothing to upload")
	case u.Size < 0:
		bad.add("file", "size %d is negative", u.Size)
	case u.Size == 0:
		bad.add("file", "the file is empty")
	case u.Size > MaxUploadBytes:
		bad.add("file", "%d bytes, more than uploadFile's limit of %d (100 MB)", u.Size, MaxUploadBytes)
	}
	ext := path.Ext(u.FileName)
	plain := u.FileName != "" && !strings.ContainsFunc(u.FileName, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '/' || r == '\\' })
	if u.FileName != "" && (!plain || len(ext) < 2) {
		bad.add("fileName", "%q must be plain ASCII with an extension, e.g. clip.mp4", u.FileName)
	}
	if err == nil && !knownTypes[mt] && u.FileName == "" {
		bad.add("fileName", "required for %s: Green API decides the file type by the extension in GA-Filename", mt)
	}
	if len(bad) > 0 {
		return Uploaded{}, c.redactInvalid(bad.err(MethodUploadFile))
	}
	h := http.Header{"Content-Type": {u.ContentType}}
	if u.FileName != "" {
		h.Set("GA-Filename", u.FileName)
	}
	start := time.Now()
	var out Uploaded
	err = c.do(ctx, call{
		method: MethodUploadFile, httpMethod: http.MethodPost,
		stream: u.Open, size: u.Size, header: h,
		decode: func(b []byte) error {
			if err := json.Unmarshal(b, &out); err != nil {
				return err
			}
			l, err := url.Parse(out.URLFile)
			if out.URLFile == "" || err != nil || (l.Scheme != "http" && l.Scheme != "https") || l.Host == "" {
				return fmt.Errorf("no usable urlFile in the answer")
			}
			return nil
		},
	})
	if err != nil {
		return Uploaded{}, err
	}
	out.Expires = start.Add(UploadLifetime).UTC().Truncate(time.Second) // whole seconds, like every time of a job
	return out, nil
}

// streamError is a failure to open the file to upload: nothing was sent.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }
