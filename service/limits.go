package service

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// HTTPConfig bounds what one client can hold of the server: connections,
// time and bytes. Zero values take the defaults below.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers; default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request
	// for this long; default 60 s.
	IdleTimeout time.Duration
	// ReadTimeout bounds reading a whole request, on every route but
	// uploads (whose bodies are held to MinRate instead); default 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer, on every route but /media/
	// (held to MinRate instead); default 60 s.
	WriteTimeout time.Duration
	// MinRate and MinRateWindow: an upload body, and a /media/ answer, must
	// move at least MinRate bytes every MinRateWindow, or the connection
	// is cut (an upload gets 408 too_slow and its spool file is removed);
	// defaults 16 KiB and 30 s.
	MinRate       int64
	MinRateWindow time.Duration
	// MaxConns caps the connections open at once; default 1024. A new
	// connection beyond it closes the one idle (or silent since it opened)
	// the longest; when every connection is busy it waits for one to end.
	MaxConns int
}

// Defaults of HTTPConfig and of the form limits of APIConfig.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultMinRate           = 16 << 10
	DefaultMinRateWindow     = 30 * time.Second
	DefaultMaxConns          = 1024
	DefaultMaxFormFields     = 1000
	DefaultMaxParticipants   = 1000
	DefaultMinFreeBytes      = 512 << 20
)

func (c HTTPConfig) withDefaults() HTTPConfig {
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.MinRateWindow = cmp.Or(c.MinRateWindow, DefaultMinRateWindow)
	c.MinRate = cmp.Or(c.MinRate, DefaultMinRate)
	c.MaxConns = cmp.Or(c.MaxConns, DefaultMaxConns)
	return c
}

// Validate reports every bad setting at once.
func (c HTTPConfig) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReadHeaderTimeout", c.ReadHeaderTimeout}, {"IdleTimeout", c.IdleTimeout}, {"ReadTimeout", c.ReadTimeout},
		{"WriteTimeout", c.WriteTimeout}, {"MinRateWindow", c.MinRateWindow}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("service: HTTP %s %s is negative", d.name, d.v))
		}
	}
	if c.MinRate < 0 {
		errs = append(errs, fmt.Errorf("service: HTTP MinRate %d is negative", c.MinRate))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("service: HTTP MaxConns %d is negative", c.MaxConns))
	}
	return errors.Join(errs...)
}

// Server returns an http.Server for the API with the limits of
// APIConfig.HTTP, and ln wrapped to cap the connections open at once:
// serve with srv.Serve(limited).
func (a *API) Server(ln net.Listener) (srv *http.Server, limited net.Listener) {
	h := a.cfg.HTTP
	cl := newConnLimiter(ln, h.MaxConns)
	return &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		IdleTimeout:       h.IdleTimeout,
		// ReadTimeout and WriteTimeout stay 0: deadlines are set per route
		// (deadlines), so that uploads are held to a rate, not a time.
		ConnState: cl.connState,
	}, cl
}

// errTooSlow: an upload body fell below the minimum rate.
var errTooSlow = errors.New("the request body is too slow")

// deadlines sets each request's deadlines on its connection: an upload's
// body must keep to MinRate (its answer gets WriteTimeout once it starts),
// a /media/ answer too (its request gets ReadTimeout), every other request
// gets ReadTimeout and WriteTimeout. Where the connection cannot take
// deadlines (a test recorder), nothing is set.
func (a *API) deadlines(next http.Handler) http.Handler {
	h := a.cfg.HTTP
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/statuses":
			g := &rateGuard{set: rc.SetReadDeadline, min: h.MinRate, window: h.MinRateWindow}
			g.extend()
			r.Body = &rateReader{ReadCloser: r.Body, g: g}
			w = &answerDeadline{ResponseWriter: w, set: func() { _ = rc.SetWriteDeadline(time.Now().Add(h.WriteTimeout)) }}
		case strings.HasPrefix(r.URL.Path, "/media/"):
			_ = rc.SetReadDeadline(now.Add(h.ReadTimeout))
			g := &rateGuard{set: rc.SetWriteDeadline, min: h.MinRate, window: h.MinRateWindow}
			g.extend()
			w = &rateWriter{ResponseWriter: w, g: g}
		case r.URL.Path == "/v1/events":
			// A long-lived stream: a read deadline would cancel its
			// context (net/http's background read), and its handler sets
			// a write deadline before each event (streamEventsLongLived);
			// EventsConfig.MaxDuration bounds it.
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(now.Add(h.WriteTimeout))
		default:
			_ = rc.SetReadDeadline(now.Add(h.ReadTimeout))
			_ = rc.SetWriteDeadline(now.Add(h.WriteTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// rateGuard moves a deadline window ahead each time min more bytes went
// through: a transfer slower than min bytes a window hits the deadline.
type rateGuard struct {
	set    func(time.Time) error
	min    int64
	window time.Duration
	n      int64 // bytes since the last extension
}

func (g *rateGuard) extend() {
	g.n = 0
	_ = g.set(time.Now().Add(g.window))
}

func (g *rateGuard) moved(n int) {
	if g.n += int64(n); g.n >= g.min {
		g.extend()
	}
}

// rateReader is a request body held to its guard's rate; a read past the
// deadline fails with errTooSlow.
type rateReader struct {
	io.ReadCloser
	g *rateGuard
}

func (r *rateReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.g.moved(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w (under %d bytes in %s): %w", errTooSlow, r.g.min, r.g.window, err)
	}
	return n, err
}

// rateWriter is an answer held to its guard's rate.
type rateWriter struct {
	http.ResponseWriter
	g *rateGuard
}

func (w *rateWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.g.moved(n)
	return n, err
}

func (w *rateWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answerDeadline calls set when the answer starts.
type answerDeadline struct {
	http.ResponseWriter
	set     func()
	started bool
}

func (w *answerDeadline) start() {
	if !w.started {
		w.started = true
		w.set()
	}
}

func (w *answerDeadline) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerDeadline) Write(p []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(p)
}

func (w *answerDeadline) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (a *API) tooManyFields(name string) *apiError {
	return &apiError{status: http.StatusBadRequest, Code: codeTooManyFields, Field: name,
		Message: fmt.Sprintf("more than %d form fields", a.cfg.MaxFormFields)}
}

func (a *API) checkParticipants(p []string) *apiError {
	if len(p) > a.cfg.MaxParticipants {
		return &apiError{status: http.StatusBadRequest, Code: codeTooManyPartic, Field: "participants",
			Message: fmt.Sprintf("%d participants; at most %d", len(p), a.cfg.MaxParticipants)}
	}
	return nil
}
