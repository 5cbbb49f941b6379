package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
	"github.com/mediaprep/mediaprep/queue"
)

// editJobs is the in-memory queue that can also wake jobs (JobEditor).
type editJobs struct {
	*memqueue.Jobs
	wmu   sync.Mutex
	wakes []string
}

func (q *editJobs) Wake(_ context.Context, id string) error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.wakes = append(q.wakes, id)
	return nil
}

// fakeDeleter records deleteStatus calls.
type fakeDeleter struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (d *fakeDeleter) DeleteStatus(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, id)
	return d.err
}

func newEditAPI(t *testing.T, cfg APIConfig) (*testAPI, *editJobs) {
	t.Helper()
	ej := &editJobs{Jobs: memqueue.New()}
	ta := &testAPI{bucket: newFakeBucket(), jobs: ej.Jobs, spool: t.TempDir(), logs: &testutil.SyncBuffer{}}
	cfg.SpoolDir = ta.spool
	cfg.Logger = slog.New(slog.NewTextHandler(ta.logs, nil))
	api, err := NewAPI(cfg, ej, ta.bucket)
	if err != nil {
		t.Fatal(err)
	}
	ta.api = api
	ta.srv = httptest.NewServer(api.Handler())
	t.Cleanup(ta.srv.Close)
	return ta, ej
}

// TestDeleteStatus: DELETE cancels a job not yet posting, deletes a
// posted one with deleteStatus, and answers 409 with why otherwise.
func TestDeleteStatus(t *testing.T) {
	del := &fakeDeleter{}
	ta, ej := newEditAPI(t, APIConfig{Schedule: ScheduleConfig{Deleter: del}})
	tests := []struct {
		job     queue.Job
		status  int
		state   queue.State // after
		code    string
		deleted bool // deleteStatus called
	}{
		{queue.Job{ID: "q", State: queue.StateQueued}, 200, queue.StateCanceled, "", false},
		{queue.Job{ID: "s", State: queue.StateScheduled, PublishAt: time.Now().Add(time.Hour)}, 200, queue.StateCanceled, "", false},
		{queue.Job{ID: "pr", State: queue.StatePreparing}, 200, queue.StateCanceled, "", false},
		{queue.Job{ID: "p", State: queue.StatePosted, IDMessage: "ID1"}, 200, queue.StateDeleted, "", true},
		{queue.Job{ID: "dry", State: queue.StatePosted, IDMessage: "DRY", DryRun: true}, 200, queue.StateDeleted, "", false},
		{queue.Job{ID: "ing", State: queue.StatePosting}, 409, queue.StatePosting, codeConflict, false},
		{queue.Job{ID: "unk", State: queue.StateQueued, OutcomeUnknown: true}, 409, queue.StateQueued, codeConflict, false},
		{queue.Job{ID: "f", State: queue.StateFailed, ErrorCode: "corrupt_media"}, 409, queue.StateFailed, codeConflict, false},
		{queue.Job{ID: "c", State: queue.StateCanceled}, 409, queue.StateCanceled, codeConflict, false},
		{queue.Job{ID: "d", State: queue.StateDeleted}, 409, queue.StateDeleted, codeConflict, false},
	}
	for _, tt := range tests {
		ej.Set(tt.job.ID, tt.job)
	}
	for _, tt := range tests {
		t.Run(tt.job.ID, func(t *testing.T) {
			del.calls = nil
			resp := ta.do(t, "DELETE", "/v1/statuses/"+tt.job.ID, "", nil, "")
			if resp.status != tt.status {
				t.Fatalf("status %d %s, want %d", resp.status, resp.body, tt.status)
			}
			if tt.code != "" {
				e := resp.apiError(t)
				if e.Error.Code != tt.code || e.Error.Message == "" {
					t.Errorf("error %+v, want code %s with why", e.Error, tt.code)
				}
			} else {
				var j queue.Job
				if err := json.Unmarshal(resp.body, &j); err != nil || j.State != tt.state {
					t.Errorf("answer %s, want the job %s", resp.body, tt.state)
				}
			}
			if got, _ := ej.Get(t.Context(), tt.job.ID); got.State != tt.state {
				t.Errorf("job state %s, want %s", got.State, tt.state)
			}
			if (len(del.calls) == 1 && del.calls[0] == tt.job.IDMessage) != tt.deleted {
				t.Errorf("deleteStatus calls %v, want called: %v", del.calls, tt.deleted)
			}
		})
	}
	if len(ej.wakes) != 3 {
		t.Errorf("woke %v, want the 3 canceled jobs", ej.wakes)
	}
	if resp := ta.do(t, "DELETE", "/v1/statuses/nope", "", nil, ""); resp.status != 404 {
		t.Errorf("DELETE of an unknown job: %d", resp.status)
	}
}

