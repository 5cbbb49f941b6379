package greenapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
)

// errorTexts returns every text err and its whole tree print as.
func errorTexts(err error) []string {
	if err == nil {
		return nil
	}
	out := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	if e, ok := err.(*greenapi.Error); ok { //nolint:errorlint // this level of the tree only: the recursion below walks the rest
		out = append(out, fmt.Sprintf("%#v", *e))
	}
	switch u := err.(type) { //nolint:errorlint // walking the tree by hand is the point
	case interface{ Unwrap() error }:
		out = append(out, errorTexts(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, errorTexts(e)...)
		}
	}
	return out
}

// TestTokenNeverLeaks runs every failure path with a distinctive token and
// a debug JSON logger, and looks for the token in every error text, every
// log line and every DryRun output.
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	files := media(t)
	leakyBody := "bad request for POST /waInstance" + testID + "/sendTextStatus/" + testToken + " (token " + testToken + ")"
	short := func(cfg *greenapi.Config) {
		cfg.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
		cfg.MaxAttempts = 2
	}
	tests := []struct {
		name   string
		mod    func(*greenapi.Config)
		server func(*testing.T) string // APIURL; nil: a stand-in with faults
		faults []greenapitest.Fault
		call   func(context.Context, *greenapi.Client) error
	}{
		{name: "400 echoing the token", faults: []greenapitest.Fault{{Status: 400, Body: leakyBody}}},
		{name: "401", faults: []greenapitest.Fault{{Status: 401, Body: leakyBody}}},
		{name: "403", faults: []greenapitest.Fault{{Status: 403}}},
		{name: "466", faults: []greenapitest.Fault{{Status: 466, Body: `{"invokeStatus":{"description":"` + testToken + `"}}`}}},
		{name: "429 exhausted", mod: short, faults: []greenapitest.Fault{{Status: 429, Body: leakyBody}, {Status: 429, Body: leakyBody}}},
		{name: "503 exhausted", mod: short, faults: []greenapitest.Fault{{Status: 503, Body: leakyBody}, {Status: 503}}},
		{name: "500 upload size", faults: []greenapitest.Fault{{Status: 500, Body: "exceeded max upload size " + testToken}}},
		{name: "hanging send", mod: short, faults: []greenapitest.Fault{{Hang: true}}},
		{name: "hanging get", mod: short, faults: []greenapitest.Fault{{Hang: true}, {Hang: true}},
			call: func(ctx context.Context, c *greenapi.Client) error {
				_, err := c.GetOutgoingStatuses(ctx, 5)
				return err
			}},
		{name: "hanging delete", mod: short, faults: []greenapitest.Fault{{Hang: true}, {Hang: true}},
			call: func(ctx context.Context, c *greenapi.Client) error {
				return c.DeleteStatus(ctx, "3EB0C767D097B7C7C030")
			}},
		{name: "bad JSON answer", faults: []greenapitest.Fault{{Status: 200, Body: "not json " + testToken}}},
		{name: "bad JSON answer to a get", faults: []greenapitest.Fault{{Status: 200, Body: "<html>" + testToken}},
			call: func(ctx context.Context, c *greenapi.Client) error {
				_, err := c.GetStatusStatistic(ctx, "3EB0C767D097B7C7C030")
				return err
			}},
		{name: "wrong instance", mod: func(cfg *greenapi.Config) { cfg.IDInstance = "999" }},
		{name: "connection refused", mod: short, server: closedURL},
		{name: "connection reset", server: func(t *testing.T) string { s, _ := resetServer(t); return s.URL }},
		{name: "wrong path prefix", server: func(t *testing.T) string {
			s := greenapitest.NewServer(t, testID, testToken)
			return s.URL() + "/prefix"
		}},
		{name: "canceled in backoff", faults: []greenapitest.Fault{{Status: 429, RetryAfter: "30"}},
			call: func(ctx context.Context, c *greenapi.Client) error {
				ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				return sendText(ctx, c)
			}},
		{name: "canceled in flight", faults: []greenapitest.Fault{{Hang: true}},
			call: func(ctx context.Context, c *greenapi.Client) error {
				ctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(100*time.Millisecond, cancel)
				return sendText(ctx, c)
			}},
		{name: "redirect loop", server: newRedirectLoop},
		{name: "invalid status", call: func(ctx context.Context, c *greenapi.Client) error {
			_, err := c.SendMediaStatus(ctx, greenapi.MediaStatus{URLFile: files.URL + "/" + testToken, FileName: testToken})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var apiURL string
			var srv *greenapitest.Server
			if tt.server != nil {
				apiURL = tt.server(t)
			} else {
				srv = greenapitest.NewServer(t, testID, testToken)
				srv.Inject("", tt.faults...)
				apiURL = srv.URL()
			}
			c, logs := newClient(t, apiURL, tt.mod)
			call := tt.call
			if call == nil {
				call = sendText
			}
			err := call(t.Context(), c)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.name != "invalid status" {
				if !strings.Contains(logs.String(), "<redacted>") {
					t.Errorf("no redacted URL logged:\n%s", logs)
				}
			}
			for _, s := range errorTexts(err) {
				if strings.Contains(s, testToken) {
					t.Errorf("token in error text %q", s)
				}
			}
			// newClient's cleanup checks the log.
		})
	}

	t.Run("config and dry run", func(t *testing.T) {
		cfg := greenapi.Config{APIURL: "https://api.green-api.com", IDInstance: testID, Token: testToken}
		logs := &testutil.SyncBuffer{}
		slog.New(slog.NewJSONHandler(logs, nil)).Info("config", "cfg", cfg)
		texts := []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), logs.String()}
		c, _ := newClient(t, "", nil)
		req, err := c.DryRun("sendTextStatus", text)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(req)
		texts = append(texts, string(out), fmt.Sprintf("%+v", req))
		bad := greenapi.Config{APIURL: "ftp://x/" + testToken, IDInstance: testToken, Token: testToken}
		texts = append(texts, errorTexts(bad.Validate())...)
		for _, s := range texts {
			if strings.Contains(s, testToken) {
				t.Errorf("token in %q", s)
			}
		}
	})
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, token, want string }{
		{"https://h/waInstance1/sendTextStatus/abc123", "abc123", "https://h/waInstance1/sendTextStatus/<redacted>"},
		{"no token here", "abc123", "no token here"},
		{"twice abc abc", "abc", "twice <redacted> <redacted>"},
		{"escaped a%2Bb and raw a+b", "a+b", "escaped <redacted> and raw <redacted>"},
		{"empty token leaves text", "", "empty token leaves text"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := greenapi.Redact(tt.in, tt.token); got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
		})
	}
}
