package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

const (
	testInstance = "1101000001"
	testToken    = "tok-SECRET-e2e-42" // must never be printed
)

// e2e is a real S3-compatible server and the strict Green API stand-in,
// with the environment that points mediaprep at them.
type e2e struct {
	t     *testing.T
	s3    *s3test.Server
	green *greenapitest.Server
	env   map[string]string
	out   bytes.Buffer // everything mediaprep printed, stdout and stderr
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	testutil.NeedFFmpeg(t)
	e := &e2e{t: t, s3: s3test.Start(t), green: greenapitest.NewServer(t, testInstance, testToken)}
	e.env = map[string]string{
		"MEDIAPREP_GREENAPI_URL":      e.green.URL(),
		"MEDIAPREP_GREENAPI_INSTANCE": testInstance,
		"MEDIAPREP_GREENAPI_TOKEN":    testToken,
	}
	for _, kv := range e.s3.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v) // the AWS SDK reads the process environment
			continue
		}
		e.env[k] = v
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Cleanup(func() {
		if strings.Contains(e.out.String(), testToken) {
			t.Errorf("the token was printed:\n%s", e.out.String())
		}
		for _, msg := range e.green.Errors() {
			t.Errorf("Green API stand-in refused a request: %s", msg)
		}
	})
	return e
}

