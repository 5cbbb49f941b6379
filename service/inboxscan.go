package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/storage"
)

// What one listing of the inbox sees: a scan bounded by MaxScan that goes
// round the keys, and the sightings that tell when a file has settled.

// observation is an object's size and ETag and when they were first seen
// as they are.
type observation struct {
	size int64
	etag string
	at   time.Time
}

// forget drops sightings older than age: files deleted before they
// settled, or taken by another process.
func (in *Inbox) forget(age time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for k, o := range in.seen {
		if time.Since(o.at) > age {
			delete(in.seen, k)
		}
	}
}

// Scan lists the inbox once, at most MaxScan objects from where the last
// scan stopped, and enqueues every settled file not claimed yet; it returns
// how many it enqueued.
func (in *Inbox) Scan(ctx context.Context) (int, error) {
	in.mu.Lock()
	after := in.after
	in.mu.Unlock()
	page, err := in.cfg.Bucket.ListPage(ctx, in.cfg.Layout.Inbox, after, in.cfg.MaxScan)
	if err != nil {
		return 0, err
	}
	objs := page.Objects
	keys := make(map[string]bool, len(objs))
	for _, o := range objs {
		keys[o.Key] = true
	}
	in.mu.Lock()
	in.after = page.Next
	for k := range in.seen {
		if !keys[k] && k > after && (page.Next == "" || k <= page.Next) {
			delete(in.seen, k) // gone: taken, moved or deleted
		}
	}
	in.mu.Unlock()
	if page.Next != "" {
		var left any = page.Left
		if page.Left < 0 {
			left = "unknown (S3 tells only by listing them)"
		}
		in.log.Warn("inbox: scan stopped at its limit; the next scan goes on after the last key looked at",
			"limit", in.cfg.MaxScan,
			"looked_at", len(objs), "after", page.Next, "left", left)
	}
	n := 0
	var errs []error
	for _, o := range objs {
		ok, err := in.take(ctx, o)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// isSource tells the objects of the inbox that are sources: not sidecars,
// error files or hidden files.
func (in *Inbox) isSource(key string) bool {
	rel, ok := strings.CutPrefix(key, in.cfg.Layout.Inbox)
	if !ok || rel == "" || strings.HasSuffix(rel, "/") || strings.HasSuffix(rel, ".json") {
		return false
	}
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

func (in *Inbox) forgetKey(key string) {
	in.mu.Lock()
	delete(in.seen, key)
	in.mu.Unlock()
}

// settled reports whether o has kept its size and ETag for Settle since
// this inbox first saw it so. Object times are not trusted: a multipart
// upload's LastModified is when it began, and a writer may pause.
func (in *Inbox) settled(o storage.Object) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	obs, ok := in.seen[o.Key]
	if !ok || obs.size != o.Size || obs.etag != o.ETag {
		in.seen[o.Key] = observation{size: o.Size, etag: o.ETag, at: time.Now()}
		return false
	}
	return time.Since(obs.at) >= in.cfg.Settle
}
