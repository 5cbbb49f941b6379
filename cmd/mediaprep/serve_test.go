package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

// These tests run mediaprep serve and worker as real processes against a
// real S3 server (versitygw), real NATS JetStream and the strict Green API
// stand-in.

// proc is a running mediaprep process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
	err  error
}

// cluster is what the processes of one test share.
type cluster struct {
	t     *testing.T
	bin   string
	s3    *s3test.Server // nil: local storage in the data dir
	green *greenapitest.Server
	nats  *queue.Embedded // nil: serve embeds its own
	env   []string
	data  string
	procs []*proc
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// serviceBinary builds mediaprep once for all the tests of this file.
func serviceBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mediaprep-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mediaprep")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type clusterOpts struct {
	s3        bool // a real S3 server; else local storage
	green     bool // the Green API stand-in; else dry run
	natsShare bool // a NATS server of the test's own that serve and workers join
}

// testNATSToken guards the test's own NATS server (natsShare).
const testNATSToken = "nats-test-token"

func newCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	testutil.NeedFFmpeg(t)
	c := &cluster{t: t, bin: serviceBinary(t), data: t.TempDir()}
	c.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"MEDIAPREP_DATA_DIR=" + c.data,
		"MEDIAPREP_INBOX_POLL=500ms", "MEDIAPREP_INBOX_SETTLE=1s",
		"MEDIAPREP_QUEUE_ACK_WAIT=3s", "MEDIAPREP_SHUTDOWN_GRACE=20s",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if o.s3 {
		c.s3 = s3test.Start(t)
		c.env = append(c.env, c.s3.Env()...)
	}
	if o.green {
		c.green = greenapitest.NewServer(t, testInstance, testToken)
		c.env = append(c.env, "MEDIAPREP_GREENAPI_URL="+c.green.URL(),
			"MEDIAPREP_GREENAPI_INSTANCE="+testInstance, "MEDIAPREP_GREENAPI_TOKEN="+testToken)
	}
	if o.natsShare {
		emb, err := queue.StartEmbedded(filepath.Join(t.TempDir(), "nats"), "127.0.0.1:0", nil, queue.WithToken(testNATSToken))
		if err != nil {
			t.Fatal(err)
		}
		c.nats = emb
		c.env = append(c.env, "MEDIAPREP_NATS_URL="+emb.ClientURL(), "MEDIAPREP_NATS_TOKEN="+testNATSToken)
	}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.stop(t)
		}
		if c.nats != nil {
			c.nats.Shutdown()
		}
		for _, p := range c.procs {
			out := p.out.String()
			if strings.Contains(out, testToken) {
				t.Errorf("%s printed the token", p.name)
			}
			if strings.Contains(out, "panic:") || strings.Contains(out, "DATA RACE") {
				t.Errorf("%s:\n%s", p.name, out)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("%s output:\n%s", p.name, lastLines(out, 40))
			}
		}
		if c.green != nil {
			for _, msg := range c.green.Errors() {
				t.Errorf("Green API stand-in refused a request: %s", msg)
			}
		}
	})
	return c
}

// start runs mediaprep args as a process of the cluster.
func (c *cluster) start(name string, extraEnv []string, args ...string) *proc {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"--log-json", "-v"}, args...)...)
	cmd.Env = append(slices.Clone(c.env), extraEnv...)
	p := &proc{name: name, cmd: cmd, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	return p
}