// run runs mediaprep in-process and returns its stdout and exit status;
// stderr goes to e.out with it. Every command runs with -v --log-json so
// that debug logs are checked for the token too.
func (e *e2e) run(args ...string) (string, int) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"-v", "--log-json"}, args...)
	code := run(e.t.Context(), args, func(k string) string { return e.env[k] }, &stdout, &stderr)
	e.out.Write(stdout.Bytes())
	e.out.Write(stderr.Bytes())
	if testing.Verbose() && code != 0 {
		e.t.Logf("mediaprep %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), lastLines(stderr.String(), 10))
	}
	return stdout.String(), code
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// postLine is one JSON line of post and batch.
type postLine struct {
	jsonLine
	Key       string          `json:"key"`
	URL       string          `json:"url"`
	IDMessage string          `json:"idMessage"`
	Stored    bool            `json:"stored"`
	Skipped   bool            `json:"skipped"`
	DryRun    bool            `json:"dryRun"`
	Request   json.RawMessage `json:"request"`
}

func parseLines(t *testing.T, stdout string) []postLine {
	t.Helper()
	var lines []postLine
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var l postLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// objects lists the keys in the bucket.
func (e *e2e) objects() []string {
	out, err := e.s3.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(e.s3.Bucket)})
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func sample(name string) string { return filepath.Join("..", "..", "testdata", "samples", name) }
func badFile(name string) string {
	return filepath.Join("..", "..", "testdata", "bad", name)
}

func TestPostEachKind(t *testing.T) {
	e := newE2E(t)
	files := []string{sample("sample.jpg"), sample("sample.mov"), sample("sample.wav")}
	stdout, code := e.run(append([]string{"post", "--json", "--caption", "Лето 🌞", "--participants", "79001234567@c.us", "--"}, files...)...)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	lines := parseLines(t, stdout)
	if len(lines) != 3 {
		t.Fatalf("%d lines for 3 files", len(lines))
	}
	posted := e.green.Posted()
	if len(posted) != 3 {
		t.Fatalf("stand-in accepted %d statuses, want 3", len(posted))
	}
	wantType := map[string]string{"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg"}
	byID := map[string]greenapitest.Status{}
	for _, p := range posted {
		byID[p.IDMessage] = p
	}
	for i, l := range lines {
		if l.Error != nil || l.Source != files[i] || l.URL == "" || l.IDMessage == "" || !l.Stored {
			t.Errorf("line %d: %+v", i, l)
			continue
		}
		p, ok := byID[l.IDMessage]
		if !ok {
			t.Errorf("%s: idMessage %s not from the stand-in", l.Source, l.IDMessage)
			continue
		}
		if p.Method != l.Method || p.URLFile != l.URL || p.FetchedContentType != wantType[l.Kind] || l.ContentType != wantType[l.Kind] {
			t.Errorf("%s: posted %s %s served as %q; line says %s %s", l.Source, p.Method, p.URLFile, p.FetchedContentType, l.Method, l.ContentType)
		}
		if p.Body["fileName"] != l.FileName {
			t.Errorf("%s: fileName %v, want %s", l.Source, p.Body["fileName"], l.FileName)
		}
		if l.Kind == "audio" {
			if l.Method != "sendVoiceStatus" || p.Body["caption"] != nil {
				t.Errorf("audio posted as %s with caption %v", l.Method, p.Body["caption"])
			}
		} else if p.Body["caption"] != "Лето 🌞" {
			t.Errorf("%s: caption %v", l.Source, p.Body["caption"])
		}
		if u, _ := url.Parse(l.URL); !strings.Contains(u.Path, "/statuses/") || strings.ContainsAny(u.Path, " %~$#") {
			t.Errorf("link path %q is not a plain key under the prefix", u.Path)
		}
	}
	if u := e.green.Undelivered(); len(u) != 0 {
		t.Errorf("undelivered: %+v", u)
	}
	if n := len(e.objects()); n != 3 {
		t.Errorf("%d objects in the bucket, want 3", n)
	}

	// The same file again: same key, not uploaded again, posted again
	// (post keeps no ledger; batch does).
	stdout, code = e.run("post", "--json", files[0])
	again := parseLines(t, stdout)
	if code != exitOK || len(again) != 1 || again[0].Stored || again[0].Key != lines[0].Key {
		t.Errorf("second post of %s: exit %d, %+v (first key %s)", files[0], code, again, lines[0].Key)
	}
	if n := len(e.objects()); n != 3 {
		t.Errorf("%d objects after posting the same file again, want 3", n)
	}
}

func TestPostBrokenMediaPostsNothing(t *testing.T) {
	e := newE2E(t)
	stdout, code := e.run("post", "--json", badFile("truncated.mp4"), badFile("text.mp4"), sample("sample.jpg"))
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	lines := parseLines(t, stdout)
	want := []string{"corrupt_media", "unsupported_type", ""}
	for i, l := range lines {
		got := ""
		if l.Error != nil {
			got = l.Error.Code
		}
		if got != want[i] {
			t.Errorf("%s: code %q, want %q", l.Source, got, want[i])
		}
	}
	if n := e.green.Count("sendMediaStatus"); n != 1 {
		t.Errorf("%d sendMediaStatus requests, want 1 (only the good picture)", n)
	}
	if n := len(e.objects()); n != 1 {
		t.Errorf("%d objects in the bucket, want 1", n)
	}
}

// octetProxy serves the bucket's objects as a download link would:
// application/octet-stream.
func octetProxy(t *testing.T, target string) *httptest.Server {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("Content-Type", "application/octet-stream")
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

func TestPostRefusesDownloadLink(t *testing.T) {
	e := newE2E(t)
	// A public bucket behind something that serves every file as a download.
	proxy := octetProxy(t, e.s3.Endpoint)
	if _, err := e.s3.Client().PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{
		Bucket: aws.String(e.s3.Bucket),
		Policy: aws.String(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, e.s3.Bucket)),
	}); err != nil {
		t.Fatal(err)
	}
	e.env["MEDIAPREP_LINK_MODE"] = "public"
	e.env["MEDIAPREP_PUBLIC_BASE_URL"] = proxy.URL + "/" + e.s3.Bucket
	stdout, code := e.run("post", "--json", sample("sample.jpg"))
	lines := parseLines(t, stdout)
	if code != exitFailed || len(lines) != 1 || lines[0].Error == nil || lines[0].Error.Code != "link_rejected" {
		t.Fatalf("exit %d, %s", code, stdout)
	}
	if !strings.Contains(lines[0].Error.Message, "application/octet-stream") {
		t.Errorf("message does not say why: %s", lines[0].Error.Message)
	}
	if n := len(e.green.Requests()); n != 0 {
		t.Errorf("%d requests reached Green API, want none", n)
	}

	// The same bucket served directly is fine.
	e.env["MEDIAPREP_PUBLIC_BASE_URL"] = e.s3.Endpoint + "/" + e.s3.Bucket
	if stdout, code := e.run("post", "--json", sample("sample.jpg")); code != exitOK {
		t.Fatalf("direct public link: exit %d, %s", code, stdout)
	}
	if n := len(e.green.Posted()); n != 1 {
		t.Errorf("%d statuses posted, want 1", n)
	}
}

