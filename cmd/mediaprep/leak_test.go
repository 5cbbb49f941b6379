package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/publish"
)

// Recognisable tokens of two accounts, long as real ones.
const (
	leakShopInstance, leakShopToken = "4404000004", "tokA-9f8e7d6c5b4a39281706f5e4d3c2b1a0-shopshop"
	leakNewsInstance, leakNewsToken = "5505000005", "tokB-0a1b2c3d4e5f60718293a4b5c6d7e8f9-newsnews"
)

// leaks collects every byte the test sees from mediaprep: process output,
// HTTP answers (headers and bodies), event streams.
type leaks struct {
	mu   sync.Mutex
	seen []leakPart
}

type leakPart struct {
	where string
	b     []byte
}

func (l *leaks) add(where string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, leakPart{where, slices.Clone(b)})
}

// answer records and returns one HTTP exchange.
func (l *leaks) request(t *testing.T, method, u, contentType, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	code, b, hdr := request(t, method, u, "", contentType, r)
	var h bytes.Buffer
	_ = hdr.Write(&h)
	l.add(method+" "+u+" header", h.Bytes())
	l.add(method+" "+u+" body", b)
	return code, b
}

// check fails for every place a token (or an escaped form) shows,
// printing only its surroundings with the token replaced.
func (l *leaks) check(t *testing.T, tokens ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var forms []string
	for _, tok := range tokens {
		forms = append(forms, tok, url.PathEscape(tok), url.QueryEscape(tok), strings.ToLower(tok))
		if j, err := json.Marshal(tok); err == nil {
			forms = append(forms, strings.Trim(string(j), `"`))
		}
	}
	bytesSeen := 0
	for _, p := range l.seen {
		bytesSeen += len(p.b)
		low := bytes.ToLower(p.b)
		for _, f := range forms {
			i := bytes.Index(low, []byte(strings.ToLower(f)))
			if i < 0 {
				continue
			}
			from, to := max(0, i-80), min(len(p.b), i+len(f)+80)
			ctx := string(p.b[from:to])
			for _, tok := range forms {
				ctx = strings.ReplaceAll(ctx, tok, "<TOKEN>")
			}
			t.Errorf("%s: a token: …%s…", p.where, ctx)
		}
	}
	t.Logf("checked %d bytes in %d parts", bytesSeen, len(l.seen))
}

