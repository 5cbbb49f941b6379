package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// APIConfig configures the HTTP API.
type APIConfig struct {
	// Keys are the bearer keys a request must carry (MEDIAPREP_API_KEYS).
	// Empty means no auth; CheckListen allows that on loopback only.
	Keys []string
	// MaxUploadBytes is the largest file accepted; default 200 MB. Larger
	// uploads get 413.
	MaxUploadBytes int64
	// MaxConcurrentUploads is how many uploads may run at once; default 8.
	// More get 503 with Retry-After.
	MaxConcurrentUploads int
	// MaxQueued: when the queue holds this many jobs (queued or running),
	// POST answers 429 with Retry-After; default 1000.
	MaxQueued int
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
	// Schedule: publish times and DELETE /v1/statuses/{id} (schedule.go).
	Schedule ScheduleConfig
	Logger   *slog.Logger
	Metrics  *Metrics // optional
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
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.MaxConcurrentUploads == 0 {
		c.MaxConcurrentUploads = DefaultMaxConcurrentUploads
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.UploadPrefix == "" {
		c.UploadPrefix = DefaultUploadPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.HTTP = c.HTTP.withDefaults()
	if c.MaxFormFields == 0 {
		c.MaxFormFields = DefaultMaxFormFields
	}
	if c.MaxParticipants == 0 {
		c.MaxParticipants = DefaultMaxParticipants
	}
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = DefaultMinFreeBytes
	}
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

// API is the HTTP API: uploads and text statuses become queued jobs, whose
// state can be read back; health, readiness, metrics and /media/ links.
type API struct {
	cfg     APIConfig
	jobs    Jobs
	bucket  Bucket
	keys    keyring
	uploads chan struct{} // a slot per upload in flight
	events  *eventStreams
	log     *slog.Logger
}

// NewAPI validates cfg and returns the API over jobs and bucket.
func NewAPI(cfg APIConfig, jobs Jobs, bucket Bucket) (*API, error) {
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

// Handler returns the API's routes, logging one line per request.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, allow string, h http.Handler) {
		mux.Handle(allow+" "+pattern, h)
		mux.Handle(pattern, a.methodNotAllowed(allow))
	}
	route("/v1/statuses", http.MethodPost, a.requireKey(http.HandlerFunc(a.postStatus)))
	mux.Handle("GET /v1/statuses/{id}", a.requireKey(http.HandlerFunc(a.getStatus)))
	mux.Handle("DELETE /v1/statuses/{id}", a.requireKey(http.HandlerFunc(a.deleteStatus))) // cancel.go
	mux.Handle("/v1/statuses/{id}", a.methodNotAllowed("GET, HEAD, DELETE"))
	route("/healthz", http.MethodGet, http.HandlerFunc(a.healthz))
	route("/readyz", http.MethodGet, http.HandlerFunc(a.readyz))
	if m := a.cfg.Metrics; m != nil {
		route("/metrics", http.MethodGet, a.requireKey(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})))
	}
	if a.cfg.Media != nil {
		mux.Handle("/media/", a.cfg.Media)
	}
	a.routeWeb(route)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: "no such endpoint"})
	})
	return a.logRequests(a.deadlines(mux))
}

// reqInfo is what a handler tells the request log.
type reqInfo struct {
	jobID string
	code  string // error code answered
	cause error  // why, when the client is not told
}

type reqInfoKey struct{}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests bounds every request body and logs one line per request:
// method, path, status, duration, and the job id and error when there are
// some. Headers (Authorization) and queries are never logged.
func (a *API) logRequests(next http.Handler) http.Handler {
	limit := a.cfg.MaxUploadBytes + maxTextBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// w itself, so that the server closes the connection on overflow.
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		ri := &reqInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		}
		if ri.jobID != "" {
			attrs = append(attrs, slog.String("job", ri.jobID))
		}
		if ri.code != "" {
			attrs = append(attrs, slog.String("code", ri.code))
		}
		if ri.cause != nil {
			attrs = append(attrs, slog.String("err", ri.cause.Error()))
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		a.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// apiError is a failure as the client sees it:
// {"error":{"code":…,"field":…,"message":…}}.
type apiError struct {
	status     int
	Code       string `json:"code"`
	Field      string `json:"field,omitempty"`
	Message    string `json:"message"`
	retryAfter int    // seconds; 0: no Retry-After
	cause      error  // logged, not shown
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func invalidf(field, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Code: codeInvalidRequest, Field: field, Message: fmt.Sprintf(format, a...)}
}

func unavailable(what string, cause error) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: what + " is unavailable; try again later", retryAfter: retryUnavailable, cause: cause}
}

