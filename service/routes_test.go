package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/queue"
)

func TestRoutes(t *testing.T) {
	media := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "media "+r.URL.Path) // a failed write shows as a wrong body in the test
	})
	ta := newTestAPI(t, APIConfig{Keys: []string{"k"}, Media: media})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/healthz", 200, ""},
		{"PUT", "/v1/statuses/0011", 405, "method_not_allowed"},
		{"GET", "/v1/statuses", 405, "method_not_allowed"},
		{"POST", "/healthz", 405, "method_not_allowed"},
		{"GET", "/nope", 404, "not_found"},
		{"GET", "/metrics", 404, "not_found"}, // no Metrics configured
		{"GET", "/media/a/b.jpg", 200, ""},
	}
	for _, tt := range tests {
		resp := ta.do(t, tt.method, tt.path, "", nil, "")
		if resp.status != tt.status {
			t.Errorf("%s %s: status %d %s, want %d", tt.method, tt.path, resp.status, resp.body, tt.status)
			continue
		}
		if tt.code != "" && resp.apiError(t).Error.Code != tt.code {
			t.Errorf("%s %s: body %s, want code %s", tt.method, tt.path, resp.body, tt.code)
		}
		if tt.status == 405 && resp.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
	if resp := ta.do(t, "GET", "/media/a/b.jpg", "", nil, ""); string(resp.body) != "media /media/a/b.jpg" {
		t.Errorf("media body %q", resp.body)
	}
	if resp := ta.do(t, "GET", "/healthz", "", nil, ""); strings.TrimSpace(string(resp.body)) != `{"status":"ok"}` {
		t.Errorf("healthz body %q", resp.body)
	}
}

func TestRequestLog(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Keys: []string{"s3cret-key"}})
	resp := ta.upload(t, "s3cret-key", filePart("a.jpg", jpegBytes(1000)))
	if resp.status != 202 {
		t.Fatalf("status %d", resp.status)
	}
	var got struct{ ID string }
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatal(err)
	}
	logs := ta.logs.String()
	for _, want := range []string{"method=POST", "path=/v1/statuses", "status=202", "duration=", "job=" + got.ID} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "s3cret") {
		t.Errorf("the key is in the log:\n%s", logs)
	}
}

// TestOpenAPIDocument keeps api/openapi.yaml in step with the routes and
// error codes.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"/v1/statuses:", "/v1/statuses/{id}:", "/healthz:", "/readyz:", "/metrics:", "/media/{path}:",
		codeUnauthorized, codeTooLarge, codeUnsupportedType, codeInvalidRequest, codeNotFound,
		codeQueueFull, codeBusy, codeUnavailable, codeMethodNotAllowed,
		codeTooSlow, codeTooManyFields, codeTooManyPartic, codeNoSpace, codeTooFarAhead, codeConflict, codeNotImplemented, "delete:", "[queue, storage, disk]",
		codeUnknownAccount, "operationId: listStatuses", "JobList:",
		"Retry-After", "scheme: bearer",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("api/openapi.yaml does not mention %q", want)
		}
	}
	for name := range formFields {
		if !strings.Contains(string(doc), "\n        "+name+":") {
			t.Errorf("api/openapi.yaml: UploadForm lacks the field %s", name)
		}
	}
}

// emptyList is a JobLister with no jobs.
type emptyList struct{}

func (emptyList) List(context.Context, queue.ListOptions) (queue.Page, error) {
	return queue.Page{}, nil
}

// TestAllowListsEveryMethod: a 405 names every method the path takes, GET
// of the job list included when the API has one.
func TestAllowListsEveryMethod(t *testing.T) {
	tests := []struct {
		name string
		list JobLister
		want string
	}{
		{"without a job list", nil, "POST"},
		{"with a job list", emptyList{}, "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{List: tt.list})
			resp := ta.do(t, "PUT", "/v1/statuses", "", nil, "")
			if resp.status != 405 || resp.header.Get("Allow") != tt.want {
				t.Errorf("PUT /v1/statuses: %d, Allow %q; want 405, Allow %q", resp.status, resp.header.Get("Allow"), tt.want)
			}
		})
	}
}
