package batch

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/mediaprep/mediaprep/queue"
)

// ErrNoFiles is the error of Plan when there is nothing to post now: no
// media file under its arguments, and no publish time.
var ErrNoFiles = errors.New("batch: no files")

// Entry is a file of a batch with its settings: its manifest entry with
// its sidecar over it, and a publish time.
type Entry struct {
	File string
	Meta Meta
	Err  error // a sidecar that cannot be read, or a bad publishAt: the file is not posted
}

// PublishAt is the entry's publish time ("": post now).
func (e Entry) PublishAt() string {
	if e.Meta.PublishAt == nil {
		return ""
	}
	return *e.Meta.PublishAt
}

// Plan lists the media files under args (Collect, with out and manifest)
// with their settings: each file's sidecar over its manifest entry
// (ReadManifests), and publishAt ("": none) as the publish time of the
// files neither sets one for. Each publish time is checked
// (queue.ParsePublishAt), and each account against account, the run's
// (Meta.CheckAccount); a file whose sidecar, account or publish time is
// bad has its Entry.Err. timed tells whether any file has a publish time, or
// publishAt is set: the batch then goes to a service. The error is that
// of Collect, ErrNoFiles, or that of ReadManifests, in that order; timed
// is false with an error.
func Plan(args []string, out, manifest, publishAt, account string) (entries []Entry, timed bool, err error) {
	files, manifests, err := Collect(args, out, manifest)
	if err != nil {
		return nil, false, err
	}
	byFile, err := ReadManifests(manifests, files)
	switch {
	case err != nil && len(files) == 0:
		return nil, false, ErrNoFiles
	case err != nil:
		return nil, false, err
	case len(files) == 0 && publishAt == "":
		return nil, false, ErrNoFiles
	}
	timed = publishAt != ""
	for _, src := range files {
		abs, _ := filepath.Abs(src)
		side, err := ReadSidecar(src + ".json")
		m := byFile[abs].Merge(side)
		if err == nil {
			err = m.CheckAccount(account)
		}
		if m.PublishAt == nil && publishAt != "" {
			m.PublishAt = &publishAt
		}
		if m.PublishAt != nil {
			timed = true
			if _, perr := queue.ParsePublishAt(*m.PublishAt); perr != nil && err == nil {
				err = fmt.Errorf("%s: %w", src, perr)
			}
		}
		entries = append(entries, Entry{File: src, Meta: m, Err: err})
	}
	return entries, timed, nil
}