// serve starts mediaprep serve on a free loopback port and returns its
// base URL once it answers /healthz.
func (c *cluster) serve(name string, extraEnv []string, args ...string) (*proc, string) {
	c.t.Helper()
	p := c.start(name, extraEnv, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	var addr string
	testutil.WaitFor(c.t, 60*time.Second, name+" to listen", func() bool {
		addr = logField(p.out.String(), "serving", "addr")
		select {
		case <-p.done:
			c.t.Fatalf("%s exited: %v\n%s", name, p.err, p.out.String())
		default:
		}
		return addr != ""
	})
	base := "http://" + addr
	testutil.WaitFor(c.t, 10*time.Second, name+" /healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p, base
}

// stop sends SIGTERM and waits; SIGKILL after 30 s.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30 s of SIGTERM", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logField returns field of the first JSON log line whose msg is msg.
func logField(out, msg, field string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["msg"] != msg {
			continue
		}
		if v, ok := m[field].(string); ok {
			return v
		}
	}
	return ""
}

// logLines decodes the JSON log lines of out.
func logLines(out string) []map[string]any {
	var ls []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			ls = append(ls, m)
		}
	}
	return ls
}

// upload posts file (with fields) to base/v1/statuses as multipart,
// streamed, and returns the status code and decoded JSON body.
func upload(t *testing.T, base, key, file string, fields map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		var err error
		defer func() { pw.CloseWithError(err) }()
		for k, v := range fields {
			if err = mw.WriteField(k, v); err != nil {
				return
			}
		}
		if file != "" {
			var fw io.Writer
			if fw, err = mw.CreateFormFile("file", filepath.Base(file)); err != nil {
				return
			}
			var f *os.File
			if f, err = os.Open(file); err != nil {
				return
			}
			defer f.Close()
			if _, err = io.Copy(fw, f); err != nil {
				return
			}
		}
		err = mw.Close()
	}()
	code, b, hdr := request(t, "POST", base+"/v1/statuses", key, mw.FormDataContentType(), pr)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return code, body, hdr
}

// request makes one HTTP request, with the bearer key when given, and
// returns the status, body and header of the answer.
func request(t *testing.T, method, url, key, contentType string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	code, hdr, b := testutil.Request(context.Background(), t, http.DefaultClient, method, url, contentType, key, body)
	return code, b, hdr
}

// job fetches a job's state.
func job(t *testing.T, base, key, id string) map[string]any {
	t.Helper()
	code, b, _ := request(t, "GET", base+"/v1/statuses/"+id, key, "", nil)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET /v1/statuses/%s: %d, %v", id, code, err)
	}
	return body
}

// waitFinal waits until the job is posted or failed and returns it.
func waitFinal(t *testing.T, base, key, id string, limit time.Duration) map[string]any {
	t.Helper()
	var j map[string]any
	testutil.WaitFor(t, limit, "job "+id+" to finish", func() bool {
		j = job(t, base, key, id)
		return j["state"] == "posted" || j["state"] == "failed"
	})
	return j
}

// putObject stores a local file in the cluster's inbox: the bucket's, or
// the data dir's folder (written under a hidden name, then renamed, as a
// careful copy does).
func (c *cluster) drop(key, file string, meta map[string]string) {
	c.t.Helper()
	if c.s3 == nil {
		dst := filepath.Join(c.data, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			c.t.Fatal(err)
		}
		tmp := filepath.Join(filepath.Dir(dst), ".part-"+filepath.Base(dst))
		copyFile(c.t, file, tmp)
		if err := os.Rename(tmp, dst); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	f, err := os.Open(file)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	if _, err := c.s3.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(c.s3.Bucket), Key: aws.String(key), Body: f, Metadata: meta,
	}); err != nil {
		c.t.Fatal(err)
	}
}

// wantPostedOnce fails the test unless no file failed and n statuses
// were posted, each of its own link.
func (c *cluster) wantPostedOnce(n int) {
	c.t.Helper()
	if f := c.keys("failed/"); len(f) != 0 {
		c.t.Errorf("failed: %v", f)
	}
	posted := c.green.Posted()
	seen := map[string]int{}
	for _, s := range posted {
		seen[s.URLFile]++
	}
	if len(posted) != n || len(seen) != n {
		c.t.Errorf("%d posts of %d distinct links, want %d and %d", len(posted), len(seen), n, n)
	}
}

