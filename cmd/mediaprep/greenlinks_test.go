package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"

	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/publish"
)

// With only Green API credentials (no bucket, no public address), serve
// makes its links with uploadFile: an upload and an inbox drop are posted
// with urlFile links on the Green API media host.
func TestServeGreenAPILinksByDefault(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true})
	p, base := c.serve("serve", nil)

	code, body, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "via uploadFile"})
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, body)
	}
	j := waitFinal(t, base, "", body["id"].(string), 60*time.Second)
	url, _ := j["url"].(string)
	if j["state"] != "posted" || j["dryRun"] == true || !strings.HasPrefix(url, c.green.MediaURL()+"/") {
		t.Fatalf("job %v: want posted with a link on the media host %s", j, c.green.MediaURL())
	}
	testutil.WaitFor(t, 30*time.Second, "its delivery to be confirmed", func() bool {
		j = job(t, base, "", body["id"].(string))
		return j["delivery"] == "sent"
	})
	c.drop("inbox/clip.mp4", sample("sample.mp4"), nil)
	testutil.WaitFor(t, 90*time.Second, "the drop to be posted", func() bool { return len(c.keys("processed/")) == 1 })

	ups, posted := c.green.Uploads(), c.green.Posted()
	if len(ups) != 2 || len(posted) != 2 {
		t.Fatalf("%d uploads, %d statuses, want 2 of each", len(ups), len(posted))
	}
	types := []string{}
	for i, st := range posted {
		if st.URLFile != ups[i].URLFile {
			t.Errorf("status %d sent %s, not the uploaded %s", i, st.URLFile, ups[i].URLFile)
		}
		types = append(types, st.FetchedContentType)
	}
	if !slices.Equal(types, []string{"image/jpeg", "video/mp4"}) {
		t.Errorf("links served as %v", types)
	}
	if out := p.out.String(); !strings.Contains(out, "links are uploaded to Green API") || strings.Contains(out, "loopback address: Green API cannot fetch them") {
		t.Errorf("serve did not say where links come from, or warned about loopback links:\n%s", lastLines(out, 20))
	}
}

// post and batch with --link-mode greenapi keep the prepared file in the
// bucket and send the uploadFile link; a rerun reuses a link still alive
// instead of uploading again.
func TestBatchGreenAPILinksReused(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	copyFile(t, sample("sample.wav"), filepath.Join(dir, "voice.wav"))
	out := filepath.Join(t.TempDir(), "out")

	stdout, code := e.run("batch", "--json", "--link-mode", "greenapi", "--out", out, dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	lines := parseLines(t, stdout)
	ups := e.green.Uploads()
	if len(lines) != 2 || len(ups) != 2 || len(e.green.Posted()) != 2 {
		t.Fatalf("%d lines, %d uploads, %d posted; want 2 each\n%s", len(lines), len(ups), len(e.green.Posted()), stdout)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l.URL, e.green.MediaURL()+"/") {
			t.Errorf("%s: link %s is not an uploadFile link", l.Source, l.URL)
		}
	}
	for _, d := range deliveries(t, stdout) {
		if d != "sent" {
			t.Errorf("deliveries %v, want sent", deliveries(t, stdout))
		}
	}
	if n := len(e.objects()); n != 2 {
		t.Errorf("%d objects in the bucket, want the 2 prepared files kept", n)
	}

	// --force posts again: the links recorded in the ledger are reused.
	stdout, code = e.run("batch", "--json", "--force", "--link-mode", "greenapi", "--out", out, dir)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s", code, stdout)
	}
	if got := len(e.green.Uploads()); got != 2 || len(e.green.Posted()) != 4 {
		t.Errorf("rerun: %d uploads (want still 2), %d posted (want 4)", got, len(e.green.Posted()))
	}

	// post with the same content reuses nothing (no ledger) and uploads.
	stdout, code = e.run("post", "--json", "--link-mode", "greenapi", "--caption", "again", sample("sample.jpg"))
	if code != exitOK {
		t.Fatalf("post: exit %d\n%s", code, stdout)
	}
	if l := parseLines(t, stdout); len(l) != 1 || len(e.green.Uploads()) != 3 || l[0].URL != e.green.Uploads()[2].URLFile {
		t.Errorf("post: %s; %d uploads, want 3 with the last one sent", stdout, len(e.green.Uploads()))
	}
}

