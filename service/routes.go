package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the API's routes, logging one line per request.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, allow string, h http.Handler) {
		mux.Handle(allow+" "+pattern, h)
		mux.Handle(pattern, a.methodNotAllowed(allow))
	}
	mux.Handle("POST /v1/statuses", a.requireKey(http.HandlerFunc(a.postStatus)))
	if a.cfg.List != nil {
		mux.Handle("/v1/statuses", a.methodNotAllowed("GET, HEAD, POST")) // GET: routeList
	} else {
		mux.Handle("/v1/statuses", a.methodNotAllowed(http.MethodPost))
	}
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
	a.routeList(mux)
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
