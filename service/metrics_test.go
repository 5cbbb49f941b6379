package service

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mediaprep/mediaprep/queue"
)

// scrape returns the metrics as /metrics shows them.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: status %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("metrics lack %q", l)
		}
	}
}

func TestTransportCountsGreenAPIResponses(t *testing.T) {
	const token = "d75b3a66374942c5b3c019c698abc2067e151558acbd412b"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/sendTextStatus/") {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"too many requests"}`, http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"idMessage":"BAE5"}`) // a failed write shows as a failed send in the test
	}))
	defer srv.Close()

	m := NewMetrics()
	client := &http.Client{Transport: m.Transport(srv.Client().Transport)}
	get := func(base, method string) error {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/waInstance1101000001/"+method+"/"+token, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			resp.Body.Close()
			return err
		}
		return resp.Body.Close()
	}
	for _, method := range []string{"sendMediaStatus", "sendMediaStatus", "sendTextStatus", "sendVoiceStatus"} {
		if err := get(srv.URL, method); err != nil {
			t.Fatal(err)
		}
	}
	// A transport error: nothing listens there any more.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if err := get(dead.URL, "sendMediaStatus"); err == nil {
		t.Fatal("no error from a closed server")
	}
	// A path whose second segment is the token is not counted as a method.
	if err := get(srv.URL+"/waInstance1101000001/"+token, ""); err != nil {
		t.Fatal(err)
	}

	text := scrape(t, m)
	wantLines(t, text,
		`mediaprep_greenapi_responses_total{code="200",method="sendMediaStatus"} 2`,
		`mediaprep_greenapi_responses_total{code="429",method="sendTextStatus"} 1`,
		`mediaprep_greenapi_responses_total{code="200",method="sendVoiceStatus"} 1`,
		`mediaprep_greenapi_responses_total{code="error",method="sendMediaStatus"} 1`,
		`mediaprep_greenapi_responses_total{code="200",method="other"} 1`,
	)
	for _, secret := range []string{token, token[:12], "waInstance", srv.URL} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
}

func TestGreenAPIMethod(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/waInstance1101/sendMediaStatus/tok", "sendMediaStatus"},
		{"/waInstance1101/getOutgoingStatuses/tok", "getOutgoingStatuses"},
		{"/api/waInstance1101/getSettings/tok/", "getSettings"},
		{"/waInstance1101/tok", "other"},
		{"/waInstance1101/abc123def/x", "other"},
		{"/waInstance1101/send-status/tok", "other"},
		{"/waInstance1101//tok", "other"},
		{"/sendMediaStatus/tok", "other"},
		{"/", "other"},
	}
	for _, tt := range tests {
		if got := greenAPIMethod(tt.path); got != tt.want {
			t.Errorf("greenAPIMethod(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestQueueDepth(t *testing.T) {
	m := NewMetrics()
	if strings.Contains(scrape(t, m), "mediaprep_queue_depth") {
		t.Error("a depth gauge before QueueDepth was called")
	}
	m.QueueDepth(func(ctx context.Context) (int, error) {
		if _, ok := ctx.Deadline(); !ok {
			return 0, errors.New("no deadline")
		}
		return 7, nil
	})
	wantLines(t, scrape(t, m), "mediaprep_queue_depth 7")

	m.QueueDepth(func(ctx context.Context) (int, error) { return 0, errors.New("nats: timeout") })
	wantLines(t, scrape(t, m), "mediaprep_queue_depth -1")

	m.QueueDepth(func(ctx context.Context) (int, error) {
		<-ctx.Done() // a queue that never answers: the scrape still ends
		return 0, ctx.Err()
	})
	start := time.Now()
	wantLines(t, scrape(t, m), "mediaprep_queue_depth -1")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the scrape took %v", d)
	}
}

func TestMetricsRecord(t *testing.T) {
	m := NewMetrics()
	m.JobState(queue.StateQueued)
	m.JobState(queue.StateQueued)
	m.JobState(queue.StateFailed)
	m.Stage("preparing", 1500*time.Millisecond)
	m.FFmpeg(2 * time.Second)
	m.FFmpeg(500 * time.Millisecond)
	m.Upload("accepted", 1000)
	m.Upload("too_large", 0)
	text := scrape(t, m)
	wantLines(t, text,
		`mediaprep_jobs_total{state="queued"} 2`,
		`mediaprep_jobs_total{state="failed"} 1`,
		`mediaprep_stage_seconds_count{stage="preparing"} 1`,
		`mediaprep_stage_seconds_bucket{stage="preparing",le="2.5"} 1`,
		`mediaprep_ffmpeg_seconds_total 2.5`,
		`mediaprep_uploads_total{code="accepted"} 1`,
		`mediaprep_uploads_total{code="too_large"} 1`,
		`mediaprep_upload_bytes_total 1000`,
	)
	for _, family := range []string{"go_goroutines", "process_"} {
		if !strings.Contains(text, family) {
			t.Errorf("no %s metrics", family)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.JobState(queue.StatePosted)
	m.Stage("storing", time.Second)
	m.FFmpeg(time.Second)
	m.Upload("accepted", 1)
	m.QueueDepth(func(context.Context) (int, error) { return 1, nil })
	rt := http.DefaultTransport
	if got := m.Transport(rt); got != rt {
		t.Error("Transport on a nil *Metrics wraps the transport")
	}
}

// TestAPIMetrics checks that the API counts uploads by outcome and serves
// the registry at /metrics.
func TestAPIMetrics(t *testing.T) {
	m := NewMetrics()
	ta := newTestAPI(t, APIConfig{Metrics: m, MaxUploadBytes: 1 << 20})
	if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(1000))); resp.status != 202 {
		t.Fatalf("status %d", resp.status)
	}
	if resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(2<<20))); resp.status != 413 {
		t.Fatalf("status %d", resp.status)
	}
	resp := ta.do(t, http.MethodGet, "/metrics", "", nil, "")
	wantLines(t, string(resp.body),
		`mediaprep_uploads_total{code="accepted"} 1`,
		`mediaprep_uploads_total{code="too_large"} 1`,
		`mediaprep_upload_bytes_total 1000`,
		`mediaprep_jobs_total{state="queued"} 1`,
	)
}
