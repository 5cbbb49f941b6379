package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// APIConfig configures the HTTP API.
type APIConfig struct {
	// Keys are the bearer keys a request must carry (MEDIAPREP_API_KEYS).
	// Empty means no auth; CheckListen allows that on loopback only.
	Keys []string
	// MaxUploadBytes is the largest file accepted; default 200 MB. Larger
	// uploads get 413.
	MaxUploadBytes int64
	// MaxConcurrentUploads is how many uploads may run at once; default 32.
	// More get 503 with Retry-After.
	MaxConcurrentUploads int
	// MaxQueued: when the queue holds this many jobs (queued or running),
	// POST answers 429 with Retry-After; default 1000. With Counts, jobs
	// waiting for their publish time are left out.
	MaxQueued int
	// Counts, when set, counts the jobs in a state (queue.Index), so that
	// MaxQueued counts the jobs to run now, not the scheduled ones.
	Counts JobCounter
	// SpoolDir is where an upload is written before it goes to the
	// bucket; required.
	SpoolDir string
	// KeepDir, when set, keeps each stored upload's spool file as
	// KeepDir/<job id>, for a worker of this process to use instead of
	// downloading it again (WorkerConfig.LocalSources).
	KeepDir string
	// UploadPrefix starts the key of an uploaded file, which is
	// UploadPrefix + job ID + "/" + file name; default "uploads/".
	UploadPrefix string
	// Media, when set, serves /media/ without auth: the links Green API
	// fetches when the bucket is a local folder.
	Media http.Handler
	// HTTP bounds connections, time and rates (see HTTPConfig).
	HTTP HTTPConfig
	// MaxFormFields caps the fields (parts besides the file) of a form;
	// default 1000. More answer 400 too_many_fields.
	MaxFormFields int
	// MaxParticipants caps the participants of a status; default 1000.
	// More answer 400 too_many_participants.
	MaxParticipants int
	// MinFreeBytes: while SpoolDir's disk has less free space, /readyz
	// fails ("disk") and POST answers 507 insufficient_storage; default
	// 512 MiB.
	MinFreeBytes int64
	// FreeSpace returns the free bytes of dir's disk; default statfs.
	FreeSpace func(dir string) (int64, error)
	// Web, when set, serves the web page at / and /assets/ without auth
	// (every call it makes carries the key); see routeWeb.
	Web    http.Handler
	Events EventsConfig // GET /v1/events
	// Schedule: publish times (schedule.go) and DELETE /v1/statuses/{id}
	// (cancel.go).
	Schedule ScheduleConfig
	Logger   *slog.Logger
	Metrics  *Metrics // optional

	// List, when set, answers GET /v1/statuses (service/list.go).
	List JobLister
	// Accounts names the Green API accounts jobs may name (the field
	// account); empty: only "default".
	Accounts []string
	// Deleters, when set, delete the posted statuses of each account
	// (by name) instead of Schedule.Deleter: a status is deleted on the
	// number that posted it.
	Deleters map[string]StatusDeleter
}

// Defaults of APIConfig.
const (
	DefaultMaxUploadBytes       = 200 << 20
	DefaultMaxConcurrentUploads = 32
	DefaultMaxQueued            = 1000
	DefaultUploadPrefix         = "uploads/"
)

// Limits and timings of requests.
const (
	maxFieldBytes  = 64 << 10 // one form field
	maxTextBody    = 1 << 20  // a JSON or urlencoded text status; also the slack for fields next to a file
	readyTimeout   = 2 * time.Second
	cleanupTimeout = 10 * time.Second

	// Retry-After, in seconds.
	retryBusy        = 5
	retryQueueFull   = 30
	retryUnavailable = 10
)

// Error codes of API responses: stable, machine-readable.
const (
	codeUnauthorized     = "unauthorized"
	codeTooLarge         = "too_large"
	codeUnsupportedType  = "unsupported_type"
	codeInvalidRequest   = "invalid_request"
	codeNotFound         = "not_found"
	codeQueueFull        = "queue_full"
	codeBusy             = "busy"
	codeUnavailable      = "unavailable"
	codeMethodNotAllowed = "method_not_allowed"
	codeTooSlow          = "too_slow"
	codeTooManyFields    = "too_many_fields"
	codeTooManyPartic    = "too_many_participants"
	codeNoSpace          = "insufficient_storage"
)

