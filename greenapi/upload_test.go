package greenapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

func writeFile(t *testing.T, name string, size int) (string, string) {
	t.Helper()
	b := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func TestUploadFile(t *testing.T) {
	srv, c, logs := newStandIn(t, func(cfg *greenapi.Config) { cfg.MediaURL = "" })
	mediaSrv := greenapitest.NewServer(t, testID, testToken)
	cm, _ := newClient(t, mediaSrv.URL(), func(cfg *greenapi.Config) { cfg.MediaURL = mediaSrv.MediaURL() })
	p, sum := writeFile(t, "clip.mp4", 300_000)

	for _, tc := range []struct {
		name   string
		client *greenapi.Client
		srv    *greenapitest.Server
	}{{"api host as media host", c, srv}, {"own media host", cm, mediaSrv}} {
		t.Run(tc.name, func(t *testing.T) {
			up, err := greenapi.UploadPath(p, "video/mp4", "clip.mp4")
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			got, err := tc.client.UploadFile(t.Context(), up)
			if err != nil {
				t.Fatalf("UploadFile: %v", err)
			}
			if got.Expires.Before(before.Add(greenapi.UploadLifetime-time.Minute)) || got.Expires.After(time.Now().Add(greenapi.UploadLifetime)) {
				t.Errorf("Expires %s, want 15 days from now", got.Expires)
			}
			if got.Expires.Nanosecond() != 0 {
				t.Errorf("Expires %s: want whole seconds, as every time of a job", got.Expires)
			}
			ups := tc.srv.Uploads()
			if len(ups) != 1 || ups[0].SHA256 != sum || ups[0].ContentType != "video/mp4" || ups[0].FileName != "clip.mp4" || ups[0].URLFile != got.URLFile {
				t.Fatalf("uploads %+v, want one of %s answered as %s", ups, sum, got.URLFile)
			}
			if !strings.HasPrefix(got.URLFile, tc.srv.MediaURL()+"/") {
				t.Errorf("urlFile %s is not on the media host %s", got.URLFile, tc.srv.MediaURL())
			}
			resp, err := http.Get(got.URLFile)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s := sha256.Sum256(body)
			if resp.Header.Get("Content-Type") != "video/mp4" || hex.EncodeToString(s[:]) != sum {
				t.Errorf("urlFile serves %s, %d bytes; want the file as video/mp4", resp.Header.Get("Content-Type"), len(body))
			}
			noProtocolErrors(t, tc.srv)
		})
	}
	if strings.Contains(logs.String(), testToken) || !strings.Contains(logs.String(), "uploadFile") {
		t.Errorf("log lines should name uploadFile and never the token:\n%s", logs)
	}
}

// A 5xx or a lost answer is retried with the whole file again: an upload
// posts nothing.
func TestUploadFileRetries(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	p, sum := writeFile(t, "a.jpg", 70_000)
	srv.Inject("uploadFile", greenapitest.Fault{Status: http.StatusBadGateway}, greenapitest.Fault{Status: http.StatusInternalServerError})
	up, _ := greenapi.UploadPath(p, "image/jpeg", "")
	got, err := c.UploadFile(t.Context(), up)
	if err != nil {
		t.Fatalf("UploadFile: %v", err)
	}
	ups := srv.Uploads()
	// The 500 came after the file was taken: it is there twice, whole.
	if srv.Count("uploadFile") != 3 || len(ups) != 3 || ups[2].URLFile != got.URLFile {
		t.Fatalf("%d requests, uploads %+v; want 3 requests, the last answered", srv.Count("uploadFile"), ups)
	}
	for _, u := range ups {
		if u.SHA256 != sum || u.Size != 70_000 {
			t.Errorf("attempt sent %d bytes %s, want the whole file", u.Size, u.SHA256)
		}
	}
}

func TestUploadFileRefused(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	srv.SetUploadLimit(1000)
	big, _ := writeFile(t, "big.mp4", 1001)
	small, _ := writeFile(t, "x.bin", 10)

	up, _ := greenapi.UploadPath(big, "video/mp4", "big.mp4")
	_, err := c.UploadFile(t.Context(), up)
	var ge *greenapi.Error
	if !errors.As(err, &ge) || !errors.Is(err, greenapi.ErrPermanent) || ge.Code != greenapi.CodeServerError || ge.Attempts != 1 {
		t.Errorf("over the limit: %v, want a permanent server_error after one attempt", err)
	}

	for _, tc := range []struct {
		name  string
		up    greenapi.Upload
		field string
	}{
		{"no content type", greenapi.Upload{Open: func() (io.ReadCloser, error) { return os.Open(small) }, Size: 10}, "contentType"},
		{"unknown type without a name", greenapi.Upload{Open: func() (io.ReadCloser, error) { return os.Open(small) }, Size: 10, ContentType: "application/x-thing"}, "fileName"},
		{"name without extension", greenapi.Upload{Open: func() (io.ReadCloser, error) { return os.Open(small) }, Size: 10, ContentType: "image/jpeg", FileName: "noext"}, "fileName"},
		{"empty", greenapi.Upload{Open: func() (io.ReadCloser, error) { return os.Open(small) }, Size: 0, ContentType: "image/jpeg"}, "file"},
		{"over 100 MB", greenapi.Upload{Open: func() (io.ReadCloser, error) { return os.Open(small) }, Size: greenapi.MaxUploadBytes + 1, ContentType: "video/mp4"}, "file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.UploadFile(t.Context(), tc.up)
			if !errors.As(err, &ge) || ge.Code != greenapi.CodeInvalidRequest || ge.Field != tc.field {
				t.Errorf("got %v, want invalid_request on %s", err, tc.field)
			}
		})
	}
	if n := srv.Count("uploadFile"); n != 1 {
		t.Errorf("%d uploadFile requests, want only the one over the limit", n)
	}
	// The stand-in itself refuses what the real one would.
	for _, h := range []map[string]string{{}, {"Content-Type": "multipart/form-data; boundary=x"}, {"Content-Type": "application/x-thing"}} {
		req, _ := http.NewRequest(http.MethodPost, srv.MediaURL()+"/waInstance"+testID+"/uploadFile/"+testToken, strings.NewReader("x"))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("stand-in answered %d to %v, want 400", resp.StatusCode, h)
		}
	}
}

func TestDefaultMediaURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.green-api.com":       "https://media.green-api.com",
		"https://api.green-api.com/":      "https://media.green-api.com",
		"https://1101.api.green-api.com":  "https://1101.media.green-api.com",
		"http://127.0.0.1:9000":           "http://127.0.0.1:9000",
		"https://proxy.example.org/green": "https://proxy.example.org/green",
	} {
		if got := greenapi.DefaultMediaURL(in); got != want {
			t.Errorf("DefaultMediaURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// getOutgoingStatuses shows a status as the stand-in's test control says:
// held back, then sent, delivered, read; a lost answer's status is there.
func TestOutgoingStatusProgress(t *testing.T) {
	srv, c, _ := newStandIn(t, nil)
	m := media(t)
	srv.HoldStatuses(true)
	sent, err := c.SendMediaStatus(t.Context(), greenapi.MediaStatus{URLFile: m.URL + "/img.jpg", FileName: "a.jpg", Caption: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	list := func() []greenapi.OutgoingStatus {
		t.Helper()
		l, err := c.GetOutgoingStatuses(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := list(); len(l) != 0 {
		t.Fatalf("held status listed: %+v", l)
	}
	for _, st := range []string{greenapi.StatusSent, greenapi.StatusDelivered, greenapi.StatusRead} {
		srv.SetStatusMessage(sent.IDMessage, st)
		l := list()
		if len(l) != 1 || l[0].IDMessage != sent.IDMessage || l[0].StatusMessage != st || l[0].Caption != "hello" || l[0].TypeMessage != "imageMessage" {
			t.Fatalf("list %+v, want %s as %s with its caption", l, sent.IDMessage, st)
		}
	}
	srv.HoldStatuses(false)
	srv.Inject("sendTextStatus", greenapitest.Fault{Status: http.StatusGatewayTimeout, Accept: true})
	_, err = c.SendTextStatus(t.Context(), greenapi.TextStatus{Message: "hi there", BackgroundColor: "#112233"})
	if !errors.Is(err, greenapi.ErrOutcomeUnknown) {
		t.Fatalf("got %v, want outcome unknown", err)
	}
	l := list()
	if len(l) != 2 || l[1].ExtendedTextMessage == nil || l[1].ExtendedTextMessage.Text != "hi there" || l[1].StatusMessage != "sent" {
		t.Fatalf("list %+v, want the text status whose answer was lost", l)
	}
}