// leakProc is a mediaprep process whose output goes to the collection only
// (never to the test log: a leak there would leak into the test's output).
func leakRun(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--log-json", "-v"}, args...)...)
	cmd.Env = env
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// TestNoTokenLeaks runs serve with debug logging and two accounts (shop's
// token in an env var, news's in a file) with links made by uploadFile,
// through as many paths that carry a token as practical: uploads that post
// after 429, 500 and a dropped connection, an upload refused with an answer
// that quotes the token, text statuses, delivery following, DELETE
// (deleteStatus), the job list, records, error answers, /metrics, /v1/info,
// /v1/events, `mediaprep post --publish-at` (handed to the service) and
// `mediaprep statuses` (list, --stats, and --delete handed to the
// service). No byte of any of it holds a token; the stand-ins saw them.
func TestNoTokenLeaks(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true})
	shop := greenapitest.NewServer(t, leakShopInstance, leakShopToken)
	news := greenapitest.NewServer(t, leakNewsInstance, leakNewsToken)
	var l leaks
	tokens := []string{leakShopToken, leakNewsToken, testToken}
	defer l.check(t, tokens...)

	dir := t.TempDir()
	tokFile := filepath.Join(dir, "news.token")
	if err := os.WriteFile(tokFile, []byte(leakNewsToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	accounts := filepath.Join(dir, "accounts.yaml")
	body := fmt.Sprintf("accounts:\n  - name: shop\n    apiUrl: %s\n    idInstance: \"%s\"\n    tokenEnv: SHOP_TOKEN\n"+
		"  - name: news\n    apiUrl: %s\n    idInstance: \"%s\"\n    tokenFile: %s\n",
		shop.URL(), leakShopInstance, news.URL(), leakNewsInstance, tokFile)
	if err := os.WriteFile(accounts, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	// Faults: retries and their errors are logged.
	shop.Inject("uploadFile", greenapitest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"},
		greenapitest.Fault{Status: http.StatusInternalServerError})
	shop.Inject("getOutgoingStatuses", greenapitest.Fault{Drop: true}, greenapitest.Fault{Status: http.StatusInternalServerError})
	shop.Inject("sendTextStatus", greenapitest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	quoted := fmt.Sprintf(`{"code":400,"description":"bad request to %s/waInstance%s/sendMediaStatus/%s"}`, news.URL(), leakNewsInstance, leakNewsToken)
	news.Inject("sendMediaStatus", greenapitest.Fault{Status: http.StatusBadRequest, Body: quoted})
	news.Inject("uploadFile", greenapitest.Fault{Drop: true})

	env := append(slices.Clone(c.env), config.AccountsFileEnv+"="+accounts, "SHOP_TOKEN="+leakShopToken,
		"MEDIAPREP_DELIVERY_WINDOW=30s", "MEDIAPREP_LINK_MODE=greenapi")
	srv, out := leakRun(t, c.bin, env, "serve", "--listen", "127.0.0.1:0")
	done := make(chan struct{})
	var srvErr error
	go func() { srvErr = srv.Wait(); close(done) }()
	defer func() {
		select {
		case <-done:
		default:
			_ = srv.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = srv.Process.Kill()
				<-done
			}
		}
		l.add("serve output", []byte(out.String()))
	}()
	var addr string
	testutil.WaitFor(t, 60*time.Second, "serve to listen", func() bool {
		select {
		case <-done:
			t.Fatalf("serve exited: %v", srvErr) // its output is checked, not printed
		default:
		}
		addr = logField(out.String(), "serving", "addr")
		return addr != ""
	})
	base := "http://" + addr

	// /v1/events, read until the end of the test.
	ctx, cancel := context.WithCancel(context.Background())
	var events bytes.Buffer
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		_ = resp.Header.Write(&events)
		_, _ = io.Copy(&events, resp.Body)
	}()
	defer func() { cancel(); <-evDone; l.add("/v1/events", events.Bytes()) }()

	up := func(account, caption string) string {
		code, b, hdr := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": caption, "account": account})
		raw, _ := json.Marshal(b)
		var h bytes.Buffer
		_ = hdr.Write(&h)
		l.add("upload answer", append(h.Bytes(), raw...))
		if code != http.StatusAccepted {
			t.Fatalf("upload for %s: %d", account, code)
		}
		return b["id"].(string)
	}
	shopMedia := up("shop", "shop media")
	newsMedia := up("news", "news media") // uploadFile dropped, then sendMediaStatus refused quoting the token
	code, b := l.request(t, "POST", base+"/v1/statuses", "application/json", `{"text":"shop text","backgroundColor":"#228B22","account":"shop"}`)
	var txt struct{ ID string }
	if json.Unmarshal(b, &txt) != nil || code != http.StatusAccepted {
		t.Fatalf("text: %d", code)
	}
	code, b = l.request(t, "POST", base+"/v1/statuses", "application/json", `{"text":"news text","backgroundColor":"#228B22","account":"news"}`)
	var newsTxt struct{ ID string }
	if json.Unmarshal(b, &newsTxt) != nil || code != http.StatusAccepted {
		t.Fatalf("news text: %d", code)
	}

	final := map[string]string{}
	for _, id := range []string{shopMedia, newsMedia, txt.ID, newsTxt.ID} {
		j := waitFinal(t, base, "", id, 2*time.Minute)
		final[id], _ = j["state"].(string)
	}
	if final[shopMedia] != "posted" || final[txt.ID] != "posted" || final[newsTxt.ID] != "posted" || final[newsMedia] != "failed" {
		t.Errorf("states %v; want the news media failed, the others posted", final)
	}
	testutil.WaitFor(t, 90*time.Second, "shop's deliveries to be followed", func() bool {
		return job(t, base, "", shopMedia)["delivery"] == "sent" && job(t, base, "", txt.ID)["delivery"] == "sent"
	})
	if code, b := l.request(t, "DELETE", base+"/v1/statuses/"+shopMedia, "", ""); code != http.StatusOK {
		t.Errorf("DELETE: %d %s", code, b)
	}

	// Records, the list, error answers, /metrics, /v1/info.
	for _, id := range []string{shopMedia, newsMedia, txt.ID, newsTxt.ID} {
		l.request(t, "GET", base+"/v1/statuses/"+id, "", "")
	}
	for _, u := range []string{"/v1/statuses", "/v1/statuses?account=shop", "/v1/statuses?account=news", "/v1/info", "/metrics",
		"/v1/statuses/nope", "/v1/statuses?account=ghost", "/v1/statuses?limit=-1"} {
		l.request(t, "GET", base+u, "", "")
	}
	l.request(t, "POST", base+"/v1/statuses", "application/json", `{"text":"x","account":"ghost"}`)
	l.request(t, "POST", base+"/v1/statuses", "application/json", `{not json`)

	// The CLI: list an account's statuses; a scheduled post and --delete
	// handed to the service.
	cliEnv := append(slices.Clone(env), "MEDIAPREP_API_URL="+base)
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var scheduledAs []string // jobs handed over by post (news) and batch (shop)
	batchDir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(batchDir, "sample.jpg"))
	shopText := job(t, base, "", txt.ID)["idMessage"].(string)
	for _, args := range [][]string{
		{"statuses", "--account", "shop", "--json"},
		{"post", "--account", "news", "--publish-at", later, "--caption", "later", "--json", sample("sample.jpg")},
		{"statuses", "--account", "news"},
		{"statuses", "--account", "news", "--delete", newsTxt.ID},
		{"statuses", "--account", "shop", "--stats", "no-such-id"},
		{"batch", "--account", "shop", "--publish-at", later, "--json", batchDir},
		{"statuses", "--account", "shop", "--delete", shopText}, // an idMessage: deleteStatus from the CLI
	} {
		cmd, cout := leakRun(t, c.bin, cliEnv, args...)
		err := cmd.Wait()
		l.add(strings.Join(args, " "), []byte(cout.String()))
		if args[0] != "statuses" || args[len(args)-1] == "--json" || args[len(args)-2] == "--delete" {
			if err != nil {
				t.Errorf("%v: %v", args, err)
			}
		}
		if args[0] == "post" || args[0] == "batch" {
			job := ""
			for _, line := range strings.Split(cout.String(), "\n") {
				if r := (publish.Scheduled{}); json.Unmarshal([]byte(line), &r) == nil && r.State == "scheduled" {
					job = r.Job
				}
			}
			scheduledAs = append(scheduledAs, job)
		}
	}

	for i, acct := range []string{"news", "shop"} {
		code, b := l.request(t, "GET", base+"/v1/statuses?account="+acct, "", "")
		if len(scheduledAs) != 2 || scheduledAs[i] == "" || code != http.StatusOK || !bytes.Contains(b, []byte(scheduledAs[i])) {
			t.Errorf("%s's list lacks the job handed over with --account (%d, %v)", acct, code, scheduledAs)
		}
	}

	// The tokens did reach the stand-ins: every path above ran.
	for name, want := range map[string]struct {
		s       *greenapitest.Server
		methods []string
	}{
		"shop": {shop, []string{"uploadFile", "sendMediaStatus", "sendTextStatus", "getOutgoingStatuses", "deleteStatus"}},
		"news": {news, []string{"uploadFile", "sendMediaStatus", "sendTextStatus", "deleteStatus"}},
	} {
		for _, m := range want.methods {
			if want.s.Count(m) == 0 {
				t.Errorf("%s's stand-in saw no %s", name, m)
			}
		}
		for _, msg := range want.s.Errors() {
			t.Errorf("%s's stand-in refused: %s", name, strings.ReplaceAll(msg, want.s.URL(), "<URL>"))
		}
	}
	dropped := false
	for _, call := range shop.Requests() {
		dropped = dropped || call.Method == "getOutgoingStatuses" && call.Status == 0
	}
	if !dropped {
		t.Error("shop's dropped getOutgoingStatuses did not happen")
	}
	if n := shop.Count("deleteStatus"); n != 2 {
		t.Errorf("shop saw %d deleteStatus, want 2 (DELETE and statuses --delete)", n)
	}
	if n := shop.Count("uploadFile"); n < 3 {
		t.Errorf("shop saw %d uploadFile calls, want its 429 and 500 retried", n)
	}
}