// A send whose answer was lost (outcome_unknown) is looked up in
// getOutgoingStatuses and, being the only match, becomes posted with its
// idMessage, never sent again; a status Green API never shows ends
// not_confirmed.
func TestServeDeliveryOutcomes(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true})
	_, base := c.serve("serve", []string{"MEDIAPREP_DELIVERY_WINDOW=4s"})

	c.green.Inject("sendMediaStatus", greenapitest.Fault{Status: http.StatusGatewayTimeout, Accept: true})
	_, body, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "answer lost"})
	id := body["id"].(string)
	var j map[string]any
	testutil.WaitFor(t, 60*time.Second, "the lost send to be resolved", func() bool {
		j = job(t, base, "", id)
		return j["state"] == "posted"
	})
	posted := c.green.Posted()
	note, _ := j["deliveryNote"].(string)
	if len(posted) != 1 || j["idMessage"] != posted[0].IDMessage || j["delivery"] != "sent" || !strings.Contains(note, "resolved from getOutgoingStatuses") {
		t.Errorf("job %v; stand-in has %d statuses", j, len(posted))
	}

	c.green.HoldStatuses(true)
	_, body, _ = upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "never shows"})
	id = body["id"].(string)
	testutil.WaitFor(t, 60*time.Second, "the unseen status to be not_confirmed", func() bool {
		j = job(t, base, "", id)
		return j["delivery"] == "not_confirmed"
	})
	if j["state"] != "posted" || len(c.green.Posted()) != 2 {
		t.Errorf("job %v, %d statuses sent; want posted, sent once", j, len(c.green.Posted()))
	}
}

func deliveries(t *testing.T, stdout string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var v struct{ Delivery string }
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, v.Delivery)
	}
	return out
}

// post waits at the end for its status to show; one that never does is
// not_confirmed (still exit 0: Green API took it), recorded in the
// ledger by batch.
func TestBatchDeliveryNotConfirmed(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	out := filepath.Join(t.TempDir(), "out")
	e.green.HoldStatuses(true)
	stdout, code := e.run("batch", "--json", "--delivery-window", "2s", "--out", out, dir)
	if code != exitOK || !slices.Equal(deliveries(t, stdout), []string{"not_confirmed"}) {
		t.Fatalf("exit %d, deliveries %v; want 0 and not_confirmed\n%s", code, deliveries(t, stdout), stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "mediaprep-ledger.jsonl"))
	if err != nil || !strings.Contains(string(b), `"delivery":"not_confirmed"`) {
		t.Errorf("ledger: %s (%v)", b, err)
	}
	// Without waiting, no delivery is reported.
	stdout, code = e.run("post", "--json", "--delivery-window", "0", "--caption", "x", sample("sample.jpg"))
	if code != exitOK || !slices.Equal(deliveries(t, stdout), []string{""}) {
		t.Errorf("post --delivery-window 0: exit %d\n%s", code, stdout)
	}
}

// With only Green API credentials, batch needs no bucket: the prepared
// files stay under --out and the links come from uploadFile.
func TestBatchWithoutBucket(t *testing.T) {
	testutil.NeedFFmpeg(t)
	green := greenapitest.NewServer(t, testInstance, testToken)
	env := map[string]string{
		"MEDIAPREP_GREENAPI_URL": green.URL(), "MEDIAPREP_GREENAPI_INSTANCE": testInstance, "MEDIAPREP_GREENAPI_TOKEN": testToken,
	}
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-v", "--log-json", "batch", "--json", "--out", out, dir}, func(k string) string { return env[k] }, &stdout, &stderr)
	lines := parseLines(t, stdout.String())
	if code != exitOK || len(lines) != 1 || len(green.Uploads()) != 1 || lines[0].URL != green.Uploads()[0].URLFile {
		t.Fatalf("exit %d, %d uploads\n%s\n%s", code, len(green.Uploads()), stdout.String(), lastLines(stderr.String(), 10))
	}
	if _, err := os.Stat(filepath.Join(out, lines[0].Key)); err != nil {
		t.Errorf("the prepared file is not kept under --out: %v", err)
	}
	if strings.Contains(stdout.String()+stderr.String(), testToken) {
		t.Error("the token was printed")
	}
	for _, msg := range green.Errors() {
		t.Errorf("stand-in refused: %s", msg)
	}
}