// keys lists the objects under prefix: the bucket's, or the data dir's.
func (c *cluster) keys(prefix string) []string {
	c.t.Helper()
	var keys []string
	if c.s3 == nil {
		root := filepath.Join(c.data, filepath.FromSlash(prefix))
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				rel, _ := filepath.Rel(c.data, p)
				keys = append(keys, filepath.ToSlash(rel))
			}
			return nil
		})
		return keys
	}
	p := s3.NewListObjectsV2Paginator(c.s3.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(c.s3.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			c.t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// TestServeLocalDefaults: no configuration at all. An upload and an inbox
// drop go through the embedded queue and storage; Green API is a dry run;
// links are served under /media/ with their type; a broken file lands in
// failed/ with its reason.
func TestServeLocalDefaults(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	p, base := c.serve("serve", nil)

	code, body, hdr := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "from the API"})
	if code != http.StatusAccepted || body["state"] != "queued" || hdr.Get("Location") != "/v1/statuses/"+fmt.Sprint(body["id"]) {
		t.Fatalf("upload: %d %v Location=%q", code, body, hdr.Get("Location"))
	}
	j := waitFinal(t, base, "", body["id"].(string), 60*time.Second)
	if j["state"] != "posted" || j["dryRun"] != true || j["method"] != "sendMediaStatus" {
		t.Fatalf("upload job: %v", j)
	}
	resp, err := http.Get(j["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("link %s: %d %q %q", j["url"], resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	if !strings.Contains(p.out.String(), "dry run: would send") {
		t.Error("the dry run logged no request")
	}
	// Lines about the upload name its key, not the temp file it is
	// worked on in.
	id, wantSource := body["id"].(string), "uploads/"+body["id"].(string)+"/sample.jpg"
	for _, l := range logLines(p.out.String()) {
		if l["job"] == id && (l["msg"] == "posted" || l["msg"] == "stored") && l["source"] != wantSource {
			t.Errorf("%s line: source %v, want %s", l["msg"], l["source"], wantSource)
		}
	}
	if logField(p.out.String(), "stored", "source") == "" {
		t.Error("no stored line with a source")
	}
	if !strings.Contains(p.out.String(), "source taken from this process's upload") {
		t.Error("the worker downloaded an upload its own process had at hand")
	}

	c.drop("inbox/clip.mp4", sample("sample.mp4"), nil)
	c.drop("inbox/sub/broken.jpg", badFile("truncated.jpg"), nil)
	testutil.WaitFor(t, 90*time.Second, "the drops to be processed", func() bool {
		return len(c.keys("processed/")) == 1 && len(c.keys("failed/")) == 2
	})
	if got := c.keys("inbox/"); len(got) != 0 {
		t.Errorf("inbox still holds %v", got)
	}
	if got := c.keys("processed/"); !slices.Equal(got, []string{"processed/clip.mp4"}) {
		t.Errorf("processed/ = %v, want clip.mp4", got)
	}
	if got := c.keys("uploads/"); len(got) != 0 {
		t.Errorf("a posted upload was kept: %v", got)
	}
	b, err := os.ReadFile(filepath.Join(c.data, "failed", "sub", "broken.jpg.error.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ef struct{ Code, Message string }
	if err := json.Unmarshal(b, &ef); err != nil || ef.Code != "corrupt_media" || !strings.HasPrefix(ef.Message, "inbox/sub/broken.jpg: transcode:") {
		t.Errorf("error file: %s (%v)", b, err)
	}

	// A failure is logged once as an error, with its attempt.
	broken := ""
	for _, l := range logLines(p.out.String()) {
		if l["msg"] == "picked up" && l["key"] == "inbox/sub/broken.jpg" {
			broken, _ = l["job"].(string)
		}
	}
	var errLines []map[string]any
	for _, l := range logLines(p.out.String()) {
		if l["level"] == "ERROR" && l["job"] == broken {
			errLines = append(errLines, l)
		}
	}
	if broken == "" || len(errLines) != 1 || errLines[0]["code"] != "corrupt_media" || errLines[0]["attempt"] != 1.0 {
		t.Errorf("error lines of the failed job %q: %v, want one with its code and attempt 1", broken, errLines)
	}

	// Lines about a job name it, also those of ffmpeg runs and the dry run.
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	execs := 0
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m["msg"] == "exec" {
			execs++
		}
		if (m["msg"] == "exec" || m["msg"] == "dry run: would send" || m["msg"] == "done") && m["job"] == nil {
			t.Errorf("log line without its job: %s", sc.Text())
		}
	}
	if execs == 0 {
		t.Error("no ffmpeg/ffprobe line logged with -v")
	}
}

// slowVideo is a clip that must be transcoded (MPEG-4 Part 2 in AVI) and
// takes a few seconds to: long enough to kill or stop its worker midway.
func slowVideo(t *testing.T) string {
	return generate(t, filepath.Join(genDir, "slow-720p-20s.avi"),
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "20", "-c:v", "mpeg4", "-q:v", "4")
}

// waitStateWithFFmpeg waits until job id is preparing and p runs ffmpeg.
func waitPreparing(t *testing.T, base, key, id string, p *proc) {
	t.Helper()
	testutil.WaitFor(t, 60*time.Second, "the transcode to start", func() bool {
		return job(t, base, key, id)["state"] == "preparing" && len(childPIDs(p.cmd.Process.Pid, "ffmpeg")) > 0
	})
}

const apiKey = "key-for-tests-0123456789"

// TestServeS3UploadDropAndAuth: an upload and inbox drops (a late
// sidecar, x-amz-meta-* options, broken media) against a real bucket and
// the Green API stand-in; API keys; oversized uploads.
func TestServeS3UploadDropAndAuth(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true})
	sp, base := c.serve("serve", []string{"MEDIAPREP_API_KEYS=other-key," + apiKey, "MEDIAPREP_MAX_UPLOAD=1MB"})

	for _, key := range []string{"", "wrong"} {
		if code, body, hdr := upload(t, base, key, sample("sample.jpg"), nil); code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("key %q: %d %v", key, code, body)
		}
	}
	big := filepath.Join(t.TempDir(), "big.mp4")
	copyFile(t, slowVideo(t), big) // several MB, over the 1 MB limit
	if code, body, _ := upload(t, base, apiKey, big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized upload: %d %v", code, body)
	}
	if code, body, _ := upload(t, base, apiKey, badFile("doc.pdf"), nil); code != http.StatusUnsupportedMediaType {
		t.Errorf("PDF upload: %d %v", code, body)
	}
	if got := c.keys("uploads/"); len(got) != 0 {
		t.Errorf("refused uploads were stored: %v", got)
	}

	// A broken upload: past the header check, refused by the worker.
	code, body, _ := upload(t, base, apiKey, badFile("truncated.jpg"), nil)
	if code != http.StatusAccepted {
		t.Fatalf("broken upload: %d %v", code, body)
	}
	if j := waitFinal(t, base, apiKey, body["id"].(string), 60*time.Second); j["state"] != "failed" || j["errorCode"] != "corrupt_media" {
		t.Errorf("broken upload: %v", j)
	}
	brokenID := body["id"].(string)

	code, body, _ = upload(t, base, apiKey, sample("sample.jpg"), map[string]string{"caption": "Über den Wolken"})
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, body)
	}
	j := waitFinal(t, base, apiKey, body["id"].(string), 60*time.Second)
	if j["state"] != "posted" || j["idMessage"] == "" || j["idMessage"] == nil {
		t.Fatalf("upload job: %v", j)
	}
	// Times of a job are whole seconds (RFC 3339 without a fraction).
	for _, f := range []string{"linkExpires", "postedAt"} {
		if v, _ := j[f].(string); v == "" || strings.Contains(v, ".") {
			t.Errorf("job %s = %v, want RFC 3339 in whole seconds", f, j[f])
		}
	}
	// The posted line names the upload's key, not the temp file.
	wantSource, posted := "uploads/"+body["id"].(string)+"/sample.jpg", 0
	for _, l := range logLines(sp.out.String()) {
		if l["msg"] == "posted" && l["job"] == body["id"] {
			posted++
			if l["source"] != wantSource {
				t.Errorf("posted line: source %v, want %s", l["source"], wantSource)
			}
		}
	}
	if posted != 1 {
		t.Errorf("%d posted lines for the upload, want 1", posted)
	}

	// A file whose sidecar comes after it, one with x-amz-meta-* options,
	// a broken one.
	c.drop("inbox/late.jpg", sample("sample.jpg"), nil)
	sidecar := filepath.Join(t.TempDir(), "late.jpg.json")
	writeFile(t, sidecar, `{"caption": "from the sidecar"}`)
	c.drop("inbox/late.jpg.json", sidecar, nil)
	c.drop("inbox/meta.webp", sample("sample.webp"), map[string]string{"caption": "from the headers"})
	c.drop("inbox/broken.mp4", badFile("truncated.mp4"), nil)
	testutil.WaitFor(t, 90*time.Second, "the drops to be processed", func() bool {
		return len(c.keys("processed/")) == 3 && len(c.keys("failed/")) == 4
	})
	for _, k := range []string{"failed/" + brokenID + "/truncated.jpg", "failed/" + brokenID + "/truncated.jpg.error.json"} {
		if !slices.Contains(c.keys("failed/"), k) {
			t.Errorf("failed/ lacks %s: %v", k, c.keys("failed/"))
		}
	}
	if got := c.keys("uploads/"); len(got) != 0 {
		t.Errorf("a posted upload was kept: %v", got)
	}
	wantProcessed := []string{"processed/late.jpg", "processed/late.jpg.json", "processed/meta.webp"}
	slices.Sort(wantProcessed)
	if got := c.keys("processed/"); !slices.Equal(got, wantProcessed) {
		t.Errorf("processed/ = %v, want %v", got, wantProcessed)
	}
	if got := c.keys("inbox/"); len(got) != 0 {
		t.Errorf("inbox still holds %v", got)
	}
	captions := map[string]int{}
	for _, s := range c.green.Posted() {
		captions[fmt.Sprint(s.Body["caption"])]++
	}
	want := map[string]int{"Über den Wolken": 1, "from the sidecar": 1, "from the headers": 1}
	if fmt.Sprint(captions) != fmt.Sprint(want) {
		t.Errorf("posted captions %v, want %v", captions, want)
	}
	// A text status, as JSON.
	code, b, _ := request(t, "POST", base+"/v1/statuses", apiKey, "application/json",
		strings.NewReader(`{"text":"We are open","backgroundColor":"#228B22","font":"SERIF"}`))
	var text map[string]any
	if err := json.Unmarshal(b, &text); err != nil || code != http.StatusAccepted {
		t.Fatalf("text status: %d %s", code, b)
	}
	if j := waitFinal(t, base, apiKey, text["id"].(string), 30*time.Second); j["state"] != "posted" || j["method"] != "sendTextStatus" || c.green.Count("sendTextStatus") != 1 {
		t.Errorf("text job: %v", j)
	}

	// Metrics: behind the key, Green API answers by method and code, no token.
	if code, _, _ := request(t, "GET", base+"/metrics", "", "", nil); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a key: %d", code)
	}
	code, b, _ = request(t, "GET", base+"/metrics", apiKey, "", nil)
	m := string(b)
	for _, want := range []string{`mediaprep_greenapi_responses_total{code="200",method="sendMediaStatus"} 3`, `mediaprep_jobs_total{state="posted"}`, `mediaprep_queue_depth 0`} {
		if code != 200 || !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, testToken) {
		t.Error("the token is in /metrics")
	}

	out, err := c.s3.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(c.s3.Bucket), Key: aws.String("failed/broken.mp4.error.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	var ef struct{ Code, Message string }
	if err := json.NewDecoder(out.Body).Decode(&ef); err != nil || ef.Code != "corrupt_media" || ef.Message == "" {
		t.Errorf("error file: %+v (%v)", ef, err)
	}
}

