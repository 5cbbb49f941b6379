package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
	"github.com/mediaprep/mediaprep/queue"
)

func TestGetStatus(t *testing.T) {
	ta := newTestAPI(t, APIConfig{})
	ta.jobs.Set("00112233aabbccdd", queue.Job{
		ID: "00112233aabbccdd", State: queue.StatePosted, Origin: queue.OriginUpload,
		URL: "https://media.example/x.jpg", IDMessage: "BAE5F4886F6F2D05",
	})
	ta.jobs.Set("feedfacefeedface", queue.Job{ID: "feedfacefeedface", State: queue.StateFailed, ErrorCode: "unsupported_type", Error: "not a picture"})

	resp := ta.do(t, http.MethodGet, "/v1/statuses/00112233aabbccdd", "", nil, "")
	var j queue.Job
	if resp.status != 200 || json.Unmarshal(resp.body, &j) != nil || j.State != queue.StatePosted || j.IDMessage != "BAE5F4886F6F2D05" || j.URL == "" {
		t.Errorf("posted job: status %d %s", resp.status, resp.body)
	}
	resp = ta.do(t, http.MethodGet, "/v1/statuses/feedfacefeedface", "", nil, "")
	if resp.status != 200 || !strings.Contains(string(resp.body), `"errorCode":"unsupported_type"`) {
		t.Errorf("failed job: status %d %s", resp.status, resp.body)
	}
	for _, id := range []string{"0000000000000000", "a.b", "%2A"} {
		resp = ta.do(t, http.MethodGet, "/v1/statuses/"+id, "", nil, "")
		if resp.status != 404 || resp.apiError(t).Error.Code != "not_found" {
			t.Errorf("%s: status %d %s", id, resp.status, resp.body)
		}
	}

	down := &erroringJobs{fakeJobs: memqueue.New(), err: errors.New("nats: no responders")}
	api, err := NewAPI(APIConfig{SpoolDir: t.TempDir()}, down, newFakeBucket())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/statuses/00112233aabbccdd", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("queue down: status %d %s", rec.Code, rec.Body)
	}
}

type erroringJobs struct {
	*fakeJobs
	err error
}

func (e *erroringJobs) Get(ctx context.Context, id string) (queue.Job, error) {
	return queue.Job{}, e.err
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name             string
		queueErr, bktErr error
		status           int
		failed           []string
	}{
		{"all up", nil, nil, 200, nil},
		{"storage down", nil, errors.New("no route"), 503, []string{"storage"}},
		{"queue down", errors.New("nats: timeout"), nil, 503, []string{"queue"}},
		{"both down", errors.New("x"), errors.New("y"), 503, []string{"queue", "storage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAPI(t, APIConfig{})
			ta.jobs.PingErr, ta.bucket.pingErr = tt.queueErr, tt.bktErr
			resp := ta.do(t, http.MethodGet, "/readyz", "", nil, "")
			if resp.status != tt.status {
				t.Fatalf("status %d %s", resp.status, resp.body)
			}
			var got struct {
				Status string
				Failed []string
			}
			if err := json.Unmarshal(resp.body, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Failed, tt.failed) {
				t.Errorf("failed %v, want %v", got.Failed, tt.failed)
			}
		})
	}
}