// fail answers e and notes it for the request log.
func (a *API) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	ri := info(r)
	ri.code, ri.cause = e.Code, e.cause
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, struct {
		Error *apiError `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only plain structs of strings are written
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func (a *API) methodNotAllowed(allow string) http.Handler {
	if allow == http.MethodGet {
		allow = "GET, HEAD"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		a.fail(w, r, &apiError{status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: r.Method + " is not allowed here; use " + allow})
	})
}

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz pings the queue and the bucket, each with its own timeout. The
// answer says which failed; why goes to the log only.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	checks := []struct {
		name string
		ping func(context.Context) error
	}{{"queue", a.jobs.Ping}, {"storage", a.bucket.Ping}, {"disk", a.checkDisk}}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := c.ping(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", c.name, err)
			}
		})
	}
	wg.Wait()
	status, body := http.StatusOK, map[string]any{"status": "ok"}
	var failed []string
	for i, c := range checks {
		if errs[i] != nil {
			failed = append(failed, c.name)
		}
	}
	if len(failed) > 0 {
		status, body = http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed}
		info(r).cause = errors.Join(errs...)
	}
	writeJSON(w, status, body)
}

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validJobID(id) {
		a.fail(w, r, &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: "no job has this id"})
		return
	}
	info(r).jobID = id
	job, err := a.jobs.Get(r.Context(), id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		a.fail(w, r, &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: "no job has this id"})
	case err != nil:
		a.fail(w, r, unavailable("the queue", err))
	default:
		writeJSON(w, http.StatusOK, job)
	}
}

// validJobID accepts the ids jobs can have (ours are 16 hex digits; the
// queue may give others), so nothing odd reaches the queue's keys.
func validJobID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newJobID is 16 random lowercase hex digits: job ids, delivery tokens.
func newJobID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// postStatus takes a file upload (multipart) or a text status (multipart,
// urlencoded or JSON) and queues it.
func (a *API) postStatus(w http.ResponseWriter, r *http.Request) {
	var size int64
	defer func() {
		code := info(r).code
		if code == "" {
			code = "accepted"
		}
		a.cfg.Metrics.Upload(code, size)
	}()
	if r.ContentLength > a.cfg.MaxUploadBytes+maxTextBody {
		a.fail(w, r, tooLarge(a.cfg.MaxUploadBytes))
		return
	}
	if err := a.checkDisk(r.Context()); err != nil {
		a.fail(w, r, noSpace(err))
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		a.fail(w, r, invalidf("", "Content-Type: %v", err))
		return
	}
	var job queue.Job
	var aerr *apiError
	switch mediaType {
	case "multipart/form-data":
		select {
		case a.uploads <- struct{}{}:
			defer func() { <-a.uploads }()
		default:
			a.fail(w, r, &apiError{status: http.StatusServiceUnavailable, Code: codeBusy, Message: "too many uploads at once; try again shortly", retryAfter: retryBusy})
			return
		}
		if aerr = a.checkDepth(r.Context()); aerr == nil {
			job, aerr = a.postMultipart(r)
		}
	case "application/json", "application/x-www-form-urlencoded":
		if aerr = a.checkDepth(r.Context()); aerr == nil {
			job, aerr = a.postText(w, r, mediaType)
		}
	default:
		aerr = &apiError{status: http.StatusUnsupportedMediaType, Code: codeUnsupportedType,
			Message: "Content-Type must be multipart/form-data (a file), application/json or application/x-www-form-urlencoded (a text status)"}
	}
	if aerr != nil {
		a.fail(w, r, aerr)
		return
	}
	size = job.Size
	a.cfg.Metrics.JobState(queue.StateQueued)
	state := job.State
	if state == "" {
		state = queue.StateQueued
	}
	w.Header().Set("Location", "/v1/statuses/"+job.ID)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": job.ID, "state": string(state)})
}

// checkDepth refuses new jobs while the queue holds MaxQueued or more.
func (a *API) checkDepth(ctx context.Context) *apiError {
	n, err := a.jobs.Depth(ctx)
	if err != nil {
		return unavailable("the queue", err)
	}
	if n >= a.cfg.MaxQueued {
		return queueFull(nil)
	}
	return nil
}

func queueFull(cause error) *apiError {
	return &apiError{status: http.StatusTooManyRequests, Code: codeQueueFull, Message: "the queue is full; try again later", retryAfter: retryQueueFull, cause: cause}
}

func tooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Field: "file", Message: fmt.Sprintf("the file is larger than %d bytes", limit)}
}

// bodyError maps an error reading the request body.
func (a *API) bodyError(err error) *apiError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge(a.cfg.MaxUploadBytes)
	}
	if errors.Is(err, errTooSlow) {
		return &apiError{status: http.StatusRequestTimeout, Code: codeTooSlow,
			Message: fmt.Sprintf("the body came slower than %d bytes in %s; send it again on a faster link", a.cfg.HTTP.MinRate, a.cfg.HTTP.MinRateWindow), cause: err}
	}
	return &apiError{status: http.StatusBadRequest, Code: codeInvalidRequest, Message: "reading the request body failed", cause: err}
}

// The form fields a POST takes besides file; participants may repeat.
var formFields = map[string]bool{
	"caption": true, "participants": true, "backgroundColor": true, "crop": true, "videoFit": true,
	"text": true, "font": true,
	"publishAt": true, // schedule.go
}

// spooled is an uploaded file in SpoolDir.
type spooled struct {
	path string
	name string // the file's own name, cleaned
	size int64
}

// postMultipart streams the parts of a multipart body: fields are read
// into memory (64 KiB each), the file goes to SpoolDir after its first
// bytes passed the sniff. Then the options are checked, the file stored
// and the job queued.
func (a *API) postMultipart(r *http.Request) (queue.Job, *apiError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return queue.Job{}, invalidf("", "multipart body: %v", err)
	}
	id := newJobID()
	info(r).jobID = id
	fields := url.Values{}
	fieldBytes, nfields := 0, 0
	var file *spooled
	defer func() {
		if file != nil {
			os.Remove(file.path)
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return queue.Job{}, a.bodyError(err)
		}
		name := part.FormName()
		switch {
		case name == "file":
			if file != nil {
				return queue.Job{}, invalidf("file", "one file per status")
			}
			var aerr *apiError
			if file, aerr = a.spool(part); aerr != nil {
				return queue.Job{}, aerr
			}
		case formFields[name]:
			// Counted too: empty fields cost memory but no bytes.
			if nfields++; nfields > a.cfg.MaxFormFields {
				return queue.Job{}, a.tooManyFields(name)
			}
			v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return queue.Job{}, a.bodyError(err)
			}
			if len(v) > maxFieldBytes {
				return queue.Job{}, invalidf(name, "longer than %d bytes", maxFieldBytes)
			}
			// All fields together are bounded too (participants repeat).
			if fieldBytes += len(v); fieldBytes > maxTextBody {
				return queue.Job{}, invalidf(name, "the fields are longer than %d bytes in all", maxTextBody)
			}
			fields.Add(name, string(v))
		default:
			return queue.Job{}, invalidf(name, "unknown field %q; fields are file, caption, participants, backgroundColor, crop, videoFit, text, font, publishAt", name)
		}
		part.Close()
	}
	opts, aerr := optionsOf(fields, file != nil)
	if aerr == nil {
		aerr = a.checkParticipants(opts.Participants)
	}
	at, perr := a.publishAt(fields.Get("publishAt"))
	if aerr == nil {
		aerr = perr
	}
	if aerr != nil {
		return queue.Job{}, aerr
	}
	if file == nil {
		return a.enqueueText(r.Context(), id, opts, at)
	}
	if aerr := checkFileOptions(opts); aerr != nil {
		return queue.Job{}, aerr
	}

	// The source is raw bytes until the worker sniffs and prepares it;
	// the bucket needs a content type all the same.
	key := a.cfg.UploadPrefix + id + "/" + keyName(file.name)
	if _, err := a.bucket.PutFile(r.Context(), key, file.path, storage.Object{Size: file.size, FileName: file.name, ContentType: "application/octet-stream"}); err != nil {
		if isNoSpace(err) {
			return queue.Job{}, noSpace(err)
		}
		return queue.Job{}, unavailable("storage", err)
	}
	keptForWorker := false
	if a.cfg.KeepDir != "" {
		// Kept before the job is queued, so a worker here finds it.
		kept := filepath.Join(a.cfg.KeepDir, id)
		if err := os.Rename(file.path, kept); err == nil {
			file.path, keptForWorker = kept, true
		}
	}
	job, err := a.jobs.Enqueue(r.Context(), queue.Job{
		ID: id, Origin: queue.OriginUpload, Source: key, Name: file.name, Size: file.size, Options: opts, PublishAt: at,
	})
	if err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), cleanupTimeout)
		defer cancel()
		if derr := a.bucket.Delete(ctx, key); derr != nil {
			err = errors.Join(err, fmt.Errorf("the upload stays at %s: %w", key, derr))
		}
		if errors.Is(err, queue.ErrQueueFull) {
			return queue.Job{}, queueFull(err)
		}
		return queue.Job{}, unavailable("the queue", err)
	}
	if keptForWorker {
		file = nil // the worker's now
	}
	return job, nil
}

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
	s := &spooled{path: f.Name(), name: cleanFileName(part.FileName())}
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

// optionsOf reads the form fields into Options and checks what can be
// checked before the kind of the file is known.
func optionsOf(f url.Values, hasFile bool) (queue.Options, *apiError) {
	for name, vs := range f {
		if name != "participants" && len(vs) > 1 {
			return queue.Options{}, invalidf(name, "given %d times", len(vs))
		}
	}
	o := queue.Options{
		Caption:         f.Get("caption"),
		BackgroundColor: f.Get("backgroundColor"),
		Crop:            f.Get("crop"),
		VideoFit:        f.Get("videoFit"),
		Text:            f.Get("text"),
		Font:            f.Get("font"),
	}
	for _, v := range f["participants"] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.Participants = append(o.Participants, p)
			}
		}
	}
	if hasFile {
		for _, name := range []string{"text", "font"} {
			if f.Has(name) {
				return o, invalidf(name, "a status is a file or a text, not both: %s goes with text statuses only", name)
			}
		}
		return o, nil
	}
	if !f.Has("text") {
		return o, invalidf("file", "a file (or a text) is required")
	}
	for _, name := range []string{"caption", "crop", "videoFit"} {
		if f.Has(name) {
			return o, invalidf(name, "%s goes with file uploads only, not with text statuses", name)
		}
	}
	return o, nil
}

// checkFileOptions checks a file's options: the caption and participants
// by sendMediaStatus's rules, the color by sendVoiceStatus's (the kind is
// not known yet), crop and videoFit by transcode's.
func checkFileOptions(o queue.Options) *apiError {
	if err := (transcode.Options{Crop: transcode.CropMode(o.Crop)}).Validate(); err != nil {
		return invalidf("crop", "%q is not one of center, smart, pad", o.Crop)
	}
	if err := (transcode.Options{VideoFit: transcode.Fit(o.VideoFit)}).Validate(); err != nil {
		return invalidf("videoFit", "%q is not one of keep, crop, pad", o.VideoFit)
	}
	const link = "https://example.com/status"
	if err := (greenapi.MediaStatus{URLFile: link, FileName: "status.jpg", Caption: o.Caption, Participants: o.Participants}).Validate(); err != nil {
		return greenAPIInvalid(err)
	}
	if o.BackgroundColor != "" {
		if err := (greenapi.VoiceStatus{URLFile: link, FileName: "status.mp3", BackgroundColor: o.BackgroundColor}).Validate(); err != nil {
			return greenAPIInvalid(err)
		}
	}
	return nil
}

// greenAPIInvalid turns a greenapi validation error into a 400 naming the
// field; the field names of Green API and of this API are the same.
func greenAPIInvalid(err error) *apiError {
	e, ok := errors.AsType[*greenapi.Error](err)
	if !ok {
		return invalidf("", "%v", err)
	}
	field := e.Field
	if field == "message" {
		field = "text"
	}
	msg := e.Message
	if field == "text" {
		msg = strings.ReplaceAll(msg, "message: ", "text: ")
	}
	return invalidf(field, "%s", msg)
}

// textRequest is the JSON body of a text status.
type textRequest struct {
	Text            string        `json:"text"`
	Font            string        `json:"font,omitempty"`
	BackgroundColor string        `json:"backgroundColor"`
	Participants    []string      `json:"participants,omitempty"`
	PublishAt       publishAtJSON `json:"publishAt,omitzero"` // schedule.go
}

// postText reads a text status from a JSON or urlencoded body.
func (a *API) postText(w http.ResponseWriter, r *http.Request, mediaType string) (queue.Job, *apiError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTextBody)
	id := newJobID()
	info(r).jobID = id
	var opts queue.Options
	var at time.Time
	if mediaType == "application/json" {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		var t textRequest
		if err := dec.Decode(&t); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return queue.Job{}, &apiError{status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("a text status body is at most %d bytes", maxTextBody)}
			}
			return queue.Job{}, invalidf("", "JSON body: %v", err)
		}
		if dec.More() {
			return queue.Job{}, invalidf("", "JSON body: one object expected")
		}
		opts = queue.Options{Text: t.Text, Font: t.Font, BackgroundColor: t.BackgroundColor, Participants: t.Participants}
		if aerr := a.checkParticipants(opts.Participants); aerr != nil {
			return queue.Job{}, aerr
		}
		var aerr *apiError
		if at, aerr = a.publishAt(string(t.PublishAt)); aerr != nil {
			return queue.Job{}, aerr
		}
	} else {
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return queue.Job{}, &apiError{status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("a text status body is at most %d bytes", maxTextBody)}
			}
			return queue.Job{}, invalidf("", "form body: %v", err)
		}
		n := 0
		for name, vs := range r.PostForm {
			if !formFields[name] {
				return queue.Job{}, invalidf(name, "unknown field %q; a text status has text, font, backgroundColor, participants, publishAt", name)
			}
			if n += len(vs); n > a.cfg.MaxFormFields {
				return queue.Job{}, a.tooManyFields(name)
			}
		}
		var aerr *apiError
		if opts, aerr = optionsOf(r.PostForm, false); aerr == nil {
			aerr = a.checkParticipants(opts.Participants)
		}
		if aerr == nil {
			at, aerr = a.publishAt(r.PostForm.Get("publishAt"))
		}
		if aerr != nil {
			if aerr.Field == "file" {
				aerr = invalidf("text", "required")
			}
			return queue.Job{}, aerr
		}
	}
	return a.enqueueText(r.Context(), id, opts, at)
}

// enqueueText checks a text status by sendTextStatus's rules and queues it.
func (a *API) enqueueText(ctx context.Context, id string, o queue.Options, at time.Time) (queue.Job, *apiError) {
	st := greenapi.TextStatus{Message: o.Text, BackgroundColor: o.BackgroundColor, Font: o.Font, Participants: o.Participants}
	if err := st.Validate(); err != nil {
		return queue.Job{}, greenAPIInvalid(err)
	}
	job, err := a.jobs.Enqueue(ctx, queue.Job{ID: id, Origin: queue.OriginUpload, Options: o, PublishAt: at})
	switch {
	case errors.Is(err, queue.ErrQueueFull):
		return queue.Job{}, queueFull(err)
	case err != nil:
		return queue.Job{}, unavailable("the queue", err)
	}
	return job, nil
}

// cleanFileName returns the base name of an uploaded file's name, valid
// UTF-8 without control characters, at most 255 bytes with its extension
// kept; "upload" when nothing is left.
func cleanFileName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = s[strings.LastIndexAny(s, `/\`)+1:]
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" || s == "." || s == ".." {
		return "upload"
	}
	stem, ext := splitExt(s)
	return truncate(stem, 255-len(ext)) + ext
}

// keyName is a file name made safe for an object key and a link: ASCII
// letters, digits, '.', '-' and '_' only, neither starting nor ending the
// name with '.' or '_', at most 100 bytes with the extension kept.
func keyName(name string) string {
	stem, ext := splitExt(name)
	var b strings.Builder
	for _, r := range stem {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-') {
			r = '_'
		}
		if r == '_' && strings.HasSuffix(b.String(), "_") {
			continue
		}
		b.WriteRune(r)
	}
	stem = strings.Trim(truncate(b.String(), 100-len(ext)), "._")
	if stem == "" {
		stem = "upload"
	}
	return stem + ext
}

// splitExt splits off an extension of a dot and 1 to 15 ASCII letters or
// digits; a leading dot is not one.
func splitExt(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i < 2 || len(name)-i > 16 {
		return name, ""
	}
	for _, c := range []byte(name[i+1:]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return name, ""
		}
	}
	return name[:i], name[i:]
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
