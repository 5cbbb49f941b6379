package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/transcode"
)

// A sidecar is NAME.EXT.json next to a media file: one JSON object with
// the fields of a Meta but "file". The same sidecar works next to a file
// given to `mediaprep batch` and next to one dropped in the service's
// inbox: both read it with DecodeSidecar.
//
//	{"caption": "Sale!", "participants": ["79001234567@c.us"],
//	 "backgroundColor": "#228B22", "crop": "pad", "videoFit": "keep",
//	 "publishAt": "2026-12-01T09:00:00+01:00", "account": "shop"}

// MaxSidecar caps the bytes of a sidecar; a bigger one is refused.
const MaxSidecar = 64 << 10

// sidecarFields names what a sidecar may hold, for error messages.
const sidecarFields = "caption, participants, backgroundColor, crop, videoFit, publishAt, account"

// SidecarError is a sidecar that cannot be read as a Meta: over
// MaxSidecar, not one JSON object, a field other than sidecarFields, or a
// crop or videoFit transcode refuses. The file it goes with fails with
// pipeline.CodeBadMetadata; nothing is posted for it.
type SidecarError struct {
	Name string // the sidecar's file name or object key
	Msg  string
}

func (e *SidecarError) Error() string { return "sidecar " + e.Name + ": " + e.Msg }

// DecodeSidecar reads a sidecar from r; name (its file name or object
// key) is for errors. A problem with the sidecar itself is a
// *SidecarError; an error reading r is returned as is.
func DecodeSidecar(r io.Reader, name string) (Meta, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSidecar+1))
	if err != nil {
		return Meta{}, err
	}
	bad := func(format string, a ...any) (Meta, error) {
		return Meta{}, &SidecarError{Name: name, Msg: fmt.Sprintf(format, a...)}
	}
	if len(b) > MaxSidecar {
		return bad("over the %d byte limit", MaxSidecar)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Meta
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return bad("empty (want a JSON object of %s)", sidecarFields)
		}
		return bad("%v (want a JSON object of %s)", err, sidecarFields)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("more after the JSON object (want one object of %s)", sidecarFields)
	}
	if m.File != "" {
		return bad("\"file\" belongs in a manifest (want %s)", sidecarFields)
	}
	if err := m.check(); err != nil {
		return bad("%v", err)
	}
	return m, nil
}

// ReadSidecar reads the sidecar at path with DecodeSidecar; a missing
// sidecar is an empty Meta.
func ReadSidecar(path string) (Meta, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, err
	}
	defer f.Close()
	return DecodeSidecar(f, path)
}

// check refuses a crop or videoFit transcode does not know.
func (m Meta) check() error {
	var o transcode.Options
	if m.Crop != nil {
		o.Crop = transcode.CropMode(*m.Crop)
	}
	if m.VideoFit != nil {
		o.VideoFit = transcode.Fit(*m.VideoFit)
	}
	return o.Validate()
}

// Prepare returns o with the crop and videoFit m sets.
func (m Meta) Prepare(o transcode.Options) transcode.Options {
	if m.Crop != nil && *m.Crop != "" {
		o.Crop = transcode.CropMode(*m.Crop)
	}
	if m.VideoFit != nil && *m.VideoFit != "" {
		o.VideoFit = transcode.Fit(*m.VideoFit)
	}
	return o
}

// CheckAccount refuses an account m names other than account, the one a
// batch run posts for ("" is accounts.Default): a run posts through one
// Green API instance, so a file meant for another account must be posted
// by a run with --account naming it.
func (m Meta) CheckAccount(account string) error {
	if m.Account == nil {
		return nil
	}
	want, got := orDefault(account), orDefault(*m.Account)
	if got == want {
		return nil
	}
	return fmt.Errorf("account %q, but this batch posts for %q: post the files of %s with --account %s", got, want, got, got)
}

func orDefault(account string) string {
	if account == "" {
		return accounts.Default
	}
	return account
}

// UnmarshalJSON reads a Meta refusing unknown fields; publishAt may be a
// JSON number (Unix seconds) as well as a string (queue.PublishAt), as in
// the service's JSON.
func (m *Meta) UnmarshalJSON(b []byte) error {
	type plain Meta
	var v struct {
		plain
		PublishAt *queue.PublishAt `json:"publishAt"` // shadows plain's
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*m = Meta(v.plain)
	if v.PublishAt != nil {
		s := string(*v.PublishAt)
		m.PublishAt = &s
	}
	return nil
}