// TestServeThreeWorkers: 30 files dropped at once, shared by three worker
// processes on one NATS: exactly 30 posts, none twice.
func TestServeThreeWorkers(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true, natsShare: true})
	_, base := c.serve("serve", nil, "--workers", "0")
	for i := range 3 {
		c.start(fmt.Sprintf("worker%d", i+1), nil, "worker", "-j", "2")
	}
	samples := []string{"sample.jpg", "alpha.png", "sample.webp", "cmyk.jpg", "gray.jpg", "sample-id3.mp3"}
	for i := range 30 {
		name := samples[i%len(samples)]
		c.drop(fmt.Sprintf("inbox/%02d-%s", i, name), sample(name), nil)
	}
	testutil.WaitFor(t, 3*time.Minute, "30 files to be processed", func() bool {
		return len(c.keys("processed/"))+len(c.keys("failed/")) >= 30
	})
	c.wantPostedOnce(30)
	workersUsed := 0
	for _, p := range c.procs[1:] {
		if strings.Contains(p.out.String(), `"msg":"done"`) {
			workersUsed++
		}
	}
	if workersUsed < 2 {
		t.Errorf("only %d of 3 workers took jobs", workersUsed)
	}
	_ = base
}

// TestServeWorkerKilledMidTranscode: kill -9 of the worker running a
// transcode; another worker gets the job and posts it exactly once.
func TestServeWorkerKilledMidTranscode(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true, natsShare: true})
	_, base := c.serve("serve", nil, "--workers", "0")
	victim := c.start("victim", nil, "worker")
	code, body, _ := upload(t, base, "", slowVideo(t), nil)
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := body["id"].(string)
	waitPreparing(t, base, "", id, victim)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	c.start("rescuer", nil, "worker")
	j := waitFinal(t, base, "", id, 3*time.Minute)
	if j["state"] != "posted" {
		t.Fatalf("job: %v", j)
	}
	if n := c.green.Count("sendMediaStatus"); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
	if a, _ := j["attempts"].(float64); a < 2 {
		t.Errorf("attempts = %v, want the job delivered again", j["attempts"])
	}
}

