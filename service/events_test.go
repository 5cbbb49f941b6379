package service

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/queue"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name, id string
	job      queue.Job
}

// sseReader reads events off a stream, skipping comments and retry lines.
type sseReader struct {
	t  *testing.T
	br *bufio.Reader
}

func (s *sseReader) next() sseEvent {
	s.t.Helper()
	var ev sseEvent
	var data string
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && data != "":
			if err := json.Unmarshal([]byte(data), &ev.job); err != nil {
				s.t.Fatalf("event data %q: %v", data, err)
			}
			return ev
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// eventsAPI is an API over a real queue (embedded NATS), so that
// /v1/events watches real job records.
func eventsAPI(t *testing.T, cfg APIConfig) (*API, *queue.Queue, *httptest.Server) {
	t.Helper()
	q := embeddedQueue(t, queue.Config{})
	cfg.SpoolDir = t.TempDir()
	api, err := NewAPI(cfg, q, newFakeBucket())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(api.CloseEvents) // before srv.Close, which waits for handlers
	return api, q, srv
}

func get(t *testing.T, url, key string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return answer{StatusCode: resp.StatusCode, Header: resp.Header, Body: resp.Body}
}

// answer is a response whose body the test's cleanup closes.
type answer struct {
	StatusCode int
	Header     http.Header
	Body       io.Reader
}

// TestEvents: a stream of some jobs starts with their records and follows
// their changes; a stream resumed with Last-Event-ID gets what changed
// since; streams need the key, are bounded, and end on CloseEvents.
func TestEvents(t *testing.T) {
	const key = "events-key"
	api, q, srv := eventsAPI(t, APIConfig{Keys: []string{key}, Events: EventsConfig{MaxStreams: 1}})
	ctx := t.Context()
	a, err := q.Enqueue(ctx, queue.Job{Name: "a.jpg"})
	if err != nil {
		t.Fatal(err)
	}

	if resp := get(t, srv.URL+"/v1/events", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a key: %d", resp.StatusCode)
	}
	resp := get(t, srv.URL+"/v1/events?jobs="+a.ID, key, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sr := &sseReader{t: t, br: bufio.NewReader(resp.Body)}
	first := sr.next()
	if first.name != "job" || first.id == "" || first.job.ID != a.ID || first.job.State != queue.StateQueued {
		t.Fatalf("first event %+v, want a queued", first)
	}
	if busy := get(t, srv.URL+"/v1/events", key, nil); busy.StatusCode != http.StatusServiceUnavailable || busy.Header.Get("Retry-After") == "" {
		t.Errorf("a second stream over MaxStreams 1: %d", busy.StatusCode)
	}
	if _, err := q.Update(ctx, a.ID, func(j *queue.Job) error { j.State = queue.StatePosted; return nil }); err != nil {
		t.Fatal(err)
	}
	if ev := sr.next(); ev.job.State != queue.StatePosted || ev.id == first.id {
		t.Errorf("second event %+v, want a posted", ev)
	}

	// CloseEvents ends the stream (the server shuts down).
	api.CloseEvents()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	if err := testutil.Receive(t, done, 30*time.Second, "the stream to end on CloseEvents"); err != nil {
		t.Errorf("stream after CloseEvents: %v", err)
	}
}

// TestEventsResume: Last-Event-ID resumes after that event.
func TestEventsResume(t *testing.T) {
	_, q, srv := eventsAPI(t, APIConfig{})
	ctx := t.Context()
	a, _ := q.Enqueue(ctx, queue.Job{Name: "a.jpg"})
	b, _ := q.Enqueue(ctx, queue.Job{Name: "b.jpg"})
	sr := &sseReader{t: t, br: bufio.NewReader(get(t, srv.URL+"/v1/events?jobs="+a.ID+","+b.ID, "", nil).Body)}
	seen := sr.next()
	if seen.job.ID != a.ID {
		t.Fatalf("first event %+v, want a", seen)
	}
	// Missed while disconnected: b's record and its change.
	if _, err := q.Update(ctx, b.ID, func(j *queue.Job) error { j.State = queue.StateFailed; j.ErrorCode = "corrupt_media"; return nil }); err != nil {
		t.Fatal(err)
	}
	sr = &sseReader{t: t, br: bufio.NewReader(get(t, srv.URL+"/v1/events?jobs="+a.ID+","+b.ID, "", map[string]string{"Last-Event-ID": seen.id}).Body)}
	if ev := sr.next(); ev.job.ID != b.ID || ev.job.State != queue.StateFailed || ev.job.ErrorCode != "corrupt_media" {
		t.Errorf("resumed: %+v, want b failed", ev)
	}

	head, err := http.Head(srv.URL + "/v1/events")
	if err != nil || head.StatusCode != 200 || head.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD: %v %v", head, err)
	} else {
		head.Body.Close()
	}

	for _, tt := range []struct{ query, lastID string }{
		{"?jobs=a.b", ""},
		{"", "yesterday"},
		{"?jobs=" + strings.Repeat("x,", DefaultEventMaxJobs+1), ""},
	} {
		resp := get(t, srv.URL+"/v1/events"+tt.query, "", map[string]string{"Last-Event-ID": tt.lastID})
		var body struct{ Error apiError }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusBadRequest || body.Error.Code != codeInvalidRequest {
			t.Errorf("%q Last-Event-ID %q: %d %+v", tt.query, tt.lastID, resp.StatusCode, body)
		}
	}
}

// TestInfo: /v1/info says what the server offers; only the fonts, crops
// and fits the API accepts.
func TestInfo(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Keys: []string{"k"}, MaxUploadBytes: 5 << 20})
	if resp := get(t, ta.srv.URL+"/v1/info", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a key: %d", resp.StatusCode)
	}
	resp := get(t, ta.srv.URL+"/v1/info", "k", nil)
	var info serverInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("info: %d %v", resp.StatusCode, err)
	}
	if !info.Auth || info.Events || info.JobList || !info.Scheduling || info.Cancel || len(info.Accounts) != 0 || info.MaxUploadBytes != 5<<20 || info.MaxCaption != 1024 || info.MaxText != 500 {
		t.Errorf("info %+v", info)
	}
	for _, f := range info.Fonts {
		if err := (greenapi.TextStatus{Message: "hi", BackgroundColor: "#000000", Font: f}).Validate(); err != nil {
			t.Errorf("font %s refused: %v", f, err)
		}
	}
	for _, c := range info.Crops {
		if aerr := checkFileRequest(queue.Request{Crop: c}); aerr != nil {
			t.Errorf("crop %s refused: %v", c, aerr)
		}
	}
	for _, f := range info.VideoFits {
		if aerr := checkFileRequest(queue.Request{VideoFit: f}); aerr != nil {
			t.Errorf("videoFit %s refused: %v", f, aerr)
		}
	}
}

