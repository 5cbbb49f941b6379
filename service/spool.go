package service

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// spool writes the file part to a temp file in SpoolDir. Its first bytes
// are sniffed before anything is written: a file that cannot be a picture,
// video or audio is refused without reading further.
func (a *API) spool(part *multipart.Part) (*spooled, *apiError) {
	limit := a.cfg.MaxUploadBytes
	head := make([]byte, transcode.SniffHeaderLen)
	n, err := io.ReadFull(part, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, a.bodyError(err)
	}
	head = head[:n]
	switch {
	case n == 0:
		return nil, invalidf("file", "the file is empty")
	case int64(n) > limit:
		return nil, tooLarge(limit)
	}
	if ok, format := transcode.SniffHeader(head); !ok {
		msg := "the file is not a picture, video or audio this service can prepare"
		if format != "" {
			msg = fmt.Sprintf("%s files are not accepted: send a picture, a video or audio", strings.ToUpper(format))
		}
		return nil, &apiError{status: http.StatusUnsupportedMediaType, Code: codeUnsupportedType, Field: "file", Message: msg}
	}

	f, err := os.CreateTemp(a.cfg.SpoolDir, "upload-*")
	if err != nil {
		return nil, spoolFailed(err)
	}
	s := &spooled{path: f.Name(), name: cmp.Or(pipeline.DisplayName(part.FileName()), "upload")}
	fail := func(e *apiError) (*spooled, *apiError) {
		f.Close()
		os.Remove(s.path)
		return nil, e
	}
	if _, err := f.Write(head); err != nil {
		return fail(spoolFailed(err))
	}
	rest, err := io.Copy(writerOnly{f}, io.LimitReader(part, limit-int64(n)+1))
	s.size = int64(n) + rest
	switch {
	case err != nil && isWriteErr(err):
		return fail(spoolFailed(err))
	case err != nil:
		return fail(a.bodyError(err))
	case s.size > limit:
		return fail(tooLarge(limit))
	}
	if err := f.Close(); err != nil {
		return fail(spoolFailed(err))
	}
	return s, nil
}

// spoolFailed is a failure of SpoolDir (full, gone): ours, not the client's.
func spoolFailed(err error) *apiError {
	if isNoSpace(err) {
		return noSpace(err)
	}
	return &apiError{status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "cannot take uploads now; try again later", retryAfter: retryUnavailable, cause: err}
}

// writerOnly marks the spool file's write errors (a full disk is our
// failure, not the client's) so they can be told from read errors.
type writerOnly struct{ f *os.File }

func (w writerOnly) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &writeErr{err}
	}
	return n, err
}

type writeErr struct{ err error }

func (e *writeErr) Error() string { return e.err.Error() }

func (e *writeErr) Unwrap() error { return e.err }

func isWriteErr(err error) bool {
	_, ok := errors.AsType[*writeErr](err)
	return ok
}
