package service

import (
	"context"
	"time"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// LookupLink implements pipeline.LinkLedger: the link an earlier delivery
// of this job uploaded.
func (l *jobLedger) LookupLink(ctx context.Context, sha256 string) (storage.Link, bool) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	j, err := l.w.cfg.Jobs.Get(ctx, l.id)
	if err != nil || j.LinkSHA256 != sha256 || j.URL == "" {
		return storage.Link{}, false
	}
	return storage.Link{URL: j.URL, Expires: j.LinkExpires}, true
}

// RecordLink implements pipeline.LinkLedger.
func (l *jobLedger) RecordLink(ctx context.Context, sha256 string, link storage.Link) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := l.w.cfg.Jobs.Update(ctx, l.id, func(j *queue.Job) error {
		j.URL, j.LinkExpires, j.LinkSHA256 = link.URL, link.Expires, sha256
		return nil
	})
	return err
}
