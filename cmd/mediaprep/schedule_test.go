package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/publish"
)

// postText posts a JSON text status and returns the status code and body.
func postText(t *testing.T, base string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	code, out, _ := request(t, "POST", base+"/v1/statuses", "", "application/json", strings.NewReader(string(b)))
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return code, m
}

// statusFor returns the status the stand-in accepted whose idMessage is id.
func statusFor(green *greenapitest.Server, id string) (greenapitest.Status, bool) {
	for _, s := range green.Posted() {
		if s.IDMessage == id {
			return s, true
		}
	}
	return greenapitest.Status{}, false
}

// sentWith counts the statuses whose caption (or text) is v.
func sentWith(green *greenapitest.Server, v string) int {
	n := 0
	for _, s := range green.Posted() {
		if s.Body["caption"] == v || s.Body["message"] == v {
			n++
		}
	}
	return n
}

// TestServeScheduled: an upload, a text status and an inbox drop, each
// with a publish time a few seconds ahead, are prepared at once (a broken
// file fails at once), wait in state scheduled through a kill -9 of the
// worker and a restart of serve, and are posted at their time, not
// before. A past publish time posts at once; one too far ahead is
// refused; a job canceled before its time never posts; a cancel racing
// the send ends in exactly one of posted and canceled; a posted job is
// deleted with deleteStatus.
func TestServeScheduled(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true, natsShare: true})
	serve, base := c.serve("serve", nil, "--workers", "0")
	worker := c.start("worker", nil, "worker")

	// RFC 3339 has seconds: the times are whole seconds.
	at := time.Now().Add(10 * time.Second).Truncate(time.Second).Add(time.Second)
	rfc := at.Format(time.RFC3339)

	code, up, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "scheduled upload", "publishAt": rfc})
	if code != http.StatusAccepted {
		t.Fatalf("scheduled upload: %d %v", code, up)
	}
	code, text := postText(t, base, map[string]any{"text": "scheduled text", "backgroundColor": "#228B22", "publishAt": at.Unix()})
	if code != http.StatusAccepted {
		t.Fatalf("scheduled text: %d %v", code, text)
	}
	c.drop("inbox/dropped.jpg", sample("gray.jpg"), map[string]string{"caption": "scheduled drop", "publish-at": rfc})
	code, canceled, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "canceled before", "publishAt": rfc})
	if code != http.StatusAccepted {
		t.Fatalf("upload to cancel: %d %v", code, canceled)
	}
	code, racing, _ := upload(t, base, "", sample("progressive.jpg"), map[string]string{"caption": "cancel racing", "publishAt": rfc})
	if code != http.StatusAccepted {
		t.Fatalf("upload to race: %d %v", code, racing)
	}
	code, broken, _ := upload(t, base, "", "../../testdata/bad/truncated.jpg", map[string]string{"publishAt": rfc})
	if code != http.StatusAccepted {
		t.Fatalf("broken upload: %d %v", code, broken)
	}
	code, past, _ := upload(t, base, "", sample("cmyk.jpg"), map[string]string{"caption": "in the past", "publishAt": "2020-01-01T00:00:00Z"})
	if code != http.StatusAccepted {
		t.Fatalf("past upload: %d %v", code, past)
	}
	code, far, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"publishAt": time.Now().Add(31 * 24 * time.Hour).Format(time.RFC3339)})
	if e, _ := far["error"].(map[string]any); code != http.StatusBadRequest || e["code"] != "publish_at_too_far" {
		t.Errorf("publishAt 31 days ahead: %d %v, want 400 publish_at_too_far", code, far)
	}
	code, bad, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"publishAt": "tomorrow 9:00"})
	if code != http.StatusBadRequest {
		t.Errorf("publishAt \"tomorrow 9:00\": %d %v, want 400", code, bad)
	}

	id := func(m map[string]any) string { return m["id"].(string) }
	var dropID string
	testutil.WaitFor(t, 30*time.Second, "the drop to be picked up", func() bool {
		dropID = logField(serve.out.String(), "picked up", "job")
		return dropID != ""
	})
	scheduled := []string{id(up), id(text), dropID, id(canceled), id(racing)}

	// Prepared and stored now; a broken file fails now; the past is now.
	for _, jid := range scheduled {
		testutil.WaitFor(t, 60*time.Second, "job "+jid+" to be scheduled", func() bool { return job(t, base, "", jid)["state"] == "scheduled" })
	}
	if j := waitFinal(t, base, "", id(broken), 30*time.Second); j["state"] != "failed" || !time.Now().Before(at) {
		t.Errorf("broken scheduled upload: %v (want failed before its time)", j)
	}
	if j := waitFinal(t, base, "", id(past), 30*time.Second); j["state"] != "posted" || !time.Now().Before(at) {
		t.Errorf("upload with a past publishAt: %v (want posted at once)", j)
	}
	for _, jid := range []string{id(up), dropID} {
		if j := job(t, base, "", jid); j["key"] == "" || j["key"] == nil || j["url"] != nil {
			t.Errorf("scheduled job %s: key %v url %v, want stored and not linked yet", jid, j["key"], j["url"])
		}
	}

	// Cancel before the time.
	code, b, _ := request(t, "DELETE", base+"/v1/statuses/"+id(canceled), "", "", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"state":"canceled"`) {
		t.Fatalf("DELETE a scheduled job: %d %s", code, b)
	}
	code, b, _ = request(t, "DELETE", base+"/v1/statuses/"+id(canceled), "", "", nil)
	if code != http.StatusConflict {
		t.Errorf("DELETE a canceled job again: %d %s, want 409", code, b)
	}
	code, b, _ = request(t, "DELETE", base+"/v1/statuses/"+id(broken), "", "", nil)
	if code != http.StatusConflict || !strings.Contains(string(b), "failed") {
		t.Errorf("DELETE a failed job: %d %s, want 409 saying why", code, b)
	}

	// kill -9 of the worker and a restart of serve while the jobs wait.
	if err := worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-worker.done
	serve.stop(t)
	serve, base = c.serve("serve2", nil, "--workers", "0")
	c.start("worker2", nil, "worker")
	if !time.Now().Before(at) {
		t.Fatalf("the restart took past the publish time; make it later")
	}

	// The racing cancel: sent right at the publish time.
	time.Sleep(time.Until(at))
	raceCode, raceBody, _ := request(t, "DELETE", base+"/v1/statuses/"+id(racing), "", "", nil)

	for _, jid := range []string{id(up), id(text), dropID} {
		j := waitFinal(t, base, "", jid, 60*time.Second)
		if j["state"] != "posted" {
			t.Errorf("scheduled job %s: %v", jid, j)
			continue
		}
		st, ok := statusFor(c.green, j["idMessage"].(string))
		if !ok {
			t.Errorf("job %s: the stand-in has no status %v", jid, j["idMessage"])
			continue
		}
		if st.Time.Before(at) {
			t.Errorf("job %s sent at %s, before its publish time %s", jid, st.Time.Format(time.RFC3339Nano), rfc)
		}
		late := st.Time.Sub(at)
		if late > 15*time.Second {
			t.Errorf("job %s sent %s after its publish time", jid, late)
		}
		t.Logf("job %s sent %s after its publish time", jid, late)
	}
	for _, caption := range []string{"scheduled upload", "scheduled text", "scheduled drop", "in the past"} {
		if n := sentWith(c.green, caption); n != 1 {
			t.Errorf("%q sent %d times, want 1", caption, n)
		}
	}

	// The race ends in exactly one of posted and canceled.
	var rj map[string]any
	testutil.WaitFor(t, 60*time.Second, "the racing job to settle", func() bool {
		rj = job(t, base, "", id(racing))
		return rj["state"] == "posted" || rj["state"] == "canceled" || rj["state"] == "deleted"
	})
	sent := sentWith(c.green, "cancel racing")
	switch {
	case rj["state"] == "canceled" && raceCode == http.StatusOK && sent == 0:
	case rj["state"] != "canceled" && sent == 1 && raceCode != http.StatusOK || rj["state"] == "deleted":
	default:
		t.Errorf("racing cancel: DELETE %d %s; job %v; sent %d times", raceCode, raceBody, rj["state"], sent)
	}

	// Never posted: the canceled one, however long we look.
	if n := sentWith(c.green, "canceled before"); n != 0 {
		t.Errorf("a canceled job was posted %d times", n)
	}
	if j := job(t, base, "", id(canceled)); j["state"] != "canceled" {
		t.Errorf("canceled job: %v", j)
	}

	// Delete after posting.
	j := job(t, base, "", id(up))
	code, b, _ = request(t, "DELETE", base+"/v1/statuses/"+id(up), "", "", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"state":"deleted"`) {
		t.Fatalf("DELETE a posted job: %d %s", code, b)
	}
	if st, _ := statusFor(c.green, j["idMessage"].(string)); !st.Deleted {
		t.Errorf("the stand-in did not see deleteStatus for %v", j["idMessage"])
	}
	// The racing DELETE may have come after its job was posted: then it
	// deleted that status too.
	wantDeletes := 1
	if rj["state"] == "deleted" {
		wantDeletes++
	}
	if n := c.green.Count("deleteStatus"); n != wantDeletes {
		t.Errorf("%d deleteStatus calls, want %d (racing job %v)", n, wantDeletes, rj["state"])
	}
	code, b, _ = request(t, "DELETE", base+"/v1/statuses/"+id(up), "", "", nil)
	if code != http.StatusConflict {
		t.Errorf("DELETE a deleted job: %d %s, want 409", code, b)
	}

	// GET /v1/info offers the publish time and the cancel buttons.
	_, b, _ = request(t, "GET", base+"/v1/info", "", "", nil)
	var info map[string]any
	_ = json.Unmarshal(b, &info)
	if info["scheduling"] != true || info["cancel"] != true {
		t.Errorf("/v1/info: %s", b)
	}
}