// TestServe429Storm: Green API answers 429 again and again; everything is
// posted in the end, and the two processes together never send more than
// 5 requests in any second.
func TestServe429Storm(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true, natsShare: true})
	_, base := c.serve("serve", nil, "--workers", "2")
	c.start("worker", nil, "worker", "-j", "2")
	faults := make([]greenapitest.Fault, 25)
	for i := range faults {
		faults[i] = greenapitest.Fault{Status: http.StatusTooManyRequests}
	}
	c.green.Inject("sendMediaStatus", faults...)
	var ids []string
	for i := range 10 {
		src := sample([]string{"sample.jpg", "alpha.png"}[i%2])
		code, body, _ := upload(t, base, "", src, map[string]string{"caption": fmt.Sprint("storm ", i)})
		if code != http.StatusAccepted {
			t.Fatalf("upload: %d %v", code, body)
		}
		ids = append(ids, body["id"].(string))
	}
	for _, id := range ids {
		if j := waitFinal(t, base, "", id, 5*time.Minute); j["state"] != "posted" {
			t.Errorf("job %s: %v", id, j)
		}
	}
	if n := len(c.green.Posted()); n != 10 {
		t.Errorf("%d posted, want 10", n)
	}
	if m := c.green.MaxPerSecond("sendMediaStatus"); m > 5 {
		t.Errorf("%d sendMediaStatus requests within one second, want at most 5", m)
	}
	if n := c.green.Count("sendMediaStatus"); n < 35 {
		t.Errorf("only %d requests: the 25 faults were not all met", n)
	}
}