// TestOpenAPIDocumentWeb: api/openapi.yaml describes the web page's routes.
func TestOpenAPIDocumentWeb(t *testing.T) {
	doc, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/v1/events:", "/v1/info:", "Last-Event-ID", "text/event-stream", "Info:", "  /:\n"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("api/openapi.yaml does not mention %q", want)
		}
	}
	for f := range reflect.TypeFor[serverInfo]().Fields() {
		field, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !strings.Contains(string(doc), "        "+field+":\n") {
			t.Errorf("api/openapi.yaml: Info lacks %s", field)
		}
	}
}

// TestEventsOutliveRequestDeadlines: a stream served by API.Server lives
// past the HTTP read and write timeouts that bound every other route (a
// read deadline would cancel its context through net/http's background
// read; a write deadline would cut it at the first event after it).
func TestEventsOutliveRequestDeadlines(t *testing.T) {
	const timeout = 200 * time.Millisecond
	api, q, _ := eventsAPI(t, APIConfig{HTTP: HTTPConfig{ReadTimeout: timeout, WriteTimeout: timeout}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, limited := api.Server(ln)
	srv.RegisterOnShutdown(api.CloseEvents)
	go func() { _ = srv.Serve(limited) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx := t.Context()
	a, err := q.Enqueue(ctx, queue.Job{Name: "a.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, "http://"+ln.Addr().String()+"/v1/events?jobs="+a.ID, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	sr := &sseReader{t: t, br: bufio.NewReader(resp.Body)}
	if ev := sr.next(); ev.job.State != queue.StateQueued {
		t.Fatalf("first event %+v", ev)
	}
	time.Sleep(5 * timeout) // past both deadlines: the stream must not care
	if _, err := q.Update(ctx, a.ID, func(j *queue.Job) error { j.State = queue.StatePosted; return nil }); err != nil {
		t.Fatal(err)
	}
	if ev := sr.next(); ev.job.State != queue.StatePosted {
		t.Errorf("event after the deadlines %+v, want posted", ev)
	}
}
