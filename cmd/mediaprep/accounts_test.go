package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
)

// Two more instances next to the default one of the tests.
const (
	shopInstance, shopToken = "2202000002", "tok-SECRET-shop-77"
	newsInstance, newsToken = "3303000003", "tok-SECRET-news-88"
)

// accountsFile writes an accounts file naming shop (token in SHOP_TOKEN)
// and news (token in a 0600 file), and returns its path.
func accountsFile(t *testing.T, shop, news *greenapitest.Server) string {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "news.token")
	if err := os.WriteFile(tok, []byte(newsToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`accounts:
  - name: shop
    apiUrl: %s
    idInstance: "%s"
    tokenEnv: SHOP_TOKEN
  - name: news
    apiUrl: %s
    idInstance: "%s"
    tokenFile: %s
`, shop.URL(), shopInstance, news.URL(), newsInstance, tok)
	p := filepath.Join(dir, "accounts.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeAccounts: serve with the default instance and two accounts of
// an accounts file, each on its own stand-in. Text statuses and an inbox
// drop go each to their account's instance; an unknown account is 400;
// shop answers 429 to its first sends (a storm) while news keeps posting,
// each within 5 sends a second; the list pages by account; no token is
// printed.
func TestServeAccounts(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true})
	shop := greenapitest.NewServer(t, shopInstance, shopToken)
	news := greenapitest.NewServer(t, newsInstance, newsToken)
	storm := make([]greenapitest.Fault, 12)
	for i := range storm {
		storm[i] = greenapitest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}
	}
	shop.Inject("", storm...)
	_, base := c.serve("serve", []string{config.AccountsFileEnv + "=" + accountsFile(t, shop, news), "SHOP_TOKEN=" + shopToken,
		"MEDIAPREP_DELIVERY_WINDOW=0"}, "--workers", "4")

	code, b, _ := request(t, "GET", base+"/v1/info", "", "", nil)
	var info struct {
		JobList  bool     `json:"jobList"`
		Accounts []string `json:"accounts"`
	}
	if err := json.Unmarshal(b, &info); err != nil || code != 200 || !info.JobList || strings.Join(info.Accounts, ",") != "default,shop,news" {
		t.Fatalf("info %d %s", code, b)
	}
	text := func(account, msg string) (int, string) {
		body := fmt.Sprintf(`{"text":%q,"backgroundColor":"#228B22","account":%q}`, msg, account)
		code, b, _ := request(t, "POST", base+"/v1/statuses", "", "application/json", strings.NewReader(body))
		var r struct {
			ID    string `json:"id"`
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &r)
		if r.ID == "" {
			return code, r.Error.Code
		}
		return code, r.ID
	}
	if code, errCode := text("ghost", "lost"); code != 400 || errCode != "unknown_account" {
		t.Errorf("unknown account: %d %s", code, errCode)
	}
	var ids []string
	for i := range 6 {
		for _, acct := range []string{"shop", "news"} {
			code, id := text(acct, fmt.Sprintf("%s %d", acct, i))
			if code != 202 {
				t.Fatalf("%s: %d %s", acct, code, id)
			}
			ids = append(ids, id)
		}
	}
	code, id := text("", "for the default")
	if code != 202 {
		t.Fatalf("default: %d", code)
	}
	ids = append(ids, id)
	c.drop("inbox/news/sample.jpg", sample("sample.jpg"), nil)

	for _, id := range ids {
		if j := waitFinal(t, base, "", id, 3*time.Minute); j["state"] != "posted" {
			t.Errorf("job %s: %v", id, j)
		}
	}
	testutil.WaitFor(t, 2*time.Minute, "the inbox drop to be posted on news", func() bool { return len(news.Posted()) == 7 })

	got := func(s *greenapitest.Server) (texts []string, media int) {
		for _, p := range s.Posted() {
			if p.Method == "sendTextStatus" {
				texts = append(texts, fmt.Sprint(p.Body["message"]))
			} else {
				media++
			}
		}
		return texts, media
	}
	for name, s := range map[string]*greenapitest.Server{"shop": shop, "news": news, "default": c.green} {
		texts, media := got(s)
		for _, tx := range texts {
			if !strings.HasPrefix(tx, name) && !(name == "default" && tx == "for the default") {
				t.Errorf("%s's instance got %q", name, tx)
			}
		}
		want := map[string][2]int{"shop": {6, 0}, "news": {6, 1}, "default": {1, 0}}[name]
		if len(texts) != want[0] || media != want[1] {
			t.Errorf("%s's instance: %d texts, %d media; want %v", name, len(texts), media, want)
		}
		if m := s.MaxPerSecond(""); m > 5 {
			t.Errorf("%s's instance got %d sends in one second", name, m)
		}
		for _, msg := range s.Errors() {
			t.Errorf("%s's stand-in refused: %s", name, msg)
		}
	}
	if n := shop.Count("sendTextStatus"); n < 6+len(storm) {
		t.Errorf("shop saw %d sends, want its storm of %d and 6 posts", n, len(storm))
	}

	// The list: news's jobs, 3 a page, newest first.
	var listed []string
	cursor := ""
	for {
		code, b, _ := request(t, "GET", base+"/v1/statuses?account=news&limit=3&cursor="+url.QueryEscape(cursor), "", "", nil)
		var p struct {
			Jobs []struct {
				ID, Account, Origin string
			} `json:"jobs"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(b, &p); err != nil || code != 200 {
			t.Fatalf("list %d %s", code, b)
		}
		for _, j := range p.Jobs {
			if j.Account != "news" {
				t.Errorf("listed %+v for news", j)
			}
			listed = append(listed, j.ID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(listed) != 7 {
		t.Errorf("listed %d jobs of news, want 7", len(listed))
	}
	// DELETE of a posted news job: deleteStatus on news's instance only.
	newsID := ids[1] // news 0
	if code, b, _ := request(t, "DELETE", base+"/v1/statuses/"+newsID, "", "", nil); code != 200 {
		t.Errorf("DELETE %s: %d %s", newsID, code, b)
	}
	if n := news.Count("deleteStatus"); n != 1 || shop.Count("deleteStatus")+c.green.Count("deleteStatus") != 0 {
		t.Errorf("deleteStatus: news %d, shop %d, default %d", n, shop.Count("deleteStatus"), c.green.Count("deleteStatus"))
	}
	code, metrics, _ := request(t, "GET", base+"/metrics", "", "", nil)
	for _, want := range []string{
		`mediaprep_account_jobs_total{account="news",state="posted"} 7`,
		`mediaprep_account_jobs_total{account="shop",state="posted"} 6`,
		`mediaprep_account_jobs_total{account="default",state="posted"} 1`,
		`mediaprep_account_greenapi_responses_total{account="shop",code="429",method="sendTextStatus"}`,
	} {
		if code != 200 || !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}
	if bytes.Contains(metrics, []byte("SECRET")) {
		t.Error("a token is in /metrics")
	}
	for _, p := range c.procs {
		out := p.out.String()
		if strings.Contains(out, shopToken) || strings.Contains(out, newsToken) {
			t.Errorf("%s printed a token", p.name)
		}
		if !strings.Contains(out, `"account":"news"`) {
			t.Errorf("%s: no log line names the account", p.name)
		}
	}
}

// TestServeBadAccountsFile: every problem of an accounts file is reported
// at once, and serve does not start.
func TestServeBadAccountsFile(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.token")
	if err := os.WriteFile(open, []byte("tok-SECRET-open"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "accounts.json")
	body := `{"accounts":[
{"name":"inline","idInstance":"1","token":"tok-SECRET-inline"},
{"name":"wide","idInstance":"2","tokenFile":"` + open + `"},
{"name":"noenv","idInstance":"3","tokenEnv":"NOT_SET_ANYWHERE"},
{"name":"twice","idInstance":"4","tokenEnv":"T"},
{"name":"twice","idInstance":"5","tokenEnv":"T"}]}`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.AccountsFileEnv: file, "T": "tok-SECRET-t", "MEDIAPREP_DATA_DIR": t.TempDir()}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d:\n%s", code, exitUsage, stderr.String())
	}
	for _, want := range []string{"has a token field", "has mode 0644", "NOT_SET_ANYWHERE, which is not set", "the name is used twice"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), "SECRET") {
		t.Error("a token was printed")
	}
}

// TestPostAccount: post --account posts with that account's instance;
// an unknown one is refused before anything is sent.
func TestPostAccount(t *testing.T) {
	e := newE2E(t)
	shop := greenapitest.NewServer(t, shopInstance, shopToken)
	news := greenapitest.NewServer(t, newsInstance, newsToken)
	e.env[config.AccountsFileEnv] = accountsFile(t, shop, news)
	e.env["SHOP_TOKEN"] = shopToken
	stdout, code := e.run("post", "--json", "--account", "news", "--delivery-window", "0", "--text", "for news", "--background-color", "#228B22")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stdout, e.out.String())
	}
	if p := news.Posted(); len(p) != 1 || p[0].Body["message"] != "for news" || len(shop.Posted())+len(e.green.Posted()) != 0 {
		t.Errorf("news %d, shop %d, default %d", len(news.Posted()), len(shop.Posted()), len(e.green.Posted()))
	}
	// statuses --account lists that account's statuses.
	if stdout, code := e.run("statuses", "--account", "news", "--json"); code != exitOK || !strings.Contains(stdout, news.Posted()[0].IDMessage) {
		t.Errorf("statuses --account news: exit %d: %s", code, stdout)
	}
	// batch --account: the file goes to shop's instance.
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "sample.jpg"))
	if stdout, code := e.run("batch", "--account", "shop", "--json", "--delivery-window", "0", "--out", t.TempDir(), dir); code != exitOK {
		t.Fatalf("batch: exit %d: %s", code, stdout)
	}
	if p := shop.Posted(); len(p) != 1 || p[0].Method != "sendMediaStatus" || len(news.Posted()) != 1 || len(e.green.Posted()) != 0 {
		t.Errorf("after batch: shop %d, news %d, default %d", len(shop.Posted()), len(news.Posted()), len(e.green.Posted()))
	}
	if _, code := e.run("post", "--account", "ghost", "--text", "lost", "--background-color", "#228B22"); code != exitUsage {
		t.Errorf("unknown account: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(e.out.String(), "unknown_account: --account ghost") {
		t.Errorf("no unknown_account message:\n%s", e.out.String())
	}
	if strings.Contains(e.out.String(), shopToken) || strings.Contains(e.out.String(), newsToken) {
		t.Error("a token was printed")
	}
}
