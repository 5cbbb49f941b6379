package greenapi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  greenapi.Config
		want []string // substrings, one per expected problem
	}{
		{"ok", greenapi.Config{IDInstance: "1101000001", Token: "abc"}, nil},
		{"ok with url", greenapi.Config{APIURL: "https://7103.api.greenapi.com/", IDInstance: "1", Token: "abc", MaxAttempts: 1, RatePerSecond: 0.5}, nil},
		{"empty", greenapi.Config{}, []string{"MEDIAPREP_GREENAPI_INSTANCE", "MEDIAPREP_GREENAPI_TOKEN"}},
		{"everything wrong", greenapi.Config{APIURL: "api.green-api.com", IDInstance: "11a", Token: "a/b", MaxAttempts: -1, RatePerSecond: -2},
			[]string{"MEDIAPREP_GREENAPI_URL", "digits", "MEDIAPREP_GREENAPI_TOKEN", "MaxAttempts", "RatePerSecond"}},
		{"url with query", greenapi.Config{APIURL: "https://h/?x=1", IDInstance: "1", Token: "t"}, []string{"query"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := greenapi.New(tt.cfg); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, greenapi.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%v", n, len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %s", err, w)
				}
			}
			if _, nerr := greenapi.New(tt.cfg); nerr == nil {
				t.Error("New accepted a bad config")
			}
		})
	}
}

func TestSendEndToEnd(t *testing.T) {
	files := media(t)
	participants := []string{"79001234567@c.us", "440000001234@c.us", "79001234567@c.us"}
	type sendCase struct {
		name        string
		send        func(*greenapi.Client) (greenapi.Sent, error)
		method      string
		body        map[string]any
		contentType string
		undelivered string // reason substring if Green API would not deliver it
	}
	// plain is a case that sends only urlFile and fileName, the file at
	// path of the file server, with method.
	plain := func(name, method, path, fileName, contentType, undelivered string) sendCase {
		url := files.URL + path
		send := func(c *greenapi.Client) (greenapi.Sent, error) {
			return c.SendMediaStatus(t.Context(), greenapi.MediaStatus{URLFile: url, FileName: fileName})
		}
		if method == "sendVoiceStatus" {
			send = func(c *greenapi.Client) (greenapi.Sent, error) {
				return c.SendVoiceStatus(t.Context(), greenapi.VoiceStatus{URLFile: url, FileName: fileName})
			}
		}
		return sendCase{name: name, send: send, method: method, body: map[string]any{"urlFile": url, "fileName": fileName},
			contentType: contentType, undelivered: undelivered}
	}
	tests := []sendCase{
		{
			name: "media image",
			send: func(c *greenapi.Client) (greenapi.Sent, error) {
				return c.SendMediaStatus(t.Context(), greenapi.MediaStatus{URLFile: files.URL + "/img.jpg", FileName: "img.jpg", Caption: "Лошадка 👍🏽", Participants: participants})
			},
			method: "sendMediaStatus",
			body: map[string]any{"urlFile": files.URL + "/img.jpg", "fileName": "img.jpg", "caption": "Лошадка 👍🏽",
				"participants": []any{"79001234567@c.us", "440000001234@c.us"}},
			contentType: "image/jpeg",
		},
		plain("media video, no optional fields", "sendMediaStatus", "/clip.mp4", "clip.mp4", "video/mp4", ""),
		{
			name: "voice mp3",
			send: func(c *greenapi.Client) (greenapi.Sent, error) {
				return c.SendVoiceStatus(t.Context(), greenapi.VoiceStatus{URLFile: files.URL + "/voice.mp3", FileName: "voice.mp3", BackgroundColor: "#228B22"})
			},
			method:      "sendVoiceStatus",
			body:        map[string]any{"urlFile": files.URL + "/voice.mp3", "fileName": "voice.mp3", "backgroundColor": "#228B22"},
			contentType: "audio/mpeg",
		},
		{
			name: "voice wav",
			send: func(c *greenapi.Client) (greenapi.Sent, error) {
				return c.SendVoiceStatus(t.Context(), greenapi.VoiceStatus{URLFile: files.URL + "/voice.wav", FileName: "voice.wav", Participants: participants[:1]})
			},
			method:      "sendVoiceStatus",
			body:        map[string]any{"urlFile": files.URL + "/voice.wav", "fileName": "voice.wav", "participants": []any{"79001234567@c.us"}},
			contentType: "audio/wav",
		},
		{
			name: "text",
			send: func(c *greenapi.Client) (greenapi.Sent, error) {
				return c.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "I use Green-API 👨‍👩‍👧", BackgroundColor: "#228B22", Font: "SERIF"})
			},
			method: "sendTextStatus",
			body:   map[string]any{"message": "I use Green-API 👨‍👩‍👧", "backgroundColor": "#228B22", "font": "SERIF"},
		},
		plain("media download link is accepted but never delivered", "sendMediaStatus", "/download.jpg", "img.jpg", "application/octet-stream", "download link"),
		plain("voice download link", "sendVoiceStatus", "/download.mp3", "v.mp3", "application/octet-stream", "download link"),
		plain("attachment disposition", "sendMediaStatus", "/attach.jpg", "img.jpg", "image/jpeg", "attachment"),
		plain("html page", "sendMediaStatus", "/page.jpg", "img.jpg", "text/html; charset=utf-8", "not an image"),
		plain("link answering 404", "sendMediaStatus", "/gone.jpg", "img.jpg", "text/plain; charset=utf-8", "HTTP 404"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := newStandIn(t, nil)
			sent, err := tt.send(c)
			if err != nil {
				t.Fatal(err)
			}
			if !validID(sent.IDMessage) {
				t.Errorf("idMessage %q", sent.IDMessage)
			}
			noProtocolErrors(t, srv)
			if n := srv.Count(tt.method); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			posted, undelivered := srv.Posted(), srv.Undelivered()
			var got greenapitest.Status
			if tt.undelivered != "" {
				if len(posted) != 0 || len(undelivered) != 1 {
					t.Fatalf("posted %d, undelivered %d; want 0, 1", len(posted), len(undelivered))
				}
				got = undelivered[0]
				if !strings.Contains(got.Reason, tt.undelivered) {
					t.Errorf("reason %q, want %q", got.Reason, tt.undelivered)
				}
			} else {
				if len(posted) != 1 || len(undelivered) != 0 {
					t.Fatalf("posted %d, undelivered %v; want 1, 0", len(posted), undelivered)
				}
				got = posted[0]
			}
			if got.Method != tt.method || got.IDMessage != sent.IDMessage {
				t.Errorf("recorded %s %s, want %s %s", got.Method, got.IDMessage, tt.method, sent.IDMessage)
			}
			if !equalJSON(got.Body, tt.body) {
				t.Errorf("body\n got %v\nwant %v", got.Body, tt.body)
			}
			if got.FetchedContentType != tt.contentType {
				t.Errorf("fetched Content-Type %q, want %q", got.FetchedContentType, tt.contentType)
			}
		})
	}
}