// A dry run without a bucket needs none either: the file is prepared and
// kept under --out, nothing is uploaded, and the request shows a
// placeholder where uploadFile's link would go.
func TestDryRunWithoutBucket(t *testing.T) {
	testutil.NeedFFmpeg(t)
	green := greenapitest.NewServer(t, testInstance, testToken)
	env := map[string]string{
		"MEDIAPREP_GREENAPI_URL": green.URL(), "MEDIAPREP_GREENAPI_INSTANCE": testInstance, "MEDIAPREP_GREENAPI_TOKEN": testToken,
	}
	for _, cmd := range []string{"post", "batch"} {
		out := filepath.Join(t.TempDir(), "out")
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{cmd, "--dry-run", "--json", "--caption", "hi", "--out", out, sample("sample.jpg")},
			func(k string) string { return env[k] }, &stdout, &stderr)
		lines := parseLines(t, stdout.String())
		if code != exitOK || len(lines) != 1 || !lines[0].DryRun {
			t.Fatalf("%s --dry-run: exit %d\n%s\n%s", cmd, code, stdout.String(), lastLines(stderr.String(), 10))
		}
		var req struct{ Body map[string]any }
		if err := json.Unmarshal(lines[0].Request, &req); err != nil {
			t.Fatal(err)
		}
		want := "https://uploadfile.invalid/" + lines[0].Key
		if lines[0].URL != want || req.Body["urlFile"] != want || req.Body["caption"] != "hi" {
			t.Errorf("%s --dry-run: url %q, request %v; want the placeholder %q", cmd, lines[0].URL, req.Body, want)
		}
		if _, err := os.Stat(filepath.Join(out, lines[0].Key)); err != nil {
			t.Errorf("%s --dry-run: the prepared file is not kept under --out: %v", cmd, err)
		}
		if n := len(green.Requests()); n != 0 {
			t.Errorf("%s --dry-run sent %d requests to Green API", cmd, n)
		}
	}
}

// With a bucket, greenapi can be chosen: the prepared file is kept in the
// bucket, the link sent is uploadFile's.
func TestServeGreenAPILinksWithBucket(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true})
	_, base := c.serve("serve", []string{"MEDIAPREP_LINK_MODE=greenapi"})
	_, body, _ := upload(t, base, "", sample("sample.jpg"), nil)
	j := waitFinal(t, base, "", body["id"].(string), 60*time.Second)
	url, _ := j["url"].(string)
	ups := c.green.Uploads()
	if j["state"] != "posted" || len(ups) != 1 || url != ups[0].URLFile || j["linkSha256"] != ups[0].SHA256 {
		t.Fatalf("job %v, uploads %+v", j, ups)
	}
	if keys := c.keys("statuses/"); len(keys) != 1 || keys[0] != j["key"] {
		t.Errorf("bucket holds %v, want the prepared file %v", keys, j["key"])
	}
}

// A batch send whose answer was lost is looked up: the only status with
// its caption makes it posted (a rerun skips it); none leaves it
// outcome_unknown, saying so. Nothing is sent twice.
func TestBatchOutcomeUnknownResolved(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	out := filepath.Join(t.TempDir(), "out")

	e.green.Inject("sendMediaStatus", greenapitest.Fault{Status: http.StatusGatewayTimeout, Accept: true})
	stdout, code := e.run("batch", "--json", "--caption", "lost answer", "--out", out, dir)
	posted := e.green.Posted()
	var line struct {
		IDMessage, Delivery, DeliveryNote string
		Error                             *publish.Error
	}
	if err := json.Unmarshal([]byte(stdout), &line); err != nil || code != exitOK || len(posted) != 1 ||
		line.IDMessage != posted[0].IDMessage || line.Delivery != "sent" || !strings.Contains(line.DeliveryNote, "resolved from getOutgoingStatuses") {
		t.Fatalf("exit %d, %d statuses:\n%s", code, len(posted), stdout)
	}
	if stdout, code := e.run("batch", "--json", "--caption", "lost answer", "--out", out, dir); code != exitOK || !parseLines(t, stdout)[0].Skipped {
		t.Errorf("rerun: exit %d\n%s", code, stdout)
	}

	// Not accepted at all: nothing to find, still outcome_unknown.
	e.green.Inject("sendMediaStatus", greenapitest.Fault{Status: http.StatusGatewayTimeout})
	stdout, code = e.run("batch", "--json", "--caption", "never arrived", "--delivery-window", "2s", "--out", out, dir)
	lines := parseLines(t, stdout)
	if code != exitFailed || len(lines) != 1 || lines[0].Error == nil || lines[0].Error.Code != "outcome_unknown" ||
		!strings.Contains(lines[0].Error.Message, "no sendMediaStatus with this caption in getOutgoingStatuses") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	if n := e.green.Count("sendMediaStatus"); n != 2 {
		t.Errorf("%d sends, want 2 (never one again)", n)
	}
}
