package greenapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
)

const okURL = "https://media.example.com/s/img.jpg"

// checkInvalid asserts err is nil when field is "", else an invalid_request
// *Error naming field.
func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("refused a valid status: %v", err)
		}
		return
	}
	var e *greenapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *greenapi.Error for %s", err, field)
	}
	if e.Code != "invalid_request" || !errors.Is(err, greenapi.ErrInvalid) || greenapi.CodeOf(err) != "invalid_request" {
		t.Errorf("code %q (Is ErrInvalid %v), want invalid_request", e.Code, errors.Is(err, greenapi.ErrInvalid))
	}
	if e.Field != field {
		t.Errorf("Field = %q, want %q (%v)", e.Field, field, err)
	}
	if e.Attempts != 0 {
		t.Errorf("Attempts = %d, want 0", e.Attempts)
	}
}

func TestMediaStatusValidate(t *testing.T) {
	tests := []struct {
		name  string
		s     greenapi.MediaStatus
		field string // "" = valid
	}{
		{"minimal", greenapi.MediaStatus{URLFile: okURL, FileName: "img.jpg"}, ""},
		{"video with caption and participants", greenapi.MediaStatus{URLFile: "http://h:8080/a/clip.mp4?X-Amz-Signature=ab%2Fc", FileName: "clip.MP4", Caption: "Лошадка 🐴", Participants: []string{"79001234567@c.us", "440000001234@c.us"}}, ""},
		{"caption 1024 emoji with skin tone", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("👍🏽", 1024)}, ""},
		{"caption 1024 family emoji", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("👨‍👩‍👧", 1024)}, ""},
		{"caption 1024 flags", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("🇷🇺", 1024)}, ""},
		{"caption 1024 hearts with VS16", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("❤️", 1024)}, ""},
		{"caption 1024 cyrillic", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("ж", 1024)}, ""},
		{"caption 1024 combining accents", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("e\u0301", 1024)}, ""},
		{"caption 1025", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("a", 1025)}, "caption"},
		{"caption 1025 emoji", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: strings.Repeat("👍🏽", 1025)}, "caption"},
		{"caption invalid utf8", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: "a\xffb"}, "caption"},
		{"caption with BOM", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Caption: "\uFEFFhi"}, "caption"},
		{"urlFile missing", greenapi.MediaStatus{FileName: "a.jpg"}, "urlFile"},
		{"urlFile relative", greenapi.MediaStatus{URLFile: "/img.jpg", FileName: "a.jpg"}, "urlFile"},
		{"urlFile ftp", greenapi.MediaStatus{URLFile: "ftp://h/img.jpg", FileName: "a.jpg"}, "urlFile"},
		{"urlFile no host", greenapi.MediaStatus{URLFile: "https:///img.jpg", FileName: "a.jpg"}, "urlFile"},
		{"urlFile with space", greenapi.MediaStatus{URLFile: "https://h/my img.jpg", FileName: "a.jpg"}, "urlFile"},
		{"urlFile with user info", greenapi.MediaStatus{URLFile: "https://u:p@h/img.jpg", FileName: "a.jpg"}, "urlFile"},
		{"fileName missing", greenapi.MediaStatus{URLFile: okURL}, "fileName"},
		{"fileName no extension", greenapi.MediaStatus{URLFile: okURL, FileName: "img"}, "fileName"},
		{"fileName trailing dot", greenapi.MediaStatus{URLFile: okURL, FileName: "img."}, "fileName"},
		{"fileName only extension", greenapi.MediaStatus{URLFile: okURL, FileName: ".jpg"}, "fileName"},
		{"fileName with slash", greenapi.MediaStatus{URLFile: okURL, FileName: "a/b.jpg"}, "fileName"},
		{"fileName mp3", greenapi.MediaStatus{URLFile: okURL, FileName: "song.mp3"}, "fileName"},
		{"fileName MP3 upper", greenapi.MediaStatus{URLFile: okURL, FileName: "song.MP3"}, "fileName"},
		{"participant with plus", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{"+79001234567@c.us"}}, "participants"},
		{"participant without suffix", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{"79001234567"}}, "participants"},
		{"participant group", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{"79001234567-1581234048@g.us"}}, "participants"},
		{"participant letters", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{"7900abc@c.us"}}, "participants"},
		{"participant empty", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{""}}, "participants"},
		{"participant leading zero", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{"079001234567@c.us"}}, "participants"},
		{"participant too long", greenapi.MediaStatus{URLFile: okURL, FileName: "a.jpg", Participants: []string{"7900123456789012@c.us"}}, "participants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkInvalid(t, tt.s.Validate(), tt.field)
		})
	}
}