func TestPostRetriesAndPermanentErrors(t *testing.T) {
	e := newE2E(t)
	pic := sample("sample.jpg")

	e.green.Inject("sendMediaStatus",
		greenapitest.Fault{Status: 429, RetryAfter: "0"},
		greenapitest.Fault{Status: 500},
		greenapitest.Fault{Status: 502})
	stdout, code := e.run("post", "--json", pic)
	if code != exitOK || len(e.green.Posted()) != 1 {
		t.Fatalf("after 429, 500, 502: exit %d, %d posted\n%s", code, len(e.green.Posted()), stdout)
	}
	if n := e.green.Count("sendMediaStatus"); n != 4 {
		t.Errorf("%d requests, want 4 (three failures, then success)", n)
	}

	for _, tc := range []struct {
		status int
		code   string
		says   string
	}{
		{403, "forbidden", "beta"},
		{466, "quota_exceeded", ""},
		{401, "unauthorized", ""},
		{400, "bad_request", ""},
	} {
		before := e.green.Count("sendMediaStatus")
		e.green.Inject("sendMediaStatus", greenapitest.Fault{Status: tc.status})
		stdout, code := e.run("post", "--json", pic)
		lines := parseLines(t, stdout)
		if code != exitFailed || len(lines) != 1 || lines[0].Error == nil || lines[0].Error.Code != tc.code {
			t.Errorf("HTTP %d: exit %d, %s", tc.status, code, stdout)
			continue
		}
		if !strings.Contains(lines[0].Error.Message, tc.says) {
			t.Errorf("HTTP %d: message %q does not say %q", tc.status, lines[0].Error.Message, tc.says)
		}
		if n := e.green.Count("sendMediaStatus") - before; n != 1 {
			t.Errorf("HTTP %d: %d requests, want 1 (permanent)", tc.status, n)
		}
	}
	if n := len(e.green.Posted()); n != 1 {
		t.Errorf("%d statuses posted in all, want 1", n)
	}
}

