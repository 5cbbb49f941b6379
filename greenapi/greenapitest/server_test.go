package greenapitest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

const (
	id    = "1101000001"
	token = "tok-test"
)

func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func files(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/norange.jpg": // refuses ranges: the stand-in must fall back to a plain GET
			if r.Header.Get("Range") != "" {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write([]byte("jpeg")) // a failed write shows as a failed check in the test
		case "/a.mp3":
			w.Header().Set("Content-Type", "audio/mpeg")
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader("mp3 bytes"))
		default:
			w.Header().Set("Content-Type", "image/jpeg")
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader("jpeg bytes"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStrictRequests(t *testing.T) {
	f := files(t)
	img := f.URL + "/a.jpg"
	const js = "application/json"
	tests := []struct {
		name        string
		path        string // after the server URL; {m} = method path with the right id and token
		contentType string
		body        string
		status      int
	}{
		{"text ok", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi 👍🏽","backgroundColor":"#228B22","font":"SERIF","participants":["79001234567@c.us"]}`, 200},
		{"text ok with charset", "/waInstance" + id + "/sendTextStatus/" + token, "application/json; charset=UTF-8", `{"message":"hi"}`, 200},
		{"media ok", "/waInstance" + id + "/sendMediaStatus/" + token, js, `{"urlFile":"` + img + `","fileName":"a.jpg","caption":"` + strings.Repeat("🇷🇺", 1024) + `","participants":[]}`, 200},
		{"media ok, range refused", "/waInstance" + id + "/sendMediaStatus/" + token, js, `{"urlFile":"` + f.URL + `/norange.jpg","fileName":"a.jpg"}`, 200},
		{"voice ok", "/waInstance" + id + "/sendVoiceStatus/" + token, js, `{"urlFile":"` + f.URL + `/a.mp3","fileName":"a.mp3","backgroundColor":"#000000"}`, 200},
		{"delete ok", "/waInstance" + id + "/deleteStatus/" + token, js, `{"idMessage":"3EB0C767D097B7C7C030"}`, 200},
		{"wrong instance", "/waInstance999/sendTextStatus/" + token, js, `{"message":"hi"}`, 403},
		{"wrong token", "/waInstance" + id + "/sendTextStatus/nope", js, `{"message":"hi"}`, 401},
		{"unknown method", "/waInstance" + id + "/sendMessage/" + token, js, `{"message":"hi"}`, 404},
		{"bad path", "/sendTextStatus/" + token, js, `{"message":"hi"}`, 404},
		{"no content type", "/waInstance" + id + "/sendTextStatus/" + token, "", `{"message":"hi"}`, 400},
		{"text/plain", "/waInstance" + id + "/sendTextStatus/" + token, "text/plain", `{"message":"hi"}`, 400},
		{"latin1 charset", "/waInstance" + id + "/sendTextStatus/" + token, "application/json; charset=iso-8859-1", `{"message":"hi"}`, 400},
		{"BOM", "/waInstance" + id + "/sendTextStatus/" + token, js, "\xef\xbb\xbf" + `{"message":"hi"}`, 400},
		{"invalid UTF-8", "/waInstance" + id + "/sendTextStatus/" + token, js, "{\"message\":\"h\xffi\"}", 400},
		{"not an object", "/waInstance" + id + "/sendTextStatus/" + token, js, `["hi"]`, 400},
		{"null", "/waInstance" + id + "/sendTextStatus/" + token, js, `null`, 400},
		{"trailing data", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi"} {}`, 400},
		{"unknown field", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","chatId":"x"}`, 400},
		{"caption on text", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","caption":"x"}`, 400},
		{"missing message", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"backgroundColor":"#228B22"}`, 400},
		{"blank message", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"  "}`, 400},
		{"message 501", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"` + strings.Repeat("я", 501) + `"}`, 400},
		{"message 500 families", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"` + strings.Repeat("👨‍👩‍👧", 500) + `"}`, 200},
		{"message not a string", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":5}`, 400},
		{"empty optional string", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","font":""}`, 400},
		{"bad font", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","font":"serif"}`, 400},
		{"bad color", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","backgroundColor":"green"}`, 400},
		{"bad participant", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","participants":["+79001234567@c.us"]}`, 400},
		{"participants not strings", "/waInstance" + id + "/sendTextStatus/" + token, js, `{"message":"hi","participants":[7]}`, 400},
		{"caption 1025", "/waInstance" + id + "/sendMediaStatus/" + token, js, `{"urlFile":"` + img + `","fileName":"a.jpg","caption":"` + strings.Repeat("a", 1025) + `"}`, 400},
		{"media without fileName", "/waInstance" + id + "/sendMediaStatus/" + token, js, `{"urlFile":"` + img + `"}`, 400},
		{"fileName without extension", "/waInstance" + id + "/sendMediaStatus/" + token, js, `{"urlFile":"` + img + `","fileName":"a"}`, 400},
		{"relative urlFile", "/waInstance" + id + "/sendMediaStatus/" + token, js, `{"urlFile":"/a.jpg","fileName":"a.jpg"}`, 400},
		{"voice ogg", "/waInstance" + id + "/sendVoiceStatus/" + token, js, `{"urlFile":"` + f.URL + `/a.mp3","fileName":"a.ogg"}`, 400},
		{"font on voice", "/waInstance" + id + "/sendVoiceStatus/" + token, js, `{"urlFile":"` + f.URL + `/a.mp3","fileName":"a.mp3","font":"SERIF"}`, 400},
		{"query on POST", "/waInstance" + id + "/sendTextStatus/" + token + "?x=1", js, `{"message":"hi"}`, 400},
		{"delete without id", "/waInstance" + id + "/deleteStatus/" + token, js, `{}`, 400},
		{"POST to a GET method", "/waInstance" + id + "/getOutgoingStatuses/" + token, js, `{}`, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := greenapitest.NewServer(t, id, token)
			status, body := post(t, srv.URL()+tt.path, tt.contentType, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			refused := len(srv.Errors())
			if tt.status == 200 {
				if refused != 0 {
					t.Errorf("errors %q", srv.Errors())
				}
				if strings.Contains(tt.path, "send") {
					var v struct{ IDMessage string }
					if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.IDMessage) != 20 || !strings.HasPrefix(v.IDMessage, "3EB0") || strings.ToUpper(v.IDMessage) != v.IDMessage {
						t.Errorf("answer %s", body)
					}
					if p := srv.Posted(); len(p) != 1 || p[0].IDMessage != v.IDMessage {
						t.Errorf("posted %+v", p)
					}
				}
			} else {
				if refused != 1 {
					t.Errorf("%d errors recorded, want 1: %q", refused, srv.Errors())
				}
				if len(srv.Posted())+len(srv.Undelivered()) != 0 {
					t.Error("a refused status was recorded")
				}
				if strings.Contains(strings.Join(srv.Errors(), " "), token) {
					t.Error("the stand-in's error text holds the token")
				}
			}
			if calls := srv.Requests(); len(calls) != 1 || calls[0].Status != tt.status {
				t.Errorf("requests %+v", calls)
			}
		})
	}
}

func TestGets(t *testing.T) {
	srv := greenapitest.NewServer(t, id, token)
	base := srv.URL() + "/waInstance" + id
	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"outgoing", http.MethodGet, "/getOutgoingStatuses/" + token, 200},
		{"outgoing minutes", http.MethodGet, "/getOutgoingStatuses/" + token + "?minutes=10", 200},
		{"outgoing bad minutes", http.MethodGet, "/getOutgoingStatuses/" + token + "?minutes=-1", 400},
		{"outgoing unknown param", http.MethodGet, "/getOutgoingStatuses/" + token + "?limit=1", 400},
		{"statistic", http.MethodGet, "/getStatusStatistic/" + token + "?idMessage=3EB0C767D097B7C7C030", 200},
		{"statistic without id", http.MethodGet, "/getStatusStatistic/" + token, 400},
		{"GET a send method", http.MethodGet, "/sendTextStatus/" + token, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, base+tt.path, nil)
			status, body := do(t, req)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if status == 200 && body != "[]" {
				t.Errorf("body %s, want []", body)
			}
		})
	}
}

func TestInjectOrder(t *testing.T) {
	srv := greenapitest.NewServer(t, id, token)
	srv.Inject("", greenapitest.Fault{Status: 502})
	srv.Inject("sendTextStatus", greenapitest.Fault{Status: 429, RetryAfter: "7"}, greenapitest.Fault{Status: 503})
	url := srv.URL() + "/waInstance" + id + "/sendTextStatus/" + token
	for _, want := range []int{429, 503, 502, 200} {
		if status, body := post(t, url, "application/json", `{"message":"hi"}`); status != want {
			t.Errorf("status %d (%s), want %d", status, body, want)
		}
	}
	if n := len(srv.Posted()); n != 1 {
		t.Errorf("posted %d, want 1", n)
	}
}

func TestAcceptWithErrorStatus(t *testing.T) {
	srv := greenapitest.NewServer(t, id, token)
	srv.Inject("", greenapitest.Fault{Status: 500, Accept: true})
	status, _ := post(t, srv.URL()+"/waInstance"+id+"/sendTextStatus/"+token, "application/json", `{"message":"hi"}`)
	if status != 500 || len(srv.Posted()) != 1 {
		t.Errorf("status %d, posted %d; want 500 and 1", status, len(srv.Posted()))
	}
}

func TestMaxPerSecond(t *testing.T) {
	srv := greenapitest.NewServer(t, id, token)
	url := srv.URL() + "/waInstance" + id + "/sendTextStatus/" + token
	for range 3 {
		post(t, url, "application/json", `{"message":"hi"}`)
	}
	if m := srv.MaxPerSecond("sendTextStatus"); m != 3 {
		t.Errorf("MaxPerSecond = %d, want 3", m)
	}
	if m := srv.MaxPerSecond(""); m != 3 {
		t.Errorf("MaxPerSecond(\"\") = %d, want 3", m)
	}
	if m := srv.MaxPerSecond("deleteStatus"); m != 0 {
		t.Errorf("MaxPerSecond(deleteStatus) = %d, want 0", m)
	}
}