// cli runs mediaprep args with the cluster's environment plus env, and
// returns its output and exit code.
func (c *cluster) cli(env []string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(slices.Clone(c.env), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		c.t.Fatal(err)
	}
	return string(out), 0
}

// TestScheduleCLI: batch with publish times (a sidecar's, --publish-at)
// hands the files to the service, reports a broken one at once, and the
// rest are posted at their times; post --publish-at without a service is
// refused with what to do; statuses --delete cancels by job id.
func TestScheduleCLI(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true})
	_, base := c.serve("serve", nil)
	api := []string{"MEDIAPREP_API_URL=" + base}

	if out, code := c.cli(nil, "post", "--publish-at", "2030-01-01T09:00:00Z", sample("sample.jpg")); code != exitUsage || !strings.Contains(out, "MEDIAPREP_API_URL") {
		t.Errorf("post --publish-at without a service: exit %d\n%s", code, out)
	}
	if out, code := c.cli(api, "post", "--publish-at", "next monday", sample("sample.jpg")); code != exitUsage || !strings.Contains(out, "RFC 3339") {
		t.Errorf("post --publish-at \"next monday\": exit %d\n%s", code, out)
	}

	at := time.Now().Add(6 * time.Second).Truncate(time.Second).Add(time.Second)
	later := at.Add(2 * time.Second)
	dir := t.TempDir()
	copyFile(t, sample("sample.jpg"), filepath.Join(dir, "a.jpg"))
	copyFile(t, sample("gray.jpg"), filepath.Join(dir, "b.jpg"))
	copyFile(t, "../../testdata/bad/truncated.jpg", filepath.Join(dir, "c.jpg"))
	side := fmt.Sprintf(`{"caption": "batch a", "publishAt": %q}`, at.Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, "a.jpg.json"), []byte(side), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := c.cli(api, "batch", "--json", "--caption", "batch", "--publish-at", strconv.FormatInt(later.Unix(), 10), dir)
	if code != exitFailed {
		t.Errorf("batch with a broken file: exit %d, want 1\n%s", code, out)
	}
	results := map[string]publish.Scheduled{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r publish.Scheduled
		if json.Unmarshal([]byte(line), &r) == nil && r.Source != "" {
			results[filepath.Base(r.Source)] = r
		}
	}
	a, b, broken := results["a.jpg"], results["b.jpg"], results["c.jpg"]
	if a.State != "scheduled" || b.State != "scheduled" || a.PublishAt != at.UTC().Format(time.RFC3339) || b.PublishAt != later.UTC().Format(time.RFC3339) {
		t.Fatalf("batch results: %+v\n%s", results, out)
	}
	if broken.Error == nil || !time.Now().Before(at) {
		t.Errorf("the broken file: %+v, want a failure reported before the publish time", broken)
	}

	if out, code := c.cli(api, "statuses", "--delete", b.Job); code != exitOK || !strings.Contains(out, "canceled "+b.Job) {
		t.Errorf("statuses --delete %s: exit %d\n%s", b.Job, code, out)
	}
	j := waitFinal(t, base, "", a.Job, 60*time.Second)
	st, ok := statusFor(c.green, fmt.Sprint(j["idMessage"]))
	if j["state"] != "posted" || !ok || st.Time.Before(at) || st.Body["caption"] != "batch a" {
		t.Errorf("batch a: %v; sent %v at %s, publish time %s", j, st.Body, st.Time, at)
	}
	time.Sleep(time.Until(later.Add(2 * time.Second)))
	if n := sentWith(c.green, "batch"); n != 0 {
		t.Errorf("the canceled batch file was posted %d times", n)
	}
}
