package publish

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/queue"
)

// TestSchedule: a text the service takes is printed with its job and
// time; one it refuses is printed with the service's code, and the run
// ends in ErrFailed. The key goes in the Authorization header.
func TestSchedule(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			t.Errorf("%s %s: Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		switch {
		case r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			if strings.Contains(string(b), "refuse") {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error": {"code": "bad_text", "message": "no"}}`)
				return
			}
			_, _ = io.WriteString(w, `{"id": "j1"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/statuses/j1":
			_, _ = io.WriteString(w, `{"id": "j1", "state": "`+string(queue.StateScheduled)+`", "publishAt": "`+at.Format(time.RFC3339)+`"}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	svc, err := NewService(srv.URL+"/ ", "k")
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Schedule(t.Context(), []Item{
		{Text: map[string]any{"text": "ok"}},
		{Text: map[string]any{"text": "refuse"}},
	}, false, &out)
	if !errors.Is(err, ErrFailed) {
		t.Errorf("Schedule = %v, want ErrFailed", err)
	}
	want := "scheduled  text  job j1  at 2030-01-02T03:04:05Z\nFAIL  text: bad_text: no\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}