func TestPostDryRun(t *testing.T) {
	e := newE2E(t)
	stdout, code := e.run("post", "--dry-run", "--json", "--caption", "hello", sample("sample.jpg"))
	lines := parseLines(t, stdout)
	if code != exitOK || len(lines) != 1 || !lines[0].DryRun || lines[0].IDMessage != "" {
		t.Fatalf("exit %d, %s", code, stdout)
	}
	var req struct {
		Method string         `json:"method"`
		URL    string         `json:"url"`
		Body   map[string]any `json:"body"`
	}
	if err := json.Unmarshal(lines[0].Request, &req); err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || !strings.Contains(req.URL, "/waInstance"+testInstance+"/sendMediaStatus/") ||
		req.Body["urlFile"] != lines[0].URL || req.Body["caption"] != "hello" {
		t.Errorf("request %+v", req)
	}
	if n := len(e.green.Requests()); n != 0 {
		t.Errorf("dry run sent %d requests to Green API", n)
	}
	// The link was still stored and checked: it is a direct link.
	resp, err := http.Get(lines[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // draining only: status and type are the check
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("GET link: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}

	// A batch dry run: each file's line shows its own request, even for
	// two copies of one picture (same object, same link) with different
	// captions.
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		copyFile(t, sample("sample.jpg"), filepath.Join(dir, n, "pic.jpg"))
		writeFile(t, filepath.Join(dir, n, "pic.jpg.json"), `{"caption": "caption `+n+`"}`)
	}
	out := filepath.Join(t.TempDir(), "out")
	stdout, code = e.run("batch", "--dry-run", "--json", "-j", "3", "--out", out, dir)
	if code != exitOK {
		t.Fatalf("batch --dry-run: exit %d\n%s", code, stdout)
	}
	for _, l := range parseLines(t, stdout) {
		var r struct{ Body map[string]any }
		if err := json.Unmarshal(l.Request, &r); err != nil {
			t.Fatal(err)
		}
		if want := "caption " + filepath.Base(filepath.Dir(l.Source)); r.Body["caption"] != want {
			t.Errorf("%s: request caption %v, want %q", l.Source, r.Body["caption"], want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "mediaprep-ledger.jsonl")); err == nil {
		t.Error("a dry run created a ledger")
	}

	// Human output of a dry run.
	stdout, code = e.run("post", "--dry-run", sample("sample.jpg"))
	if code != exitOK || !strings.Contains(stdout, "would POST") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

func TestPostText(t *testing.T) {
	e := newE2E(t)
	stdout, code := e.run("post", "--json", "--text", "Sale today 🎉", "--background-color", "#228B22", "--font", "SERIF")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	posted := e.green.Posted()
	if len(posted) != 1 || posted[0].Method != "sendTextStatus" || posted[0].Body["message"] != "Sale today 🎉" || posted[0].Body["font"] != "SERIF" {
		t.Fatalf("posted %+v", posted)
	}
	if !strings.Contains(stdout, posted[0].IDMessage) || !strings.Contains(stdout, `"delivery":"sent"`) {
		t.Errorf("stdout does not show idMessage %s and its delivery: %s", posted[0].IDMessage, stdout)
	}
	for _, args := range [][]string{
		{"--text", "white on white", "--background-color", "#ffffff"},
		{"--text", "default background is white"},
		{"--text", strings.Repeat("я", 501), "--background-color", "#000000"},
		{"--text", "x", "--background-color", "#000000", "--font", "COMIC_SANS"},
		{"--text", "x", "--background-color", "#000000", sample("sample.jpg")},
	} {
		if _, code := e.run(append([]string{"post"}, args...)...); code != exitUsage {
			t.Errorf("post %.60q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if n := len(e.green.Requests()) - e.green.Count("getOutgoingStatuses"); n != 1 {
		t.Errorf("%d requests besides the delivery lookups, want 1: refused statuses must not reach Green API", n)
	}
}

func TestPostBadSettingsReportedTogether(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := map[string]string{
		"MEDIAPREP_GREENAPI_TOKEN": testToken,
		"MEDIAPREP_LINK_TTL":       "10h",
		"MEDIAPREP_S3_PATH_STYLE":  "maybe",
	}
	code := run(t.Context(), []string{"post", sample("sample.jpg")}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	for _, name := range []string{"MEDIAPREP_S3_BUCKET", "MEDIAPREP_LINK_TTL", "MEDIAPREP_S3_PATH_STYLE", "MEDIAPREP_GREENAPI_INSTANCE"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("stderr does not name %s:\n%s", name, stderr.String())
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), testToken) {
		t.Error("the token was printed")
	}
}

func TestBatchResume(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "Beach Day.jpg"))
	copyFile(t, sample("sample.mp4"), filepath.Join(dir, "clips", "clip.mp4"))
	copyFile(t, sample("sample.wav"), filepath.Join(dir, "voice.wav"))
	writeFile(t, filepath.Join(dir, "Beach Day.jpg.json"), `{"caption": "from the sidecar", "participants": ["79001234567@c.us"]}`)
	writeFile(t, filepath.Join(dir, "manifest.csv"), "file,caption,backgroundColor\nclips/clip.mp4,from the manifest,\nvoice.wav,,#228B22\n")
	writeFile(t, filepath.Join(dir, ".DS_Store"), "junk")
	out := filepath.Join(t.TempDir(), "out")

	stdout, code := e.run("batch", "--json", "-j", "2", "--out", out, dir)
	if code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, stdout)
	}
	lines := parseLines(t, stdout)
	if len(lines) != 3 || len(e.green.Posted()) != 3 {
		t.Fatalf("first run: %d lines, %d posted, want 3:\n%s", len(lines), len(e.green.Posted()), stdout)
	}
	got := map[string]map[string]any{}
	for _, p := range e.green.Posted() {
		got[p.Method+" "+fmt.Sprint(p.Body["fileName"])] = p.Body
	}
	if b := got["sendMediaStatus beach-day.jpg"]; b == nil || b["caption"] != "from the sidecar" || fmt.Sprint(b["participants"]) != "[79001234567@c.us]" {
		t.Errorf("picture body %v (all: %v)", b, got)
	}
	if b := got["sendMediaStatus clip.mp4"]; b == nil || b["caption"] != "from the manifest" {
		t.Errorf("video body %v", b)
	}
	if b := got["sendVoiceStatus voice.mp3"]; b == nil || b["backgroundColor"] != "#228B22" {
		t.Errorf("voice body %v", b)
	}

	// A rerun posts nothing twice.
	stdout, code = e.run("batch", "--json", "--out", out, dir)
	lines = parseLines(t, stdout)
	if code != exitOK || len(lines) != 3 {
		t.Fatalf("rerun: exit %d\n%s", code, stdout)
	}
	for _, l := range lines {
		if !l.Skipped || l.IDMessage == "" {
			t.Errorf("rerun: %s not skipped: %+v", l.Source, l)
		}
	}
	// (getOutgoingStatuses lists, following the first run's posts, aside)
	if n := len(e.green.Requests()) - e.green.Count("getOutgoingStatuses"); n != 3 {
		t.Errorf("%d Green API requests after the rerun, want 3", n)
	}
	// A dry run reads the ledger too (and never writes it).
	stdout, code = e.run("batch", "--json", "--dry-run", "--force", "--out", out, dir)
	if lines := parseLines(t, stdout); code != exitOK || len(lines) != 3 || !lines[0].DryRun {
		t.Fatalf("forced dry run: exit %d\n%s", code, stdout)
	}
	stdout, code = e.run("batch", "--json", "--dry-run", "--out", out, dir)
	lines = parseLines(t, stdout)
	if code != exitOK || len(lines) != 3 {
		t.Fatalf("dry run: exit %d, %d lines, want 0 and 3\n%s", code, len(lines), stdout)
	}
	for _, l := range lines {
		if !l.Skipped {
			t.Errorf("dry run: %s would be posted again: %+v", l.Source, l)
		}
	}

	// A changed caption is a new status: only that file is posted again,
	// and its picture is not uploaded again.
	writeFile(t, filepath.Join(dir, "Beach Day.jpg.json"), `{"caption": "changed"}`)
	stdout, code = e.run("batch", "--json", "--out", out, dir)
	lines = parseLines(t, stdout)
	if code != exitOK || len(lines) != 3 || len(e.green.Posted()) != 4 {
		t.Fatalf("rerun with a changed caption: exit %d, %d posted, want 4\n%s", code, len(e.green.Posted()), stdout)
	}
	if last := e.green.Posted()[3]; last.Body["caption"] != "changed" {
		t.Errorf("re-posted %v, want the changed caption", last.Body)
	}
	for _, l := range lines {
		if strings.HasSuffix(l.Source, "Beach Day.jpg") == l.Skipped {
			t.Errorf("%s: skipped=%v", l.Source, l.Skipped)
		}
	}

	// --force posts everything again, without uploading again.
	stdout, code = e.run("batch", "--json", "--force", "--out", out, dir)
	lines = parseLines(t, stdout)
	if code != exitOK || len(lines) != 3 || len(e.green.Posted()) != 7 {
		t.Fatalf("forced rerun: exit %d, %d posted, want 7\n%s", code, len(e.green.Posted()), stdout)
	}
	for _, l := range lines {
		if l.Stored {
			t.Errorf("forced rerun uploaded %s again", l.Source)
		}
	}
	if n := len(e.objects()); n != 3 {
		t.Errorf("%d objects, want 3", n)
	}

	// A sidecar that does not parse fails its file only.
	writeFile(t, filepath.Join(dir, "voice.wav.json"), `{"colour": "#000000"}`)
	stdout, code = e.run("batch", "--out", out, dir)
	if code != exitFailed || !strings.Contains(stdout, "bad_metadata") || !strings.Contains(stdout, "2 skipped (posted before), 1 failed") {
		t.Errorf("bad sidecar: exit %d\n%s", code, stdout)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBatchOutcomeUnknownIsNotPostedAgain(t *testing.T) {
	e := newE2E(t)
	e.env["MEDIAPREP_GREENAPI_TIMEOUT"] = "500ms"
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	out := filepath.Join(t.TempDir(), "out")

	// Green API takes the status and the answer is lost (and the status
	// is not looked up: see TestBatchOutcomeUnknownResolved).
	e.green.Inject("sendMediaStatus", greenapitest.Fault{Hang: true, Accept: true})
	stdout, code := e.run("batch", "--json", "--delivery-window", "0", "--out", out, dir)
	lines := parseLines(t, stdout)
	if code != exitFailed || len(lines) != 1 || lines[0].Error == nil || lines[0].Error.Code != "outcome_unknown" {
		t.Fatalf("lost answer: exit %d\n%s", code, stdout)
	}
	if !strings.Contains(lines[0].Error.Message, "getOutgoingStatuses") {
		t.Errorf("message does not say what to check: %s", lines[0].Error.Message)
	}
	if n := e.green.Count("sendMediaStatus"); n != 1 {
		t.Fatalf("%d send requests, want exactly 1 (a lost answer is not retried)", n)
	}

	// A rerun does not send it again on its own...
	stdout, code = e.run("batch", "--json", "--out", out, dir)
	lines = parseLines(t, stdout)
	if code != exitFailed || len(lines) != 1 || lines[0].Error == nil || lines[0].Error.Code != "outcome_unknown" || !strings.Contains(lines[0].Error.Message, "--force") {
		t.Fatalf("rerun: exit %d\n%s", code, stdout)
	}
	if n := e.green.Count("sendMediaStatus"); n != 1 {
		t.Fatalf("rerun sent again: %d requests", n)
	}
	// ...only when told to.
	if stdout, code := e.run("batch", "--json", "--force", "--out", out, dir); code != exitOK {
		t.Fatalf("--force: exit %d\n%s", code, stdout)
	}
	if n := len(e.green.Posted()); n != 2 {
		t.Errorf("%d statuses accepted, want 2 (the lost one and the forced one)", n)
	}
}

func TestPostStorageDown(t *testing.T) {
	e := newE2E(t)
	e.s3.Stop()
	stdout, code := e.run("post", "--json", sample("sample.jpg"))
	lines := parseLines(t, stdout)
	if code != exitFailed || len(lines) != 1 || lines[0].Error == nil || lines[0].Error.Code != "storage_failed" {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if n := len(e.green.Requests()); n != 0 {
		t.Errorf("%d requests reached Green API with the storage down", n)
	}
	e.s3.Restart()
	if stdout, code := e.run("post", "--json", sample("sample.jpg")); code != exitOK {
		t.Fatalf("after restart: exit %d\n%s", code, stdout)
	}
}

func TestBatchBarsOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script") // util-linux: runs a command on a pseudo-terminal
	if err != nil {
		t.Skip("script(1) not installed")
	}
	e := newE2E(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	copyFile(t, sample("sample.wav"), filepath.Join(dir, "b.wav"))
	env := os.Environ()
	for k, v := range e.env {
		env = append(env, k+"="+v)
	}
	cmd := exec.Command(script, "-qec", fmt.Sprintf("stty cols 100 rows 30; %s batch -j 2 --out %s %s", bin, filepath.Join(t.TempDir(), "out"), dir), "/dev/null")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	e.out.Write(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"\x1b[", "all files", "2/2", "2 posted, 0 skipped"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(s, "level=INFO") {
		t.Errorf("info log lines tear the bars:\n%s", s)
	}
	if n := len(e.green.Posted()); n != 2 {
		t.Errorf("%d posted, want 2", n)
	}

	// Nothing left to run (the only file's sidecar is broken): no bars that
	// could wait forever, exit 1.
	bad := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(bad, "c.jpg"))
	writeFile(t, filepath.Join(bad, "c.jpg.json"), `{"caption": `)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd = exec.CommandContext(ctx, script, "-qec", fmt.Sprintf("stty cols 100 rows 30; %s batch --out %s %s", bin, filepath.Join(t.TempDir(), "out"), bad), "/dev/null")
	cmd.Env = env
	out, _ = cmd.CombinedOutput()
	e.out.Write(out)
	if code := cmd.ProcessState.ExitCode(); code != exitFailed || !strings.Contains(string(out), "bad_metadata") {
		t.Errorf("only a broken sidecar: exit %d\n%s", code, out)
	}
}

func TestBatchSameContentTwiceIsPostedOnce(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "b.jpg"))
	// The folder and a file in it: a.jpg is named twice.
	stdout, code := e.run("batch", "--json", "-j", "2", "--out", filepath.Join(t.TempDir(), "out"), dir, filepath.Join(dir, "a.jpg"))
	lines := parseLines(t, stdout)
	if code != exitOK || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines, want 2 (a.jpg once)\n%s", code, len(lines), stdout)
	}
	if n := len(e.green.Posted()); n != 1 {
		t.Errorf("%d statuses posted for two copies of one picture with one caption, want 1", n)
	}
	if lines[0].Skipped == lines[1].Skipped {
		t.Errorf("want one posted and one skipped: %+v", lines)
	}
}

func TestBatchManifests(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	copyFile(t, sample("png16.png"), filepath.Join(dir, "sub", "b.png"))
	manifest := filepath.Join(t.TempDir(), "captions.json")
	writeFile(t, manifest, `[{"file": "`+filepath.Join(dir, "a.jpg")+`", "caption": "A"}, {"file": "`+filepath.Join(dir, "sub", "b.png")+`", "caption": "B", "participants": ["79001234567@c.us"]}]`)
	out := filepath.Join(t.TempDir(), "out")
	if stdout, code := e.run("batch", "--json", "--manifest", manifest, "--out", out, dir); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	captions := map[string]bool{}
	for _, p := range e.green.Posted() {
		captions[fmt.Sprintf("%v %v", p.Body["caption"], p.Body["participants"])] = true
	}
	if !captions["A <nil>"] || !captions["B [79001234567@c.us]"] {
		t.Errorf("posted %v", captions)
	}

	// A manifest in a subfolder names files relative to itself.
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "sub", "deep", "c.jpg"))
	writeFile(t, filepath.Join(dir, "sub", "deep", "manifest.json"), `[{"file": "c.jpg", "caption": "C"}]`)
	if stdout, code := e.run("batch", "--json", "--manifest", manifest, "--out", out, dir); code != exitOK {
		t.Fatalf("nested manifest: exit %d\n%s", code, stdout)
	}
	if last := e.green.Posted()[len(e.green.Posted())-1]; last.Body["caption"] != "C" || len(e.green.Posted()) != 3 {
		t.Errorf("nested manifest: posted %d, last %v", len(e.green.Posted()), last.Body)
	}

	// A manifest entry that names no file is refused before anything is
	// posted: its file would go out without its caption.
	writeFile(t, filepath.Join(dir, "manifest.csv"), "file,caption\na.jpg,A\nsub/c.png,C\n")
	stdout, code := e.run("batch", "--force", "--out", out, dir)
	if code != exitUsage || !strings.Contains(e.out.String(), "sub/c.png") {
		t.Errorf("unknown manifest entry: exit %d\n%s", code, stdout)
	}
	if n := len(e.green.Posted()); n != 3 {
		t.Errorf("%d posted, want still 3", n)
	}
}

func TestBatchInterruptOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed")
	}
	e := newE2E(t)
	// Every send hangs until the run is interrupted.
	e.green.Inject("sendMediaStatus", greenapitest.Fault{Hang: true}, greenapitest.Fault{Hang: true})
	bin := buildBinary(t)
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c", "d"} {
		copyFile(t, sample("sample.jpg"), filepath.Join(dir, n+".jpg"))
		writeFile(t, filepath.Join(dir, n+".jpg.json"), `{"caption": "`+n+`"}`)
	}
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(script, "-qec", fmt.Sprintf("stty cols 100 rows 30; exec %s batch -j 2 --out %s %s", bin, out, dir), "/dev/null")
	cmd.Env = os.Environ()
	for k, v := range e.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until both sends hang, then press Ctrl-C.
	deadline := time.Now().Add(60 * time.Second)
	for e.green.Count("sendMediaStatus") < 2 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill() // killing a process that may have just exited: Fatalf follows
			t.Fatalf("the sends never started:\n%s", buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pids := childPIDs(cmd.Process.Pid, "mediaprep")
	if len(pids) != 1 {
		_ = cmd.Process.Kill() // killing a process that may have just exited: Fatalf follows
		t.Fatalf("mediaprep processes under script: %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	e.out.Write(buf.Bytes())
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || strings.Contains(buf.String(), "panic") {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitInterrupted, buf.String())
	}
	for _, n := range []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"} {
		if !strings.Contains(buf.String(), n) {
			t.Errorf("no line for %s after the interrupt:\n%s", n, buf.String())
		}
	}
	// The two sends in flight may have been posted: a rerun must not send
	// them again, and sends the other two.
	stdout, code := e.run("batch", "--json", "--out", out, dir)
	lines := parseLines(t, stdout)
	var unknown, posted int
	for _, l := range lines {
		switch {
		case l.Error != nil && l.Error.Code == "outcome_unknown":
			unknown++
		case l.Error == nil && !l.Skipped:
			posted++
		}
	}
	if code != exitFailed || unknown != 2 || posted != 2 {
		t.Errorf("rerun: exit %d, %d outcome_unknown, %d posted; want 2 and 2\n%s", code, unknown, posted, stdout)
	}
	if n := e.green.Count("sendMediaStatus"); n != 4 {
		t.Errorf("%d send requests in all, want 4", n)
	}
}

