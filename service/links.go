package service

import (
	"context"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// LookupLink implements pipeline.LinkLedger: the link an earlier delivery
// of this job uploaded.
func (l *jobLedger) LookupLink(sha256 string) (storage.Link, bool) {
	j, err := l.jobs.Get(context.Background(), l.id)
	if err != nil || j.LinkSHA256 != sha256 || j.URL == "" {
		return storage.Link{}, false
	}
	return storage.Link{URL: j.URL, Expires: j.LinkExpires}, true
}

// RecordLink implements pipeline.LinkLedger.
func (l *jobLedger) RecordLink(sha256 string, link storage.Link) error {
	_, err := l.jobs.Update(context.Background(), l.id, func(j *queue.Job) error {
		j.URL, j.LinkExpires, j.LinkSHA256 = link.URL, link.Expires, sha256
		return nil
	})
	return err
}