func (c APIConfig) withDefaults() APIConfig {
	c.MaxUploadBytes = cmp.Or(c.MaxUploadBytes, DefaultMaxUploadBytes)
	c.MaxConcurrentUploads = cmp.Or(c.MaxConcurrentUploads, DefaultMaxConcurrentUploads)
	c.MaxQueued = cmp.Or(c.MaxQueued, DefaultMaxQueued)
	c.UploadPrefix = cmp.Or(c.UploadPrefix, DefaultUploadPrefix)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.HTTP = c.HTTP.withDefaults()
	c.MaxFormFields = cmp.Or(c.MaxFormFields, DefaultMaxFormFields)
	c.MaxParticipants = cmp.Or(c.MaxParticipants, DefaultMaxParticipants)
	c.MinFreeBytes = cmp.Or(c.MinFreeBytes, DefaultMinFreeBytes)
	if c.FreeSpace == nil {
		c.FreeSpace = statfsFree
	}
	return c
}

// Validate reports every bad setting at once; zero values take defaults.
func (c APIConfig) Validate() error {
	var errs []error
	for i, k := range c.Keys {
		if k == "" || strings.ContainsFunc(k, unicode.IsSpace) {
			errs = append(errs, fmt.Errorf("service: API key %d is empty or has spaces", i+1))
		}
	}
	if c.MaxUploadBytes < 0 {
		errs = append(errs, fmt.Errorf("service: MaxUploadBytes %d is negative", c.MaxUploadBytes))
	}
	if c.MaxConcurrentUploads < 0 {
		errs = append(errs, fmt.Errorf("service: MaxConcurrentUploads %d is negative", c.MaxConcurrentUploads))
	}
	if c.MaxQueued < 0 {
		errs = append(errs, fmt.Errorf("service: MaxQueued %d is negative", c.MaxQueued))
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("service: SpoolDir is required"))
	}
	if c.MaxFormFields < 0 || c.MaxParticipants < 0 || c.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("service: MaxFormFields %d, MaxParticipants %d, MinFreeBytes %d: none may be negative", c.MaxFormFields, c.MaxParticipants, c.MinFreeBytes))
	}
	if err := c.HTTP.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Events.Validate())
	if c.UploadPrefix != "" && (strings.HasPrefix(c.UploadPrefix, "/") || !strings.HasSuffix(c.UploadPrefix, "/")) {
		errs = append(errs, fmt.Errorf("service: UploadPrefix %q must end with / and not start with one", c.UploadPrefix))
	}
	return errors.Join(errs...)
}

// APIJobs is the queue as the HTTP API sees it; *queue.Queue is the
// implementation (and a JobWatcher, for /v1/events).
type APIJobs interface {
	// Enqueue stores j as queued (giving it an ID when it has none) and
	// queues it. It returns queue.ErrQueueFull when the queue is full.
	Enqueue(ctx context.Context, j queue.Job) (queue.Job, error)
	// Get returns the job with id, or queue.ErrNotFound.
	Get(ctx context.Context, id string) (queue.Job, error)
	// Depth is the number of jobs queued or running.
	Depth(ctx context.Context) (int, error)
	// Ping checks that the queue is reachable.
	Ping(ctx context.Context) error
}

// APIBucket is what the upload path needs of storage: *storage.Store (S3)
// or *storage.Dir (a folder in the data directory).
type APIBucket interface {
	// PutFile stores the file at path under key; on error nothing is left
	// under key.
	PutFile(ctx context.Context, key, path string, obj storage.Object) (storage.Object, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Ping checks that the bucket is reachable.
	Ping(ctx context.Context) error
}

var (
	_ APIJobs   = (*queue.Queue)(nil)
	_ APIBucket = (*storage.Store)(nil)
	_ APIBucket = (*storage.Dir)(nil)
)

// API is the HTTP API: uploads and text statuses become queued jobs, whose
// state can be read back; health, readiness, metrics and /media/ links.
type API struct {
	cfg     APIConfig
	jobs    APIJobs
	bucket  APIBucket
	keys    keyring
	uploads chan struct{} // a slot per upload in flight
	events  *eventStreams
	log     *slog.Logger
}

// NewAPI validates cfg and returns the API over jobs and bucket.
func NewAPI(cfg APIConfig, jobs APIJobs, bucket APIBucket) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if jobs == nil || bucket == nil {
		return nil, errors.New("service: NewAPI needs jobs and a bucket")
	}
	cfg = cfg.withDefaults()
	return &API{
		cfg:     cfg,
		jobs:    jobs,
		bucket:  bucket,
		keys:    newKeyring(cfg.Keys),
		uploads: make(chan struct{}, cfg.MaxConcurrentUploads),
		events:  newEventStreams(cfg.Events, jobs),
		log:     cfg.Logger,
	}, nil
}