func TestStatusesListStatsDelete(t *testing.T) {
	e := newE2E(t)
	if stdout, code := e.run("post", "--participants", "79001234567@c.us,79007654321@c.us", sample("sample.jpg")); code != exitOK {
		t.Fatalf("post: exit %d\n%s", code, stdout)
	}
	id := e.green.Posted()[0].IDMessage

	stdout, code := e.run("statuses", "--json", "--minutes", "60")
	var list []struct {
		IDMessage string `json:"idMessage"`
	}
	if err := json.Unmarshal([]byte(stdout), &list); code != exitOK || err != nil || len(list) != 1 || list[0].IDMessage != id {
		t.Fatalf("statuses: exit %d, %v: %s", code, err, stdout)
	}
	if stdout, _ := e.run("statuses"); !strings.Contains(stdout, id+"  imageMessage        sent      sample.jpg") {
		t.Errorf("statuses: want %s as a sent picture:\n%s", id, stdout)
	}
	if stdout, code := e.run("statuses", "--stats", id); code != exitOK || !strings.Contains(stdout, "79007654321@c.us") || !strings.Contains(stdout, "2 participants") {
		t.Errorf("--stats: exit %d\n%s", code, stdout)
	}
	if stdout, code := e.run("statuses", "--delete", id); code != exitOK || !strings.Contains(stdout, "deleted "+id) {
		t.Errorf("--delete: exit %d\n%s", code, stdout)
	}
	if stdout, _ := e.run("statuses", "--json"); strings.TrimSpace(stdout) != "[]" {
		t.Errorf("after delete: %s", stdout)
	}
	e.green.Inject("", greenapitest.Fault{Status: 401})
	if stdout, code := e.run("statuses"); code != exitFailed || !strings.Contains(stdout, "unauthorized") {
		t.Errorf("401: exit %d\n%s", code, stdout)
	}
}
