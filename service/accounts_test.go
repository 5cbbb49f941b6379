package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/internal/testutil/memqueue"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// TestAPIAccountField: every way of posting takes account; a known one is
// stored in the job, an unknown one is 400 unknown_account and queues
// nothing.
func TestAPIAccountField(t *testing.T) {
	ta := newTestAPI(t, APIConfig{Accounts: []string{"shop", "news"}})
	ok := []response{
		ta.upload(t, "", field("account", "shop"), filePart("a.jpg", jpegBytes(1000))),
		ta.upload(t, "", field("account", "news"), field("text", "hi"), field("backgroundColor", "#228B22")),
		ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22","account":"news"}`), ""),
		ta.do(t, http.MethodPost, "/v1/statuses", "application/x-www-form-urlencoded", strings.NewReader(`text=hi&backgroundColor=%23228B22&account=shop`), ""),
	}
	for i, r := range ok {
		if r.status != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	var got []string
	for _, j := range ta.jobs.Enqueued() {
		got = append(got, j.Account)
	}
	slices.Sort(got)
	if want := []string{"news", "news", "shop", "shop"}; !slices.Equal(got, want) {
		t.Errorf("accounts %v, want %v", got, want)
	}
	bad := []response{
		ta.upload(t, "", field("account", "ghost"), filePart("a.jpg", jpegBytes(1000))),
		ta.upload(t, "", field("account", "ghost"), field("text", "hi"), field("backgroundColor", "#228B22")),
		ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22","account":"ghost"}`), ""),
		ta.do(t, http.MethodPost, "/v1/statuses", "application/x-www-form-urlencoded", strings.NewReader(`text=hi&backgroundColor=%23228B22&account=ghost`), ""),
		ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22","account":"default"}`), ""),
		// No default account here: a status must name one.
		ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22"}`), ""),
		ta.upload(t, "", filePart("a.jpg", jpegBytes(1000))),
	}
	for i, r := range bad {
		e := r.apiError(t)
		if r.status != http.StatusBadRequest || e.Error.Code != "unknown_account" || e.Error.Field != "account" ||
			!strings.Contains(e.Error.Message, "shop, news") {
			t.Errorf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if n := len(ta.jobs.Enqueued()); n != len(ok) {
		t.Errorf("%d jobs queued, want %d", n, len(ok))
	}
	puts, _ := ta.bucket.state()
	if puts != 1 {
		t.Errorf("%d files stored, want 1 (refused uploads store nothing)", puts)
	}
	ta.spoolEmpty(t)

	// With a default account, a status may name none.
	ta = newTestAPI(t, APIConfig{Accounts: []string{"default", "shop"}})
	if r := ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22"}`), ""); r.status != http.StatusAccepted {
		t.Errorf("no account, with a default: %d %s", r.status, r.body)
	}

	// Without accounts, only default (or none) is taken.
	ta = newTestAPI(t, APIConfig{})
	for name, want := range map[string]int{"default": http.StatusAccepted, "shop": http.StatusBadRequest, "": http.StatusAccepted} {
		r := ta.do(t, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(`{"text":"hi","backgroundColor":"#228B22","account":"`+name+`"}`), "")
		if r.status != want {
			t.Errorf("account %s without an accounts file: %d %s", name, r.status, r.body)
		}
	}
}

// listAPI is an API with a job list over a real queue.
func listAPI(t *testing.T, accounts []string) (*queue.Queue, *httptest.Server) {
	t.Helper()
	q := embeddedQueue(t, queue.Config{})
	ix, err := q.Index(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	api, err := NewAPI(APIConfig{SpoolDir: t.TempDir(), List: ix, Accounts: accounts}, q, newFakeBucket())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return q, srv
}

func listJobs(t *testing.T, srv *httptest.Server, query string) (int, queue.Page, errorBody) {
	t.Helper()
	resp := get(t, srv.URL+"/v1/statuses?"+query, "", nil)
	var p queue.Page
	var e errorBody
	body := json.NewDecoder(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := body.Decode(&p); err != nil {
			t.Fatal(err)
		}
	} else if err := body.Decode(&e); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, p, e
}

// TestListEndpoint: GET /v1/statuses pages newest first with filters;
// bad queries are 400s naming the parameter; /v1/info says jobList.
func TestListEndpoint(t *testing.T) {
	q, srv := listAPI(t, []string{"shop", "news"})
	for i := range 7 {
		acct := []string{"shop", "news", ""}[i%3]
		if _, err := q.Enqueue(t.Context(), queue.Job{ID: fmt.Sprintf("j%d", i), Origin: queue.OriginUpload, Account: acct}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Update(t.Context(), "j3", func(j *queue.Job) error { j.State = queue.StateFailed; return nil }); err != nil {
		t.Fatal(err)
	}
	var all []string
	cursor := ""
	deadline := time.Now().Add(30 * time.Second)
	for len(all) < 7 && time.Now().Before(deadline) { // the index catches up in milliseconds
		all, cursor = nil, ""
		for {
			code, p, e := listJobs(t, srv, "limit=3&cursor="+url.QueryEscape(cursor))
			if code != http.StatusOK {
				t.Fatalf("%d %+v", code, e)
			}
			for _, j := range p.Jobs {
				all = append(all, j.ID)
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
	}
	if want := []string{"j6", "j5", "j4", "j3", "j2", "j1", "j0"}; !slices.Equal(all, want) {
		t.Fatalf("pages %v, want %v", all, want)
	}
	testutil.WaitFor(t, 30*time.Second, "j3 failed in the list", func() bool {
		_, p, _ := listJobs(t, srv, "state=failed")
		return len(p.Jobs) == 1
	})
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"account=shop", []string{"j6", "j3", "j0"}},
		{"account=default&origin=upload", []string{"j5", "j2"}},
		{"account=shop&state=queued", []string{"j6", "j0"}},
		{"state=failed,queued&account=shop&limit=1", []string{"j6"}},
		{"origin=inbox", []string{}},
		{"since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), []string{}},
		{"since=0&state=failed", []string{"j3"}},
	} {
		code, p, e := listJobs(t, srv, tc.query)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %+v", tc.query, code, e)
		}
		var got []string
		for _, j := range p.Jobs {
			got = append(got, j.ID)
		}
		if !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, tc := range []struct{ query, code, field string }{
		{"state=done", "invalid_request", "state"},
		{"account=ghost", "unknown_account", "account"},
		{"origin=ftp", "invalid_request", "origin"},
		{"since=yesterday", "invalid_request", "since"},
		{"limit=0", "invalid_request", "limit"},
		{"limit=501", "invalid_request", "limit"},
		{"cursor=nonsense", "invalid_request", "cursor"},
		{"sort=asc", "invalid_request", "sort"},
		{"limit=1&limit=2", "invalid_request", "limit"},
	} {
		code, _, e := listJobs(t, srv, tc.query)
		if code != http.StatusBadRequest || e.Error.Code != tc.code || e.Error.Field != tc.field {
			t.Errorf("%s: %d %+v", tc.query, code, e)
		}
	}
	resp := get(t, srv.URL+"/v1/info", "", nil)
	var info serverInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if !info.JobList || !slices.Equal(info.Accounts, []string{"shop", "news"}) {
		t.Errorf("info %+v", info)
	}
}

// TestInboxAccountFolders: inbox/<account>/… is that account's; other
// folders and the top are the default's; a sidecar names one too, and
// one that contradicts its folder fails the job.
func TestInboxAccountFolders(t *testing.T) {
	dir, root := newTestDir(t)
	jobs := memqueue.New()
	in, err := NewInbox(InboxConfig{Bucket: dir, Jobs: jobs, Settle: time.Millisecond, TempDir: t.TempDir(), Accounts: []string{"shop", "news"}})
	if err != nil {
		t.Fatal(err)
	}
	put(t, root, "inbox/shop/a.jpg", "x", time.Minute)
	put(t, root, "inbox/news/deep/b.jpg", "x", time.Minute)
	put(t, root, "inbox/holiday/c.jpg", "x", time.Minute)
	put(t, root, "inbox/d.jpg", "x", time.Minute)
	put(t, root, "inbox/d.jpg.json", `{"account":"news"}`, time.Minute)
	put(t, root, "inbox/shop/e.jpg", "x", time.Minute)
	put(t, root, "inbox/shop/e.jpg.json", `{"account":"news"}`, time.Minute)
	put(t, root, "inbox/f.jpg", "x", time.Minute)
	put(t, root, "inbox/f.jpg.json", `{"account":"ghost"}`, time.Minute)
	scanOnce(t, in)                  // first sight
	time.Sleep(5 * time.Millisecond) // past Settle: taken at second sight
	if n := scanOnce(t, in); n != 6 {
		t.Fatalf("%d picked up, want 6", n)
	}
	got := map[string]string{}
	for _, j := range jobs.Enqueued() {
		got[j.Source] = j.Account + "|" + j.Invalid
	}
	want := map[string]string{
		"inbox/shop/a.jpg":      "shop|",
		"inbox/news/deep/b.jpg": "news|",
		"inbox/holiday/c.jpg":   "|",
		"inbox/d.jpg":           "news|",
		"inbox/f.jpg":           "ghost|", // the worker fails it: unknown_account
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if e := got["inbox/shop/e.jpg"]; !strings.HasPrefix(e, "news|the file is in the folder of the account \"shop\" but its sidecar names the account \"news\"") {
		t.Errorf("contradicting sidecar: %q", e)
	}
}

// TestWorkerPostsForEachAccount: two accounts on two stand-in instances,
// with the shared limiter keyed by instance: each job's status goes to
// its own account's instance; a job naming an unknown account fails with
// unknown_account and posts nowhere; while one instance answers 429 to
// every send, the other keeps posting, each within its 5 sends a second.
func TestWorkerPostsForEachAccount(t *testing.T) {
	shop := greenapitest.NewServer(t, "1101000001", "tok-shop")
	news := greenapitest.NewServer(t, "2202000002", "tok-news")
	q := embeddedQueue(t, queue.Config{})
	client := func(s *greenapitest.Server, id, tok string) *greenapi.Client {
		c, err := greenapi.New(greenapi.Config{APIURL: s.URL(), IDInstance: id, Token: tok, MaxAttempts: 2,
			SendLimiter: q.Limiter("greenapi-send-"+id, 5, time.Second+50*time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tr := newTranscoder(t)
	dir, _ := newTestDir(t)
	jobs := memqueue.New()
	logs := &testutil.SyncBuffer{}
	w, err := NewWorker(WorkerConfig{Jobs: jobs, Bucket: dir, Prep: tr, Check: storage.Checker{},
		TempDir: filepath.Join(t.TempDir(), "work"), Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Accounts: AccountMap{
			"shop": {Name: "shop", Send: client(shop, "1101000001", "tok-shop")},
			"news": {Name: "news", Send: client(news, "2202000002", "tok-news")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(id, account, text string) error {
		j := queue.Job{ID: id, State: queue.StateQueued, Origin: queue.OriginUpload, Account: account,
			Request: queue.Request{Text: text, BackgroundColor: "#228B22"}}
		jobs.Set(id, j)
		return w.Handle(t.Context(), queue.NewDelivery(j, 1, 10))
	}
	if err := run("s1", "shop", "for shop"); err != nil {
		t.Fatal(err)
	}
	if err := run("n1", "news", "for news"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"u1", "d1"} {
		account := map[string]string{"u1": "ghost", "d1": ""}[id] // no default account here
		if err := run(id, account, "lost"); err == nil {
			t.Errorf("%s: no error", id)
		}
		j, _ := jobs.Get(t.Context(), id)
		if j.State != queue.StateFailed || j.ErrorCode != "unknown_account" || !strings.Contains(j.Error, "nothing was posted") {
			t.Errorf("%s: %+v", id, j)
		}
	}
	texts := func(s *greenapitest.Server) []string {
		var out []string
		for _, p := range s.Posted() {
			out = append(out, fmt.Sprint(p.Body["message"]))
		}
		return out
	}
	if got := texts(shop); !slices.Equal(got, []string{"for shop"}) {
		t.Errorf("shop's instance got %v", got)
	}
	if got := texts(news); !slices.Equal(got, []string{"for news"}) {
		t.Errorf("news's instance got %v", got)
	}

	// A 429 storm on shop: its jobs wait (retry later); news posts on.
	storm := make([]greenapitest.Fault, 40)
	for i := range storm {
		storm[i] = greenapitest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "0"}
	}
	shop.Inject("", storm...)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range 8 {
		wg.Go(func() { errs[i] = run(fmt.Sprintf("s-storm-%d", i), "shop", fmt.Sprintf("shop %d", i)) })
		wg.Go(func() { errs[8+i] = run(fmt.Sprintf("n-storm-%d", i), "news", fmt.Sprintf("news %d", i)) })
	}
	wg.Wait()
	for i := range 8 {
		if errs[8+i] != nil {
			t.Errorf("news job %d: %v", i, errs[8+i])
		}
		j, _ := jobs.Get(t.Context(), fmt.Sprintf("s-storm-%d", i))
		if !errors.Is(errs[i], greenapi.ErrRetryExhausted) || j.State != queue.StateQueued || j.IDMessage != "" {
			t.Errorf("shop job %d under 429s: %v, state %s; want a retry later", i, errs[i], j.State)
		}
	}
	if n := len(news.Posted()); n != 9 {
		t.Errorf("news posted %d, want 9", n)
	}
	if n := len(shop.Posted()); n != 1 {
		t.Errorf("shop posted %d during its storm, want 1 (from before)", n)
	}
	for name, s := range map[string]*greenapitest.Server{"shop": shop, "news": news} {
		if m := s.MaxPerSecond(""); m > 5 {
			t.Errorf("%s got %d sends in one second, over 5", name, m)
		}
		if errs := s.Errors(); len(errs) > 0 {
			t.Errorf("%s refused: %v", name, errs)
		}
	}
	if strings.Contains(logs.String(), "tok-") {
		t.Error("a token is in the log")
	}
	if !strings.Contains(logs.String(), "account=news") || !strings.Contains(logs.String(), "account=ghost") {
		t.Errorf("the log lines do not name the account:\n%s", logs.String())
	}
}
