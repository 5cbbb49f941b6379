package batch

import (
	"fmt"
	"path/filepath"

	"github.com/mediaprep/mediaprep/queue"
)

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

// Plan reads the sidecar of each of files and merges it over the file's
// entry in byFile (ReadManifests); publishAt ("": none) is the publish
// time of the files neither sets one for. Each publish time is checked
// (queue.ParsePublishAt). timed tells whether any file has one, or
// publishAt is set: the batch then goes to a service.
func Plan(files []string, byFile map[string]Meta, publishAt string) (entries []Entry, timed bool) {
	timed = publishAt != ""
	for _, src := range files {
		abs, _ := filepath.Abs(src)
		side, err := ReadSidecar(src + ".json")
		m := byFile[abs].Merge(side)
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
	return entries, timed
}
