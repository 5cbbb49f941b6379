package greenapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

var text = greenapi.TextStatus{Message: "hello", BackgroundColor: "#228B22"}

func sendText(ctx context.Context, c *greenapi.Client) error {
	_, err := c.SendTextStatus(ctx, text)
	return err
}

// wantError checks err's code, sentinel, HTTP status and attempts.
func wantError(t *testing.T, err error, code string, sentinel error, status, attempts int) (message string) {
	t.Helper()
	var e *greenapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *greenapi.Error", err)
	}
	if e.Code != code || greenapi.CodeOf(err) != code {
		t.Errorf("code %q, want %q (%v)", e.Code, code, err)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%v is not %v", err, sentinel)
	}
	if e.HTTPStatus != status {
		t.Errorf("HTTPStatus %d, want %d", e.HTTPStatus, status)
	}
	if e.Attempts != attempts {
		t.Errorf("Attempts %d, want %d", e.Attempts, attempts)
	}
	return e.Message
}

func TestRetriedThenSuccess(t *testing.T) {
	tests := []struct {
		name   string
		faults []greenapitest.Fault
	}{
		{"429 without Retry-After", []greenapitest.Fault{{Status: 429}}},
		{"500 502 503", []greenapitest.Fault{{Status: 500}, {Status: 502}, {Status: 503}}},
		{"499 503", []greenapitest.Fault{{Status: 499}, {Status: 503}}},
		{"four failures, fifth attempt succeeds", []greenapitest.Fault{{Status: 503}, {Status: 429}, {Status: 502}, {Status: 500}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := newStandIn(t, nil)
			srv.Inject("sendTextStatus", tt.faults...)
			if err := sendText(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if n, want := srv.Count("sendTextStatus"), len(tt.faults)+1; n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
			if len(srv.Posted()) != 1 {
				t.Errorf("posted %d statuses, want 1", len(srv.Posted()))
			}
			noProtocolErrors(t, srv)
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter func() string
		minGap     time.Duration
	}{
		{"seconds", func() string { return "1" }, time.Second},
		// HTTP dates have one-second resolution: now+3s truncated is ≥ now+2s.
		{"http date", func() string { return time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat) }, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := newStandIn(t, nil)
			srv.Inject("sendTextStatus", greenapitest.Fault{Status: 429, RetryAfter: tt.retryAfter()})
			if err := sendText(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			calls := srv.Requests()
			if len(calls) != 2 || calls[0].Status != 429 || calls[1].Status != 200 {
				t.Fatalf("calls %+v", calls)
			}
			if gap := calls[1].Time.Sub(calls[0].Time); gap < tt.minGap {
				t.Errorf("retried after %v, Retry-After asked for at least %v", gap, tt.minGap)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		attempts int
	}{
		{"429", 429, "rate_limited", 5},
		{"503", 503, "server_error", 5},
		{"500", 500, "server_error", 3},
		{"502", 502, "server_error", 2},
		{"499", 499, "server_error", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := newStandIn(t, func(cfg *greenapi.Config) {
				if tt.attempts != 5 {
					cfg.MaxAttempts = tt.attempts
				}
			})
			for range tt.attempts + 2 {
				srv.Inject("sendTextStatus", greenapitest.Fault{Status: tt.status})
			}
			err := sendText(t.Context(), c)
			wantError(t, err, tt.code, greenapi.ErrRetryExhausted, tt.status, tt.attempts)
			if n := srv.Count(""); n != tt.attempts {
				t.Errorf("%d requests, want %d", n, tt.attempts)
			}
		})
	}
}

func TestPermanentErrorsNotRetried(t *testing.T) {
	tests := []struct {
		name    string
		fault   greenapitest.Fault
		code    string
		message string
	}{
		{"400", greenapitest.Fault{Status: 400, Body: `{"message":"Validation failed"}`}, "bad_request", "Validation failed"},
		{"401", greenapitest.Fault{Status: 401}, "unauthorized", "apiTokenInstance rejected"},
		{"403", greenapitest.Fault{Status: 403}, "forbidden", "request it from Green API support"},
		{"466 with invokeStatus", greenapitest.Fault{Status: 466}, "quota_exceeded", "Monthly quota of the plan is used up"},
		{"466 plain", greenapitest.Fault{Status: 466, Body: "quota"}, "quota_exceeded", "quota"},
		{"500 upload size", greenapitest.Fault{Status: 500, Body: "file from url exceeded max upload size. Size: 120mb Limit: 100mb"}, "server_error", "exceeded max upload size"},
		{"501", greenapitest.Fault{Status: 501}, "server_error", "Not Implemented"},
		{"404", greenapitest.Fault{Status: 404}, "bad_request", "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := newStandIn(t, nil)
			srv.Inject("", tt.fault, tt.fault, tt.fault)
			err := sendText(t.Context(), c)
			msg := wantError(t, err, tt.code, greenapi.ErrPermanent, tt.fault.Status, 1)
			if !strings.Contains(msg, tt.message) {
				t.Errorf("message %q does not say %q", msg, tt.message)
			}
			if n := srv.Count(""); n != 1 {
				t.Errorf("%d requests, want exactly 1", n)
			}
		})
	}
}

func TestLongErrorBodyTrimmed(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	srv.Inject("", greenapitest.Fault{Status: 400, Body: strings.Repeat("ошибка ", 1000)})
	msg := wantError(t, sendText(t.Context(), c), "bad_request", greenapi.ErrPermanent, 400, 1)
	if len(msg) > 500 {
		t.Errorf("message is %d bytes", len(msg))
	}
	if !strings.HasSuffix(msg, "…") || !strings.Contains(msg, "ошибка") {
		t.Errorf("message %q", msg)
	}
}

// A send that may have reached the server is never retried.
func TestGatewayTimeoutOnSendIsOutcomeUnknown(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	srv.Inject("sendTextStatus", greenapitest.Fault{Status: 504, Accept: true})
	wantError(t, sendText(t.Context(), c), "outcome_unknown", greenapi.ErrOutcomeUnknown, 504, 1)
	if n := srv.Count("sendTextStatus"); n != 1 {
		t.Errorf("%d requests after a 504, want 1: the gateway may have passed the status on", n)
	}
}

func TestLostSendAnswerIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	files := media(t)
	tests := []struct {
		name     string
		fault    greenapitest.Fault
		send     func(context.Context, *greenapi.Client) error
		accepted int
	}{
		{"text hangs, accepted", greenapitest.Fault{Hang: true, Accept: true}, func(ctx context.Context, c *greenapi.Client) error {
			_, err := c.SendTextStatus(ctx, text)
			return err
		}, 1},
		{"media hangs, not accepted", greenapitest.Fault{Hang: true}, func(ctx context.Context, c *greenapi.Client) error {
			_, err := c.SendMediaStatus(ctx, greenapi.MediaStatus{URLFile: files.URL + "/img.jpg", FileName: "img.jpg"})
			return err
		}, 0},
		{"voice answer too late, accepted", greenapitest.Fault{Delay: 10 * time.Second, Accept: true}, func(ctx context.Context, c *greenapi.Client) error {
			_, err := c.SendVoiceStatus(ctx, greenapi.VoiceStatus{URLFile: files.URL + "/voice.mp3", FileName: "voice.mp3"})
			return err
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := newStandIn(t, func(cfg *greenapi.Config) {
				cfg.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
			})
			srv.Inject("", tt.fault, tt.fault, tt.fault)
			err := tt.send(t.Context(), c)
			msg := wantError(t, err, "outcome_unknown", greenapi.ErrOutcomeUnknown, 0, 1)
			if !strings.Contains(msg, "getOutgoingStatuses") {
				t.Errorf("message %q does not point to getOutgoingStatuses", msg)
			}
			if n := srv.Count(""); n != 1 {
				t.Errorf("%d requests, want exactly 1 (no retry)", n)
			}
			if n := len(srv.Posted()); n != tt.accepted {
				t.Errorf("posted %d, want %d", n, tt.accepted)
			}
			if tt.accepted > 0 {
				// What the message tells the user to do finds the status.
				out, err := c.GetOutgoingStatuses(t.Context(), 5)
				if err != nil || len(out) != 1 || out[0].IDMessage != srv.Posted()[0].IDMessage {
					t.Errorf("getOutgoingStatuses = %+v, %v", out, err)
				}
			}
		})
	}
}

// resetServer reads each request fully, then drops the connection.
func resetServer(t *testing.T) (*httptest.Server, func() int) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		buf := make([]byte, 1<<16)
		for {
			if _, err := r.Body.Read(buf); err != nil {
				break
			}
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST instead of FIN // best effort: without it the test still sees a closed connection
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func TestConnectionResetAfterWrite(t *testing.T) {
	t.Run("send is not retried", func(t *testing.T) {
		srv, count := resetServer(t)
		c, _ := newClient(t, srv.URL, nil)
		wantError(t, sendText(t.Context(), c), "outcome_unknown", greenapi.ErrOutcomeUnknown, 0, 1)
		if count() != 1 {
			t.Errorf("%d requests, want 1", count())
		}
	})
	t.Run("get is retried", func(t *testing.T) {
		srv, count := resetServer(t)
		c, _ := newClient(t, srv.URL, func(cfg *greenapi.Config) { cfg.MaxAttempts = 3 })
		_, err := c.GetOutgoingStatuses(t.Context(), 0)
		wantError(t, err, "network_error", greenapi.ErrRetryExhausted, 0, 3)
		if count() != 3 {
			t.Errorf("%d requests, want 3", count())
		}
	})
	t.Run("delete is retried", func(t *testing.T) {
		srv, count := resetServer(t)
		c, _ := newClient(t, srv.URL, func(cfg *greenapi.Config) { cfg.MaxAttempts = 2 })
		wantError(t, c.DeleteStatus(t.Context(), "3EB0C767D097B7C7C030"), "network_error", greenapi.ErrRetryExhausted, 0, 2)
		if count() != 2 {
			t.Errorf("%d requests, want 2", count())
		}
	})
}

// closedURL returns the URL of a server that no longer listens.
func closedURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

func TestRefusedConnectionIsRetried(t *testing.T) {
	c, logs := newClient(t, closedURL(t), func(cfg *greenapi.Config) { cfg.MaxAttempts = 3 })
	msg := wantError(t, sendText(t.Context(), c), "network_error", greenapi.ErrRetryExhausted, 0, 3)
	if !strings.Contains(msg, "refused") {
		t.Errorf("message %q", msg)
	}
	if n := strings.Count(logs.String(), `"msg":"greenapi request"`); n != 3 {
		t.Errorf("%d request log lines, want 3:\n%s", n, logs)
	}
}

func TestGetTimeoutsRetried(t *testing.T) {
	t.Parallel()
	timeout := func(cfg *greenapi.Config) {
		cfg.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
		cfg.MaxAttempts = 3
	}
	for _, tt := range []struct {
		name, method string
		faults       []greenapitest.Fault
		call         func(context.Context, *greenapi.Client) error
		requests     int
	}{
		{"then success", "getOutgoingStatuses", []greenapitest.Fault{{Hang: true}, {Delay: time.Second}},
			func(ctx context.Context, c *greenapi.Client) error {
				_, err := c.GetOutgoingStatuses(ctx, 0)
				return err
			}, 3},
		{"statistic then success", "getStatusStatistic", []greenapitest.Fault{{Hang: true}},
			func(ctx context.Context, c *greenapi.Client) error {
				_, err := c.GetStatusStatistic(ctx, "3EB0C767D097B7C7C030")
				return err
			}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := newStandIn(t, timeout)
			srv.Inject(tt.method, tt.faults...)
			if err := tt.call(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if n := srv.Count(""); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
	t.Run("exhausted", func(t *testing.T) {
		t.Parallel()
		srv, c, _ := newStandIn(t, timeout)
		srv.Inject("", greenapitest.Fault{Hang: true}, greenapitest.Fault{Hang: true}, greenapitest.Fault{Hang: true})
		_, err := c.GetOutgoingStatuses(t.Context(), 0)
		wantError(t, err, "timeout", greenapi.ErrRetryExhausted, 0, 3)
		if n := srv.Count(""); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
}

func TestCancelDuringBackoff(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	srv.Inject("", greenapitest.Fault{Status: 429, RetryAfter: "30"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := sendText(ctx, c)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned after %v", d)
	}
	wantError(t, err, "canceled", context.Canceled, 429, 1)
	if errors.Is(err, greenapi.ErrOutcomeUnknown) {
		t.Error("a send answered 429 cannot have been posted")
	}
	if n := srv.Count(""); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestCancelWhileSendInFlight(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	srv.Inject("", greenapitest.Fault{Hang: true, Accept: true})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for srv.Count("") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	err := sendText(ctx, c)
	wantError(t, err, "canceled", context.Canceled, 0, 1)
	if !errors.Is(err, greenapi.ErrOutcomeUnknown) {
		t.Errorf("%v: a send canceled in flight should also be ErrOutcomeUnknown", err)
	}
}

func TestCallerDeadline(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	srv.Inject("", greenapitest.Fault{Status: 503, RetryAfter: "30"})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	wantError(t, sendText(ctx, c), "timeout", context.DeadlineExceeded, 503, 1)
}

func TestAlreadyCanceled(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	wantError(t, sendText(ctx, c), "canceled", context.Canceled, 0, 0)
	if n := srv.Count(""); n != 0 {
		t.Errorf("%d requests", n)
	}
}
