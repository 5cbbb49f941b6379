package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/queue"
)

// EventSource delivers bucket event notifications durably until ctx ends,
// running handle on each: nil acks the event, a queue.RetryLater error
// hands it back for later, any other error drops it. (*queue.Queue).
// ConsumeEvents fits it.
type EventSource func(ctx context.Context, handle func(ctx context.Context, data []byte, attempt int) error) error

// handleEvent takes the files a durable event names, waiting for each to
// settle: it returns nil once each is queued, has its job, or is gone (or
// is no source), and a queue.RetryLater error while storage or the queue
// cannot answer, so that the event comes back.
func (in *Inbox) handleEvent(ctx context.Context, data []byte, attempt int) error {
	var ev s3Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("bucket event is not JSON: %w", err)
	}
	for _, r := range ev.Records {
		if !strings.Contains(r.EventName, "ObjectCreated") {
			continue
		}
		if in.cfg.BucketName != "" && r.S3.Bucket.Name != "" && r.S3.Bucket.Name != in.cfg.BucketName {
			continue
		}
		// A sidecar's event checks its file, which may be waiting for it.
		for _, key := range eventKeys(r.S3.Object.Key) {
			if key = strings.TrimSuffix(key, ".json"); !in.isSource(key) {
				continue
			}
			if err := in.takeSettled(ctx, key); err != nil {
				if ctx.Err() != nil {
					return queue.RetryLater(ctx.Err(), 0) // another process takes it
				}
				d := eventRetry(attempt)
				in.log.Warn("inbox: cannot take the file of a bucket event yet; it comes back", "key", key, "err", err, "in", d, "attempt", attempt)
				return queue.RetryLater(err, d)
			}
		}
	}
	return nil
}

// takeSettled takes the object key once it has settled (two sightings
// Settle apart with the same size and ETag); nil when it is taken, has a
// job, or is not there.
func (in *Inbox) takeSettled(ctx context.Context, key string) error {
	for {
		o, found, err := in.cfg.Bucket.Lookup(ctx, key)
		if err != nil {
			return err
		}
		if !found {
			return nil // another reading of an escaped key, or gone
		}
		o.Key = key
		if in.settled(o) {
			_, err := in.take(ctx, o)
			return err
		}
		t := time.NewTimer(in.cfg.Settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// eventRetry is the delay before an event that could not be handled comes
// back: 1 s doubling to 30 s.
func eventRetry(attempt int) time.Duration {
	return min(time.Second<<min(max(attempt-1, 0), 5), 30*time.Second)
}

// s3Event is the part of an S3 event notification (MinIO, versitygw, AWS)
// the inbox reads.
type s3Event struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// event schedules a check of every created object an event names.
func (in *Inbox) event(ctx context.Context, data []byte) {
	var ev s3Event
	if err := json.Unmarshal(data, &ev); err != nil {
		in.log.Warn("bucket event is not JSON", "err", err)
		return
	}
	for _, r := range ev.Records {
		if !strings.Contains(r.EventName, "ObjectCreated") {
			continue
		}
		if in.cfg.BucketName != "" && r.S3.Bucket.Name != "" && r.S3.Bucket.Name != in.cfg.BucketName {
			continue
		}
		// A sidecar's event checks its file, which may be waiting for it.
		var candidates []string
		for _, key := range eventKeys(r.S3.Object.Key) {
			if key = strings.TrimSuffix(key, ".json"); in.isSource(key) {
				candidates = append(candidates, key)
			}
		}
		if len(candidates) > 0 {
			in.schedule(ctx, candidates, 0)
		}
	}
}

// eventKeys are the keys an event's key may stand for: MinIO and AWS
// escape keys form style ("+" for a space), versitygw sends them as they
// are. check tries each; the wrong ones are not found.
func eventKeys(raw string) []string {
	var keys []string
	add := func(k string, err error) {
		if err == nil && k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	add(url.QueryUnescape(raw))
	add(url.PathUnescape(raw))
	add(raw, nil)
	return keys
}
