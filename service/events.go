package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
)

// JobWatcher is what GET /v1/events needs of the queue; *queue.Queue is
// one. Without it (APIJobs does not implement it) there is no /v1/events.
type JobWatcher interface {
	// Watch reports writes to job records until ctx ends, then closes
	// the channel; see queue.Queue.Watch.
	Watch(ctx context.Context, o queue.WatchOptions) (<-chan queue.Change, error)
}

// EventsConfig bounds GET /v1/events, the server-sent event streams of job
// state changes. Zero values take the defaults.
type EventsConfig struct {
	// MaxStreams is how many streams may be open at once; default 64.
	// More get 503 with Retry-After.
	MaxStreams int
	// MaxDuration ends a stream after this long (the client resumes with
	// Last-Event-ID); default 10 minutes.
	MaxDuration time.Duration
	// Heartbeat is how often a comment line is written when nothing
	// happens, so that proxies keep the stream and dead clients are
	// found; default 15 s.
	Heartbeat time.Duration
	// WriteTimeout bounds writing one event to a slow client; default 10 s.
	WriteTimeout time.Duration
	// MaxJobs is how many job ids one stream may name; default 200.
	MaxJobs int
}

// Defaults of EventsConfig.
const (
	DefaultMaxEventStreams     = 64
	DefaultEventStreamDuration = 10 * time.Minute
	DefaultEventHeartbeat      = 15 * time.Second
	DefaultEventWriteTimeout   = 10 * time.Second
	DefaultEventMaxJobs        = 200
)

func (c EventsConfig) withDefaults() EventsConfig {
	c.MaxStreams = cmp.Or(c.MaxStreams, DefaultMaxEventStreams)
	c.MaxDuration = cmp.Or(c.MaxDuration, DefaultEventStreamDuration)
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultEventHeartbeat)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultEventWriteTimeout)
	c.MaxJobs = cmp.Or(c.MaxJobs, DefaultEventMaxJobs)
	return c
}

// Validate reports every bad setting at once.
func (c EventsConfig) Validate() error {
	var errs []error
	if c.MaxStreams < 0 {
		errs = append(errs, fmt.Errorf("service: Events.MaxStreams %d is negative", c.MaxStreams))
	}
	if c.MaxDuration < 0 || c.Heartbeat < 0 || c.WriteTimeout < 0 {
		errs = append(errs, errors.New("service: Events durations must not be negative"))
	}
	if c.MaxJobs < 0 {
		errs = append(errs, fmt.Errorf("service: Events.MaxJobs %d is negative", c.MaxJobs))
	}
	return errors.Join(errs...)
}

// eventStreams is the state of the open streams: a slot per stream, and
// a channel closed when the server shuts down.
type eventStreams struct {
	cfg       EventsConfig
	watch     JobWatcher // nil: no /v1/events
	slots     chan struct{}
	stop      chan struct{}
	closeOnce sync.Once
}

func newEventStreams(cfg EventsConfig, jobs APIJobs) *eventStreams {
	cfg = cfg.withDefaults()
	w, _ := jobs.(JobWatcher)
	return &eventStreams{cfg: cfg, watch: w, slots: make(chan struct{}, cfg.MaxStreams), stop: make(chan struct{})}
}

// CloseEvents ends every open event stream, and makes new ones end at
// once. Call it when the server shuts down (http.Server.RegisterOnShutdown):
// Shutdown waits for handlers, and a stream would not end by itself.
func (a *API) CloseEvents() {
	a.events.closeOnce.Do(func() { close(a.events.stop) })
}

// routeWeb adds the routes the web page needs: /v1/info, /v1/events when
// the queue can be watched, and the page itself when there is one.
func (a *API) routeWeb(route func(pattern, allow string, h http.Handler)) {
	route("/v1/info", http.MethodGet, a.requireKey(http.HandlerFunc(a.getInfo)))
	if a.events.watch != nil {
		// Long-lived: exempt from per-request write deadlines. It sets
		// its own, per event (EventsConfig.WriteTimeout).
		route("/v1/events", http.MethodGet, a.requireKey(http.HandlerFunc(a.streamEventsLongLived)))
	}
	if a.cfg.Web != nil {
		// The page and its assets hold no data: public, like /healthz.
		// Every call the page makes carries the key.
		route("/{$}", http.MethodGet, a.cfg.Web)
		route("/assets/", http.MethodGet, a.cfg.Web)
	}
}

