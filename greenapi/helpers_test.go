package greenapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
)

const (
	testID    = "1101000001"
	testToken = "tok-SECRET-123"
)

// newClient returns a fast-retrying client for apiURL with a debug JSON
// logger writing into the returned buffer.
func newClient(t *testing.T, apiURL string, mod func(*greenapi.Config)) (*greenapi.Client, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	cfg := greenapi.Config{
		APIURL:     apiURL,
		IDInstance: testID,
		Token:      testToken,
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := greenapi.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	greenapi.SetRetryTiming(c, time.Millisecond, 10*time.Millisecond, 60*time.Second)
	greenapi.SetLimits(c, 1000, 1000, 1000)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testToken) {
			t.Errorf("token in the log:\n%s", logs.String())
		}
	})
	return c, logs
}

// newStandIn starts a stand-in and a client talking to it.
func newStandIn(t *testing.T, mod func(*greenapi.Config)) (*greenapitest.Server, *greenapi.Client, *testutil.SyncBuffer) {
	t.Helper()
	srv := greenapitest.NewServer(t, testID, testToken)
	c, logs := newClient(t, srv.URL(), mod)
	return srv, c, logs
}

// media serves files with the given Content-Types: path → content type
// (and "attachment:" prefix for Content-Disposition: attachment).
func media(t *testing.T) *httptest.Server {
	t.Helper()
	files := map[string]string{
		"/img.jpg":      "image/jpeg",
		"/clip.mp4":     "video/mp4",
		"/voice.mp3":    "audio/mpeg",
		"/voice.wav":    "audio/wav",
		"/download.jpg": "application/octet-stream",
		"/download.mp3": "application/octet-stream",
		"/attach.jpg":   "attachment:image/jpeg",
		"/page.jpg":     "text/html; charset=utf-8",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if c, found := strings.CutPrefix(ct, "attachment:"); found {
			ct = c
			w.Header().Set("Content-Disposition", `attachment; filename="x.jpg"`)
		}
		w.Header().Set("Content-Type", ct)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789 media bytes"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func noProtocolErrors(t *testing.T, srv *greenapitest.Server) {
	t.Helper()
	if errs := srv.Errors(); len(errs) > 0 {
		t.Errorf("stand-in refused: %q", errs)
	}
}

// newRedirectLoop returns the URL of a server that redirects every request
// to itself with the path (token included), until net/http gives up.
func newRedirectLoop(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"x", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