func TestStatusQueries(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	files := media(t)
	ctx := t.Context()
	a, err := c.SendMediaStatus(ctx, greenapi.MediaStatus{URLFile: files.URL + "/img.jpg", FileName: "img.jpg", Participants: []string{"79001234567@c.us"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.SendTextStatus(ctx, greenapi.TextStatus{Message: "hi", BackgroundColor: "#000000"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetOutgoingStatuses(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if ids := outgoingIDs(out); !slices.Equal(ids, []string{a.IDMessage, b.IDMessage}) {
		t.Errorf("outgoing %v, want %v", ids, []string{a.IDMessage, b.IDMessage})
	}
	if out[0].TypeMessage != "imageMessage" || out[0].ChatID != "status@broadcast" {
		t.Errorf("outgoing[0] = %+v", out[0])
	}
	stats, err := c.GetStatusStatistic(ctx, a.IDMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Participant != "79001234567@c.us" {
		t.Errorf("statistic %+v", stats)
	}
	if err := c.DeleteStatus(ctx, a.IDMessage); err != nil {
		t.Fatal(err)
	}
	out, err = c.GetOutgoingStatuses(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := outgoingIDs(out); !slices.Equal(ids, []string{b.IDMessage}) {
		t.Errorf("after delete, outgoing %v, want %v", ids, []string{b.IDMessage})
	}
	noProtocolErrors(t, srv)

	for _, call := range []struct {
		name string
		err  error
	}{
		{"negative minutes", func() error { _, err := c.GetOutgoingStatuses(ctx, -1); return err }()},
		{"empty idMessage statistic", func() error { _, err := c.GetStatusStatistic(ctx, " "); return err }()},
		{"empty idMessage delete", c.DeleteStatus(ctx, "")},
		{"idMessage with space", c.DeleteStatus(ctx, "3EB0 X")},
	} {
		t.Run(call.name, func(t *testing.T) {
			if greenapi.CodeOf(call.err) != "invalid_request" {
				t.Errorf("err = %v, want invalid_request", call.err)
			}
		})
	}
}

func TestInvalidStatusSendsNothing(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	_, err := c.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "hi", BackgroundColor: "#FFFFFF"})
	checkInvalid(t, err, "backgroundColor")
	_, err = c.SendMediaStatus(t.Context(), greenapi.MediaStatus{URLFile: "https://h/a.mp3", FileName: "a.mp3"})
	checkInvalid(t, err, "fileName")
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid statuses", n)
	}
}

func outgoingIDs(out []greenapi.OutgoingStatus) []string {
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.IDMessage
	}
	return ids
}

func validID(id string) bool {
	if len(id) != 20 || !strings.HasPrefix(id, "3EB0") {
		return false
	}
	return strings.Trim(id, "0123456789ABCDEF") == ""
}

func equalJSON(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			return false
		}
		la, aok := va.([]any)
		lb, bok := vb.([]any)
		if aok || bok {
			if !slices.Equal(la, lb) {
				return false
			}
			continue
		}
		if va != vb {
			return false
		}
	}
	return true
}