func TestVoiceStatusValidate(t *testing.T) {
	tests := []struct {
		name  string
		s     greenapi.VoiceStatus
		field string
	}{
		{"mp3", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3"}, ""},
		{"WAV upper with color", greenapi.VoiceStatus{URLFile: "https://h/v.wav", FileName: "v.WAV", BackgroundColor: "#228b22"}, ""},
		{"white background is fine for voice", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", BackgroundColor: "#FFFFFF"}, ""},
		{"participants", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", Participants: []string{"79001234567@c.us"}}, ""},
		{"ogg", greenapi.VoiceStatus{URLFile: "https://h/v.ogg", FileName: "v.ogg"}, "fileName"},
		{"m4a", greenapi.VoiceStatus{URLFile: "https://h/v.m4a", FileName: "v.m4a"}, "fileName"},
		{"no extension", greenapi.VoiceStatus{URLFile: "https://h/v", FileName: "voice"}, "fileName"},
		{"urlFile missing", greenapi.VoiceStatus{FileName: "v.mp3"}, "urlFile"},
		{"color name", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", BackgroundColor: "red"}, "backgroundColor"},
		{"color short", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", BackgroundColor: "#FFF"}, "backgroundColor"},
		{"color not hex", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", BackgroundColor: "#GGGGGG"}, "backgroundColor"},
		{"color without hash", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", BackgroundColor: "228B22"}, "backgroundColor"},
		{"bad participant", greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", Participants: []string{"x@c.us"}}, "participants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkInvalid(t, tt.s.Validate(), tt.field)
		})
	}
}

func TestTextStatusValidate(t *testing.T) {
	ok := func(msg string) greenapi.TextStatus {
		return greenapi.TextStatus{Message: msg, BackgroundColor: "#228B22"}
	}
	tests := []struct {
		name  string
		s     greenapi.TextStatus
		field string
	}{
		{"plain", ok("I use Green-API to send this Status!"), ""},
		{"font and participants", greenapi.TextStatus{Message: "hi", BackgroundColor: "#000000", Font: "OSWALD_HEAVY", Participants: []string{"79001234567@c.us"}}, ""},
		{"every font", greenapi.TextStatus{Message: "hi", BackgroundColor: "#123abc", Font: "NORICAN_REGULAR"}, ""},
		{"500 ascii", ok(strings.Repeat("a", 500)), ""},
		{"500 cyrillic", ok(strings.Repeat("я", 500)), ""},
		{"500 thumbs with skin tone", ok(strings.Repeat("👍🏽", 500)), ""},
		{"500 families", ok(strings.Repeat("👨‍👩‍👧", 500)), ""},
		{"500 flags", ok(strings.Repeat("🇷🇺", 500)), ""},
		{"500 hearts", ok(strings.Repeat("❤️", 500)), ""},
		{"500 combining accents", ok(strings.Repeat("a\u0301", 500)), ""},
		{"501 ascii", ok(strings.Repeat("a", 501)), "message"},
		{"501 flags", ok(strings.Repeat("🇷🇺", 501)), "message"},
		{"empty message", ok(""), "message"},
		{"blank message", ok(" \n\t\u00a0"), "message"},
		{"invalid utf8", ok("\xc3"), "message"},
		{"BOM", ok("\uFEFFhello"), "message"},
		{"no background", greenapi.TextStatus{Message: "hi"}, "backgroundColor"},
		{"white", greenapi.TextStatus{Message: "hi", BackgroundColor: "#FFFFFF"}, "backgroundColor"},
		{"white lower", greenapi.TextStatus{Message: "hi", BackgroundColor: "#ffffff"}, "backgroundColor"},
		{"white mixed", greenapi.TextStatus{Message: "hi", BackgroundColor: "#fFfFfF"}, "backgroundColor"},
		{"bad color", greenapi.TextStatus{Message: "hi", BackgroundColor: "#12345"}, "backgroundColor"},
		{"font lower case", greenapi.TextStatus{Message: "hi", BackgroundColor: "#228B22", Font: "serif"}, "font"},
		{"font unknown", greenapi.TextStatus{Message: "hi", BackgroundColor: "#228B22", Font: "COMIC_SANS"}, "font"},
		{"bad participant", greenapi.TextStatus{Message: "hi", BackgroundColor: "#228B22", Participants: []string{"79001234567@c.us", "bad"}}, "participants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkInvalid(t, tt.s.Validate(), tt.field)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := greenapi.TextStatus{Message: " ", BackgroundColor: "#fff", Font: "x"}.Validate()
	checkInvalid(t, err, "message")
	for _, want := range []string{"message", "backgroundColor", "font"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %s", err, want)
		}
	}
}

func TestDryRunBody(t *testing.T) {
	c, _ := newClient(t, "", nil)
	tests := []struct {
		name   string
		method string
		status any
		body   string
	}{
		{"media minimal omits optional fields", "sendMediaStatus",
			greenapi.MediaStatus{URLFile: okURL, FileName: "img.jpg"},
			`{"urlFile":"https://media.example.com/s/img.jpg","fileName":"img.jpg"}`},
		{"media pointer, duplicates removed, no HTML escaping", "sendMediaStatus",
			&greenapi.MediaStatus{URLFile: okURL + "?a=1&b=2", FileName: "img.jpg", Caption: "<b>лошадка</b>",
				Participants: []string{"79001234567@c.us", "440000001234@c.us", "79001234567@c.us"}},
			`{"urlFile":"https://media.example.com/s/img.jpg?a=1&b=2","fileName":"img.jpg","caption":"<b>лошадка</b>","participants":["79001234567@c.us","440000001234@c.us"]}`},
		{"voice", "sendVoiceStatus",
			greenapi.VoiceStatus{URLFile: "https://h/v.mp3", FileName: "v.mp3", BackgroundColor: "#228B22", Participants: []string{}},
			`{"urlFile":"https://h/v.mp3","fileName":"v.mp3","backgroundColor":"#228B22"}`},
		{"text", "sendTextStatus",
			greenapi.TextStatus{Message: "👍🏽 hi", BackgroundColor: "#228B22", Font: "SERIF"},
			`{"message":"👍🏽 hi","backgroundColor":"#228B22","font":"SERIF"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := c.DryRun(tt.method, tt.status)
			if err != nil {
				t.Fatal(err)
			}
			if string(req.Body) != tt.body {
				t.Errorf("body\n got %s\nwant %s", req.Body, tt.body)
			}
			wantURL := greenapi.DefaultAPIURL + "/waInstance" + testID + "/" + tt.method + "/<redacted>"
			if req.Method != "POST" || req.URL != wantURL {
				t.Errorf("request %s %s, want POST %s", req.Method, req.URL, wantURL)
			}
			out, _ := json.Marshal(req)
			if strings.Contains(string(out), testToken) || !json.Valid(out) {
				t.Errorf("DryRun output %s", out)
			}
		})
	}
}

func TestDryRunRefuses(t *testing.T) {
	c, _ := newClient(t, "", nil)
	tests := []struct {
		name   string
		method string
		status any
		field  string
	}{
		{"invalid status", "sendTextStatus", greenapi.TextStatus{Message: "hi"}, "backgroundColor"},
		{"method mismatch", "sendVoiceStatus", greenapi.TextStatus{Message: "hi", BackgroundColor: "#000000"}, ""},
		{"unknown method", "sendMessage", greenapi.TextStatus{Message: "hi", BackgroundColor: "#000000"}, ""},
		{"not a status", "sendTextStatus", "hello", ""},
		{"nil pointer", "sendTextStatus", (*greenapi.TextStatus)(nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.DryRun(tt.method, tt.status)
			if greenapi.CodeOf(err) != "invalid_request" || !errors.Is(err, greenapi.ErrInvalid) {
				t.Fatalf("err = %v, want invalid_request", err)
			}
			if tt.field != "" {
				checkInvalid(t, err, tt.field)
			}
		})
	}
}