// TestDeleteStatusFailure: deleteStatus failing leaves the job posted and
// answers 502 with Green API's code.
func TestDeleteStatusFailure(t *testing.T) {
	del := &fakeDeleter{err: errors.New("boom")}
	ta, ej := newEditAPI(t, APIConfig{Schedule: ScheduleConfig{Deleter: del}})
	ej.Set("p", queue.Job{ID: "p", State: queue.StatePosted, IDMessage: "ID1"})
	resp := ta.do(t, "DELETE", "/v1/statuses/p", "", nil, "")
	if resp.status != http.StatusBadGateway {
		t.Errorf("status %d %s, want 502", resp.status, resp.body)
	}
	if got, _ := ej.Get(t.Context(), "p"); got.State != queue.StatePosted {
		t.Errorf("job %s after a failed deleteStatus, want posted", got.State)
	}
}

// TestDeleteWithoutEditor: a queue that cannot be changed answers 501 and
// /v1/info offers no cancel.
func TestDeleteWithoutEditor(t *testing.T) {
	ta := newTestAPI(t, APIConfig{})
	ta.jobs.Set("q", queue.Job{ID: "q", State: queue.StateQueued})
	if resp := ta.do(t, "DELETE", "/v1/statuses/q", "", nil, ""); resp.status != http.StatusNotImplemented {
		t.Errorf("status %d %s, want 501", resp.status, resp.body)
	}
}

// TestPublishAtFields: publishAt in every kind of body becomes the job's
// PublishAt; bad ones answer 400 naming the field; too far ahead answers
// publish_at_too_far.
func TestPublishAtFields(t *testing.T) {
	at := time.Now().Add(48 * time.Hour).Truncate(time.Second).UTC()
	rfc, unix := at.Format(time.RFC3339), at.Unix()
	far := time.Now().Add(3 * time.Hour).Format(time.RFC3339)
	text := func(extra string) string {
		return `{"text": "hi", "backgroundColor": "#112233"` + extra + `}`
	}
	tests := []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"json rfc3339", "application/json", text(`, "publishAt": "` + rfc + `"`), 202, ""},
		{"json unix number", "application/json", text(`, "publishAt": ` + jsonInt(unix)), 202, ""},
		{"json unix string", "application/json", text(`, "publishAt": "` + jsonInt(unix) + `"`), 202, ""},
		{"form", "application/x-www-form-urlencoded", "text=hi&backgroundColor=%23112233&publishAt=" + jsonInt(unix), 202, ""},
		{"json bad", "application/json", text(`, "publishAt": "next monday"`), 400, codeInvalidRequest},
		{"json object", "application/json", text(`, "publishAt": {}`), 400, codeInvalidRequest},
		{"form bad", "application/x-www-form-urlencoded", "text=hi&backgroundColor=%23112233&publishAt=2026-13-01", 400, codeInvalidRequest},
		{"too far", "application/json", text(`, "publishAt": "` + far + `"`), 400, codeTooFarAhead},
	}
	ta := newTestAPI(t, APIConfig{Schedule: ScheduleConfig{MaxAhead: 72 * time.Hour}})
	ta2 := newTestAPI(t, APIConfig{Schedule: ScheduleConfig{MaxAhead: time.Hour}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := ta
			if tt.code == codeTooFarAhead {
				api = ta2
			}
			resp := api.do(t, "POST", "/v1/statuses", tt.ctype, strings.NewReader(tt.body), "")
			if resp.status != tt.status {
				t.Fatalf("status %d %s, want %d", resp.status, resp.body, tt.status)
			}
			if tt.code != "" {
				if e := resp.apiError(t); e.Error.Code != tt.code || !strings.Contains(e.Error.Field+e.Error.Message, "publishAt") {
					t.Errorf("error %+v, want %s on publishAt", e.Error, tt.code)
				}
				return
			}
			q := api.jobs.Enqueued()
			if got := q[len(q)-1].PublishAt; !got.Equal(at) {
				t.Errorf("PublishAt %s, want %s", got, at)
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