// serverInfo is GET /v1/info: what this server offers, so that a client
// (the web page) shows only what works here.
// JobList is on with APIConfig.List (GET /v1/statuses); Accounts names
// APIConfig.Accounts (empty: the default account only); Cancel is on when
// the queue can cancel (cancel.go).
type serverInfo struct {
	Auth           bool     `json:"auth"`
	Events         bool     `json:"events"`
	JobList        bool     `json:"jobList"`
	Scheduling     bool     `json:"scheduling"`
	Cancel         bool     `json:"cancel"`
	Accounts       []string `json:"accounts"`
	MaxUploadBytes int64    `json:"maxUploadBytes"`
	MaxCaption     int      `json:"maxCaption"`
	MaxText        int      `json:"maxText"`
	Fonts          []string `json:"fonts"`
	Crops          []string `json:"crops"`
	VideoFits      []string `json:"videoFits"`
}

// textFonts are the fonts sendTextStatus takes (greenapi checks them).
var textFonts = []string{"SANS_SERIF", "SERIF", "NORICAN_REGULAR", "BRYNDAN_WRITE", "OSWALD_HEAVY"}

func (a *API) getInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, serverInfo{
		Auth:           a.keys.enabled(),
		Events:         a.events.watch != nil,
		JobList:        a.cfg.List != nil,
		Scheduling:     true,          // publishAt (schedule.go)
		Cancel:         a.canCancel(), // DELETE /v1/statuses/{id} (cancel.go)
		Accounts:       append([]string{}, a.cfg.Accounts...),
		MaxUploadBytes: a.cfg.MaxUploadBytes,
		MaxCaption:     greenapi.MaxCaption,
		MaxText:        greenapi.MaxMessage,
		Fonts:          textFonts,
		Crops:          []string{"center", "smart", "pad"},
		VideoFits:      []string{"keep", "crop", "pad"},
	})
}

// streamEventsLongLived is GET /v1/events: a server-sent event stream of
// job records as they change ("event: job", "id:" the record's revision,
// "data:" the job as GET /v1/statuses/{id} gives it). ?jobs=id,id limits
// it to those jobs and starts with their current records. A client that
// reconnects with Last-Event-ID gets the latest record of each job written
// since, then the rest. The stream ends after EventsConfig.MaxDuration or
// when the server shuts down; the client reconnects.
//
// It is long-lived by design: a server-wide write timeout must not apply
// to it (it extends its own write deadline per event).
func (a *API) streamEventsLongLived(w http.ResponseWriter, r *http.Request) {
	cfg := a.events.cfg
	var o queue.WatchOptions
	if v := r.URL.Query().Get("jobs"); v != "" {
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			if !validJobID(id) {
				a.fail(w, r, invalidf("jobs", "%q is not a job id", id))
				return
			}
			o.IDs = append(o.IDs, id)
		}
		if len(o.IDs) > cfg.MaxJobs {
			a.fail(w, r, invalidf("jobs", "at most %d job ids, not %d", cfg.MaxJobs, len(o.IDs)))
			return
		}
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		rev, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			a.fail(w, r, invalidf("Last-Event-ID", "%q is not an event id of this server", v))
			return
		}
		o.After = rev
	}
	select {
	case a.events.slots <- struct{}{}:
		defer func() { <-a.events.slots }()
	default:
		a.fail(w, r, &apiError{status: http.StatusServiceUnavailable, Code: codeBusy, Message: "too many event streams open; try again shortly", retryAfter: retryBusy})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cfg.MaxDuration)
	defer cancel()
	changes, err := a.events.watch.Watch(ctx, o)
	if err != nil {
		a.fail(w, r, unavailable("the queue", err))
		return
	}
	defer func() {
		cancel()
		for range changes { // until the watch has stopped
		}
	}()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// The client waits this long before reconnecting after a drop.
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	heartbeat := time.NewTicker(cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-a.events.stop:
			return
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if !send([]byte(": keep-alive\n\n")) {
				return
			}
		case c, ok := <-changes:
			if !ok {
				return
			}
			data, err := json.Marshal(c.Job)
			if err != nil {
				continue
			}
			// JSON has no raw newlines, so one data line is the event.
			if !send(fmt.Appendf(nil, "event: job\nid: %d\ndata: %s\n\n", c.Rev, data)) {
				return
			}
		}
	}
}
