package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// InboxJobs is what the inbox needs of the queue; *queue.Queue is the
// implementation.
type InboxJobs interface {
	Enqueue(ctx context.Context, j queue.Job) (queue.Job, error)
	// Claim returns true the first time key is claimed, by any process.
	Claim(ctx context.Context, key string) (bool, error)
	Unclaim(ctx context.Context, key string) error
}

// Subscriber delivers bucket event notifications (NATS core messages);
// *nats.Conn's Subscribe fits through SubscribeFunc.
type Subscriber func(subject string, handle func(data []byte)) (unsubscribe func() error, err error)

// InboxConfig configures an Inbox.
type InboxConfig struct {
	Bucket Bucket
	Jobs   InboxJobs
	Layout Layout
	// BucketName, when set, is the bucket whose events are taken; events
	// naming another bucket are ignored.
	BucketName string
	// Poll is the time between two listings of the inbox; default 10 s.
	// Negative: no polling, events only.
	Poll time.Duration
	// Settle is how old an object must be before it is taken: a sidecar
	// that arrives after its file within Settle is still honoured, and a
	// local file still being written is left alone. Default 3 s.
	Settle time.Duration
	// Events, when set, subscribes to EventSubject for the bucket event
	// notifications MinIO or versitygw publish, for instant pickup.
	Events       Subscriber
	EventSubject string
	TempDir      string // where sidecars are fetched; required
	Metrics      *Metrics
	Logger       *slog.Logger
}

// Inbox picks up files dropped under the inbox prefix, each exactly once
// (a claim in the queue's key-value store, so any number of inboxes on any
// number of machines can watch the same bucket), and enqueues a job with
// the options of its sidecar NAME.json or its x-amz-meta-* headers.
type Inbox struct {
	cfg InboxConfig
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]bool // keys with a scheduled event check
}

// NewInbox checks cfg and returns an Inbox.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Bucket == nil || cfg.Jobs == nil {
		return nil, errors.New("service: inbox needs Bucket and Jobs")
	}
	if cfg.TempDir == "" {
		return nil, errors.New("service: inbox needs a TempDir")
	}
	if cfg.Events != nil && cfg.EventSubject == "" {
		return nil, errors.New("service: inbox events need a subject")
	}
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Layout = cfg.Layout.withDefaults()
	if err := os.MkdirAll(cfg.TempDir, 0o750); err != nil {
		return nil, fmt.Errorf("service: temp folder: %w", err)
	}
	return &Inbox{cfg: cfg, log: cfg.Logger.With("inbox", cfg.Layout.Inbox), pending: make(map[string]bool)}, nil
}

