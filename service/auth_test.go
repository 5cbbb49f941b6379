package service

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Keys: []string{"first-key", "second-key"}, Metrics: NewMetrics()})
	for _, tt := range []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"no key", "", 401, `Bearer realm="mediaprep"`},
		{"wrong key", "Bearer nope", 401, `Bearer realm="mediaprep", error="invalid_token"`},
		{"a prefix of a key", "Bearer first", 401, `Bearer realm="mediaprep", error="invalid_token"`},
		{"not bearer", "Basic Zmlyc3Qta2V5", 401, `Bearer realm="mediaprep"`},
		{"the second key", "Bearer second-key", 404, ""},
		{"scheme in lower case", "bearer first-key", 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ta.srv.URL+"/v1/statuses/0123456789abcdef", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := ta.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, b, tt.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status == 401 {
				if e := (response{body: b}).apiError(t); e.Error.Code != "unauthorized" {
					t.Errorf("code %q", e.Error.Code)
				}
			}
		})
	}
	t.Run("upload without a key stores nothing", func(t *testing.T) {
		resp := ta.upload(t, "", filePart("a.jpg", jpegBytes(10<<10)))
		if resp.status != 401 {
			t.Fatalf("status %d", resp.status)
		}
		if puts, _ := ta.bucket.state(); puts != 0 {
			t.Errorf("%d PutFile calls", puts)
		}
		ta.spoolEmpty(t)
	})
	t.Run("upload with the second key", func(t *testing.T) {
		if resp := ta.upload(t, "second-key", filePart("a.jpg", jpegBytes(10<<10))); resp.status != 202 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	})
	for _, p := range []string{"/healthz", "/readyz"} {
		t.Run(p+" needs no key", func(t *testing.T) {
			if resp := ta.do(t, http.MethodGet, p, "", nil, ""); resp.status != 200 {
				t.Errorf("status %d", resp.status)
			}
		})
	}
	t.Run("/metrics needs a key", func(t *testing.T) {
		if resp := ta.do(t, http.MethodGet, "/metrics", "", nil, ""); resp.status != 401 {
			t.Errorf("without: status %d", resp.status)
		}
		if resp := ta.do(t, http.MethodGet, "/metrics", "", nil, "first-key"); resp.status != 200 {
			t.Errorf("with: status %d", resp.status)
		}
	})
	t.Run("keys never logged", func(t *testing.T) {
		logs := ta.logs.String()
		for _, s := range []string{"first-key", "second-key", "Zmlyc3Qta2V5", "Authorization"} {
			if strings.Contains(logs, s) {
				t.Errorf("the log holds %q:\n%s", s, logs)
			}
		}
	})
}

func TestNoKeysNoAuth(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Metrics: NewMetrics()})
	if resp := ta.do(t, http.MethodGet, "/metrics", "", nil, ""); resp.status != 200 {
		t.Errorf("/metrics: status %d", resp.status)
	}
	if resp := ta.do(t, http.MethodGet, "/v1/statuses/abc", "", nil, ""); resp.status != 404 {
		t.Errorf("GET job: status %d", resp.status)
	}
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr string
		keys []string
		ok   bool
	}{
		{"127.0.0.1:8080", nil, true},
		{"127.1.2.3:8080", nil, true},
		{"[::1]:8080", nil, true},
		{"localhost:8080", nil, true},
		{":8080", nil, false},
		{"0.0.0.0:8080", nil, false},
		{"[::]:8080", nil, false},
		{"192.168.1.10:8080", nil, false},
		{"example.com:80", nil, false},
		{"no-port", nil, false},
		{":8080", []string{"k"}, true},
		{"0.0.0.0:8080", []string{"k"}, true},
	}
	for _, tt := range tests {
		err := CheckListen(tt.addr, tt.keys)
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q, %v) = %v, want ok %v", tt.addr, tt.keys, err, tt.ok)
		}
	}
}
