package storage_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/storage"
)

func TestCheckLink(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string // "" = accepted; else a substring of the error
	}{
		{"direct link with range", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "bytes=0-0" {
				http.Error(w, "no range", 400)
				return
			}
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Range", "bytes 0-0/100")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write([]byte{0}) // a failed write shows as a failed check in the test
		}, ""},
		{"direct link, whole body, type with parameters", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4; charset=binary")
			_, _ = w.Write([]byte("data")) // a failed write shows as a failed check in the test
		}, ""},
		{"GET refused, HEAD works", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "video/mp4")
		}, ""},
		{"download link", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte("data")) // a failed write shows as a failed check in the test
		}, "download link"},
		{"attachment", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Disposition", `attachment; filename="a.mp4"`)
			_, _ = w.Write([]byte("data")) // a failed write shows as a failed check in the test
		}, "attachment"},
		{"wrong type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write([]byte("data")) // a failed write shows as a failed check in the test
		}, `want "video/mp4"`},
		{"no type", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.WriteHeader(200)
		}, "served as"},
		{"expired or missing", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "AccessDenied", http.StatusForbidden)
		}, "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			link := srv.URL + "/statuses/a.mp4?X-Amz-Signature=secret-signature"
			err := storage.Checker{}.CheckLink(t.Context(), link, "video/mp4")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckLink = %v", err)
				}
				return
			}
			if !errors.Is(err, storage.ErrLinkRejected) || storage.CodeOf(err) != storage.CodeLinkRejected {
				t.Fatalf("CheckLink = %v, want ErrLinkRejected", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-signature") {
				t.Errorf("error shows the link's signature: %q", err)
			}
		})
	}
}

func TestCheckLinkUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	link := srv.URL + "/x.jpg?X-Amz-Signature=secret-signature"
	srv.Close()
	err := storage.Checker{}.CheckLink(t.Context(), link, "image/jpeg")
	if !errors.Is(err, storage.ErrLinkRejected) || strings.Contains(err.Error(), "secret-signature") {
		t.Fatalf("CheckLink of a closed server = %v", err)
	}
}

func TestCheckLinkUnreachableIsMarkedTransient(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
	}))
	defer wrong.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tt := range []struct {
		url       string
		transient bool
	}{{down.URL, true}, {closed.URL, true}, {wrong.URL, false}} {
		err := storage.Checker{}.CheckLink(context.Background(), tt.url, "image/jpeg")
		if !errors.Is(err, storage.ErrLinkRejected) || errors.Is(err, storage.ErrLinkUnreachable) != tt.transient {
			t.Errorf("%s: %v, transient = %v, want %v", tt.url, err, errors.Is(err, storage.ErrLinkUnreachable), tt.transient)
		}
	}
}
