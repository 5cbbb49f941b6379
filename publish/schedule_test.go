package publish

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/pipeline"
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

// TestItems: a file's form fields and a text's body carry what is set,
// the account included, and leave out what is not.
func TestItems(t *testing.T) {
	f := Fields{Status: pipeline.Status{Caption: "c", Participants: []string{"1@c.us", "2@c.us"}, BackgroundColor: "#112233"},
		Crop: "pad", PublishAt: "1893553445", Account: "shop"}
	got := fileItem("a.jpg", f)
	want := url.Values{"caption": {"c"}, "participants": {"1@c.us", "2@c.us"}, "backgroundColor": {"#112233"},
		"crop": {"pad"}, "publishAt": {"1893553445"}, "account": {"shop"}}
	if got.File != "a.jpg" || !reflect.DeepEqual(got.Fields, want) {
		t.Errorf("fileItem = %+v, want fields %v", got, want)
	}
	text := textItem("hi", "", Fields{PublishAt: "1893553445"})
	if wantBody := map[string]any{"text": "hi", "backgroundColor": "", "publishAt": "1893553445"}; !reflect.DeepEqual(text.Text, wantBody) {
		t.Errorf("textItem = %v, want %v", text.Text, wantBody)
	}
	text = textItem("hi", "SERIF", f)
	if text.Text["font"] != "SERIF" || text.Text["account"] != "shop" || !reflect.DeepEqual(text.Text["participants"], f.Status.Participants) {
		t.Errorf("textItem = %v, want font, account and participants", text.Text)
	}
}

// TestScheduleBatch: a batch entry with an error is printed first and
// counted; the others go to the service with their own caption and time
// over the run's fields.
func TestScheduleBatch(t *testing.T) {
	src := filepath.Join(t.TempDir(), "a.jpg")
	if err := os.WriteFile(src, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				t.Error(err)
			}
			form = r.MultipartForm.Value
			_, _ = io.WriteString(w, `{"id": "j1"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id": "j1", "state": "`+string(queue.StateScheduled)+`", "publishAt": "2030-01-02T03:04:05Z"}`)
	}))
	defer srv.Close()
	svc, err := NewService(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	caption, at := "own", "2030-01-02T03:04:05Z"
	plan := []batch.Entry{
		{File: "broken.jpg", Err: errors.New("sidecar broken.jpg.json: bad")},
		{File: src, Meta: batch.Meta{Caption: &caption, PublishAt: &at}},
	}
	var out bytes.Buffer
	err = svc.ScheduleBatch(t.Context(), plan, Fields{Status: pipeline.Status{Caption: "run", BackgroundColor: "#112233"}, Account: "shop"}, false, &out)
	if !errors.Is(err, ErrFailed) {
		t.Errorf("ScheduleBatch = %v, want ErrFailed (broken.jpg)", err)
	}
	want := "FAIL  broken.jpg: bad_metadata: sidecar broken.jpg.json: bad\nscheduled  " + src + "  job j1  at 2030-01-02T03:04:05Z\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if form.Get("caption") != "own" || form.Get("publishAt") != at || form.Get("backgroundColor") != "#112233" || form.Get("account") != "shop" {
		t.Errorf("form %v, want the entry's caption and time, the run's background and account", form)
	}
}