// TestServeS3Outage: the S3 server is down for 10 seconds while jobs run:
// they are retried and none is lost.
func TestServeS3Outage(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true, natsShare: true})
	_, base := c.serve("serve", nil, "--workers", "0")
	var ids []string
	for _, name := range []string{"sample.jpg", "sample.mp4", "sample-id3.mp3", "alpha.png"} {
		code, body, _ := upload(t, base, "", sample(name), nil)
		if code != http.StatusAccepted {
			t.Fatalf("upload: %d %v", code, body)
		}
		ids = append(ids, body["id"].(string))
	}
	c.s3.Stop()
	c.start("worker", nil, "worker", "-j", "2")
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with S3 down: %d", resp.StatusCode)
	}
	time.Sleep(10 * time.Second) // the outage
	c.s3.Restart()
	for _, id := range ids {
		if j := waitFinal(t, base, "", id, 3*time.Minute); j["state"] != "posted" {
			t.Errorf("job %s: %v", id, j)
		}
	}
	if n := len(c.green.Posted()); n != 4 {
		t.Errorf("%d posted, want 4", n)
	}
}

// TestServeSIGTERM: SIGTERM while a job transcodes, with a short grace:
// the process stops, the job is back in the queue, and the next serve on
// the same data dir posts it.
func TestServeSIGTERM(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true})
	p, base := c.serve("serve", []string{"MEDIAPREP_SHUTDOWN_GRACE=1s"})
	code, body, _ := upload(t, base, "", slowVideo(t), nil)
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := body["id"].(string)
	waitPreparing(t, base, "", id, p)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of SIGTERM with a 1 s grace")
	}
	if n := len(childPIDs(p.cmd.Process.Pid, "ffmpeg")); n != 0 {
		t.Errorf("%d ffmpeg left running", n)
	}
	_, base = c.serve("serve2", nil)
	j := waitFinal(t, base, "", id, 3*time.Minute)
	if j["state"] != "posted" || c.green.Count("sendMediaStatus") != 1 {
		t.Errorf("job after restart: %v; %d sends", j, c.green.Count("sendMediaStatus"))
	}
}

