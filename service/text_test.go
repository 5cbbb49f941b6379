package service

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/queue"
)

func TestTextStatus(t *testing.T) {
	want := queue.Request{Text: "Hello 👋", Font: "SERIF", BackgroundColor: "#228B22", Participants: []string{"79001234567@c.us"}}
	form := url.Values{"text": {want.Text}, "font": {want.Font}, "backgroundColor": {want.BackgroundColor}, "participants": {"79001234567@c.us"}}
	tests := []struct {
		name, contentType string
		body              func() io.Reader
	}{
		{"json", "application/json", func() io.Reader {
			return strings.NewReader(`{"text":"Hello 👋","font":"SERIF","backgroundColor":"#228B22","participants":["79001234567@c.us"]}`)
		}},
		{"urlencoded", "application/x-www-form-urlencoded", func() io.Reader { return strings.NewReader(form.Encode()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			resp := ta.do(t, http.MethodPost, "/v1/statuses", tt.contentType, tt.body(), "")
			if resp.status != 202 {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			checkTextJob(t, ta, resp, want)
		})
	}
	t.Run("multipart", func(t *testing.T) {
		ta := newTestAPI(t, APIConfig{})
		resp := ta.upload(t, "", field("text", want.Text), field("font", want.Font), field("backgroundColor", want.BackgroundColor), field("participants", "79001234567@c.us"))
		if resp.status != 202 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		checkTextJob(t, ta, resp, want)
	})

	bad := []struct {
		name, body, field string
	}{
		{"no text", `{"backgroundColor":"#000000"}`, "text"},
		{"blank text", `{"text":" \n ","backgroundColor":"#000000"}`, "text"},
		{"text too long", `{"text":"` + strings.Repeat("ж", 501) + `","backgroundColor":"#000000"}`, "text"},
		{"no color", `{"text":"hi"}`, "backgroundColor"},
		{"white", `{"text":"hi","backgroundColor":"#ffffff"}`, "backgroundColor"},
		{"bad font", `{"text":"hi","backgroundColor":"#000000","font":"COMIC_SANS"}`, "font"},
		{"bad participant", `{"text":"hi","backgroundColor":"#000000","participants":["me"]}`, "participants"},
		{"unknown field", `{"text":"hi","backgroundColor":"#000000","caption":"x"}`, ""},
		{"not JSON", `text=hi`, ""},
	}
	for _, tt := range bad {
		t.Run("invalid "+tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			resp := ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(tt.body), "")
			if resp.status != 400 {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			if e := resp.apiError(t); e.Error.Code != "invalid_request" || e.Error.Field != tt.field {
				t.Errorf("error %+v, want field %q", e.Error, tt.field)
			}
			if n := len(ta.jobs.Enqueued()); n != 0 {
				t.Errorf("%d jobs enqueued", n)
			}
		})
	}
}

func checkTextJob(t *testing.T, ta *testAPI, resp response, want queue.Request) {
	t.Helper()
	jobs := ta.jobs.Enqueued()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs enqueued", len(jobs))
	}
	j := jobs[0]
	if j.Source != "" || j.Origin != queue.OriginUpload || fmt.Sprint(j.Request) != fmt.Sprint(want) {
		t.Errorf("job %+v, want options %+v and no source", j, want)
	}
	if resp.header.Get("Location") != "/v1/statuses/"+j.ID {
		t.Errorf("Location %q for job %s", resp.header.Get("Location"), j.ID)
	}
	if puts, _ := ta.bucket.state(); puts != 0 {
		t.Errorf("%d PutFile calls for a text status", puts)
	}
}
