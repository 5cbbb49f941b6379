package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler: the page and its assets with their types and the security
// headers; nothing else; revalidation by ETag.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tt := range []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/assets/app.js", "text/javascript; charset=utf-8", 200},
		{"/assets/app.css", "text/css; charset=utf-8", 200},
		{"/assets/index.html", "text/plain; charset=utf-8", 404},
		{"/assets/nope.js", "text/plain; charset=utf-8", 404},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != tt.status || h.Get("Content-Type") != tt.ctype {
			t.Errorf("%s: %d %q, want %d %q", tt.path, resp.StatusCode, h.Get("Content-Type"), tt.status, tt.ctype)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", tt.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", tt.path, h)
		}
		if tt.status == 200 {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			req.Header.Set("If-None-Match", h.Get("ETag"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if h.Get("ETag") == "" || resp.StatusCode != http.StatusNotModified {
				t.Errorf("%s: ETag %q, revalidation %d", tt.path, h.Get("ETag"), resp.StatusCode)
			}
		}
	}
}

// TestNoInlineCode: the page has no inline script or style and no
// attribute event handlers, which the CSP would block anyway; the script
// never builds HTML from strings.
func TestNoInlineCode(t *testing.T) {
	html, _ := static.ReadFile("static/index.html")
	js, _ := static.ReadFile("static/app.js")
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(string(html), bad) {
			t.Errorf("index.html has %q", bad)
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