// Run polls the inbox (and listens to bucket events when configured)
// until ctx is done.
func (in *Inbox) Run(ctx context.Context) error {
	if in.cfg.Events != nil {
		unsub, err := in.cfg.Events(in.cfg.EventSubject, func(data []byte) { in.event(ctx, data) })
		if err != nil {
			return fmt.Errorf("service: bucket events on %q: %w", in.cfg.EventSubject, err)
		}
		defer unsub()
		in.log.Info("listening to bucket events", "subject", in.cfg.EventSubject)
	}
	if in.cfg.Poll < 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(in.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := in.Scan(ctx); err != nil && ctx.Err() == nil {
			in.log.Warn("scanning the inbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Scan lists the inbox once and enqueues every settled file not claimed
// yet; it returns how many it enqueued.
func (in *Inbox) Scan(ctx context.Context) (int, error) {
	objs, err := in.cfg.Bucket.List(ctx, in.cfg.Layout.Inbox)
	if err != nil {
		return 0, err
	}
	keys := make(map[string]bool, len(objs))
	for _, o := range objs {
		keys[o.Key] = true
	}
	n := 0
	var errs []error
	for _, o := range objs {
		ok, err := in.take(ctx, o, keys[o.Key+".json"])
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

// take enqueues the object o if it is a settled source nobody claimed yet.
func (in *Inbox) take(ctx context.Context, o storage.Object, hasSidecar bool) (bool, error) {
	if !in.isSource(o.Key) {
		return false, nil
	}
	if age := time.Since(o.LastModified); age < in.cfg.Settle {
		in.schedule(ctx, o.Key, in.cfg.Settle-age)
		return false, nil
	}
	// Listings and HEAD agree on key, size and the second of the last
	// change (HEAD has no finer time), so poll and event claim alike.
	claim := fmt.Sprintf("%s\x00%d\x00%d", o.Key, o.Size, o.LastModified.Unix())
	first, err := in.cfg.Jobs.Claim(ctx, claim)
	if err != nil || !first {
		return false, err
	}
	job := queue.Job{Origin: queue.OriginInbox, Source: o.Key, Name: path.Base(o.Key), Size: o.Size}
	opts, err := in.options(ctx, o, hasSidecar)
	if err != nil {
		// The job fails at once with the reason; the source goes to
		// failed/ next to it.
		job.Invalid = err.Error()
	}
	job.Options = opts
	job, err = in.cfg.Jobs.Enqueue(ctx, job)
	if err != nil {
		if uerr := in.cfg.Jobs.Unclaim(context.WithoutCancel(ctx), claim); uerr != nil {
			in.log.Error("enqueue failed and the claim could not be released: the file stays in the inbox until the claim expires",
				"key", o.Key, "err", uerr)
		}
		return false, fmt.Errorf("enqueue %s: %w", o.Key, err)
	}
	in.log.Info("picked up", "job", job.ID, "key", o.Key, "bytes", o.Size)
	in.cfg.Metrics.JobState(queue.StateQueued)
	return true, nil
}

// sidecar is the JSON of NAME.EXT.json next to a dropped file: the fields
// of `mediaprep batch` sidecars, plus the preparation options.
type sidecar struct {
	Caption         string   `json:"caption"`
	Participants    []string `json:"participants"`
	BackgroundColor string   `json:"backgroundColor"`
	Crop            string   `json:"crop"`
	VideoFit        string   `json:"videoFit"`
}

// maxSidecar caps the bytes read of a sidecar.
const maxSidecar = 64 << 10

// options reads a source's options: from its sidecar when there is one,
// else from its x-amz-meta-* headers (caption, participants,
// background-color, crop, video-fit; RFC 2047 words decoded).
func (in *Inbox) options(ctx context.Context, o storage.Object, hasSidecar bool) (queue.Options, error) {
	if !hasSidecar {
		// An event names one key: look for its sidecar.
		_, found, err := in.cfg.Bucket.Lookup(ctx, o.Key+".json")
		if err != nil {
			return queue.Options{}, err
		}
		hasSidecar = found
	}
	if hasSidecar {
		return in.readSidecar(ctx, o.Key+".json")
	}
	md := o.Metadata
	if md == nil {
		full, found, err := in.cfg.Bucket.Lookup(ctx, o.Key)
		if err != nil || !found {
			return queue.Options{}, err
		}
		md = full.Metadata
	}
	var dec mime.WordDecoder
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := md[n]; ok {
				if d, err := dec.DecodeHeader(v); err == nil {
					return d
				}
				return v
			}
		}
		return ""
	}
	opts := queue.Options{
		Caption:         get("caption"),
		BackgroundColor: get("background-color", "backgroundcolor"),
		Crop:            get("crop"),
		VideoFit:        get("video-fit", "videofit"),
	}
	if p := get("participants"); p != "" {
		for _, s := range strings.Split(p, ",") {
			if s = strings.TrimSpace(s); s != "" {
				opts.Participants = append(opts.Participants, s)
			}
		}
	}
	return opts, nil
}

func (in *Inbox) readSidecar(ctx context.Context, key string) (queue.Options, error) {
	tmp := filepath.Join(in.cfg.TempDir, fmt.Sprintf("sidecar-%d.json", time.Now().UnixNano()))
	defer os.Remove(tmp)
	obj, err := in.cfg.Bucket.Download(ctx, key, tmp)
	if err != nil {
		return queue.Options{}, fmt.Errorf("sidecar %s: %w", key, err)
	}
	if obj.Size > maxSidecar {
		return queue.Options{}, fmt.Errorf("sidecar %s: %d bytes, over the %d byte limit", path.Base(key), obj.Size, maxSidecar)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return queue.Options{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSidecar+1))
	if err != nil {
		return queue.Options{}, err
	}
	var s sidecar
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return queue.Options{}, fmt.Errorf("sidecar %s: %v (want {\"caption\", \"participants\", \"backgroundColor\", \"crop\", \"videoFit\"})", path.Base(key), err)
	}
	return queue.Options{Caption: s.Caption, Participants: s.Participants, BackgroundColor: s.BackgroundColor,
		Crop: s.Crop, VideoFit: s.VideoFit}, nil
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
		for _, key := range eventKeys(r.S3.Object.Key) {
			if in.isSource(key) || strings.HasSuffix(key, ".json") {
				// A sidecar's event re-checks its file, which may be
				// waiting for it.
				in.schedule(ctx, strings.TrimSuffix(key, ".json"), in.cfg.Settle)
				break
			}
		}
	}
}

// eventKeys are the keys an event's key may stand for: object keys in
// events are URL-escaped, form style by MinIO and AWS ("+" for a space),
// path style by others. check tries each; the wrong ones are not found.
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

// schedule checks key once after d, unless a check is already due.
func (in *Inbox) schedule(ctx context.Context, key string, d time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pending[key] || ctx.Err() != nil {
		return
	}
	in.pending[key] = true
	time.AfterFunc(d+50*time.Millisecond, func() {
		in.mu.Lock()
		delete(in.pending, key)
		in.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		in.check(ctx, key)
	})
}

// check takes one key an event named, trying each way it may be escaped.
func (in *Inbox) check(ctx context.Context, key string) {
	for _, k := range eventKeys(key) {
		if !in.isSource(k) {
			continue
		}
		o, found, err := in.cfg.Bucket.Lookup(ctx, k)
		if err != nil {
			in.log.Warn("bucket event: lookup", "key", k, "err", err)
			return
		}
		if !found {
			continue
		}
		o.Key = k
		if _, err := in.take(ctx, o, false); err != nil {
			in.log.Warn("bucket event", "key", k, "err", err)
		}
		return
	}
}