// TestServeRefusesOpenListeners: beyond loopback, the API needs keys; the
// embedded NATS needs a token wherever it listens.
func TestServeRefusesOpenListeners(t *testing.T) {
	data := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--listen", "0.0.0.0:0"}, "MEDIAPREP_API_KEYS"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--nats-listen", "0.0.0.0:0"}, "MEDIAPREP_NATS_TOKEN"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, "MEDIAPREP_NATS_TOKEN"},
		{[]string{"worker"}, "--nats"},
		{[]string{"serve", "--poll", "0"}, "--events-subject"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--workers", "0"}, "--workers 0"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append(tt.args, "--data", data), noEnv, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %s", tt.args, code, stderr.String(), exitUsage, tt.want)
		}
	}
}

// TestServeRedactsNATSCredentials: a NATS URL with a token is not printed.
func TestServeRedactsNATSCredentials(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := map[string]string{"MEDIAPREP_NATS_URL": "nats://s3cret-token@127.0.0.1:1", "MEDIAPREP_PUBLIC_BASE_URL": "http://127.0.0.1:2"}
	code := run(t.Context(), []string{"worker", "--data", t.TempDir()}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code == exitOK || strings.Contains(stderr.String(), "s3cret-token") || !strings.Contains(stderr.String(), "127.0.0.1:1") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	var help bytes.Buffer
	run(t.Context(), []string{"worker", "--help"}, func(k string) string { return env[k] }, &help, &help)
	if strings.Contains(help.String(), "s3cret-token") {
		t.Error("--help shows the NATS URL from the environment")
	}
}
