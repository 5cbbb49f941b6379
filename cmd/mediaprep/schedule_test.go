package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
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
	waitFor(t, 30*time.Second, "the drop to be picked up", func() bool {
		dropID = logField(serve.out.String(), "picked up", "job")
		return dropID != ""
	})
	scheduled := []string{id(up), id(text), dropID, id(canceled), id(racing)}

	// Prepared and stored now; a broken file fails now; the past is now.
	for _, jid := range scheduled {
		waitFor(t, 60*time.Second, "job "+jid+" to be scheduled", func() bool { return job(t, base, "", jid)["state"] == "scheduled" })
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
		if late := st.Time.Sub(at); late > 15*time.Second {
			t.Errorf("job %s sent %s after its publish time", jid, late)
		}
	}
	for _, caption := range []string{"scheduled upload", "scheduled text", "scheduled drop", "in the past"} {
		if n := sentWith(c.green, caption); n != 1 {
			t.Errorf("%q sent %d times, want 1", caption, n)
		}
	}

	// The race ends in exactly one of posted and canceled.
	var rj map[string]any
	waitFor(t, 60*time.Second, "the racing job to settle", func() bool {
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
	if n := c.green.Count("deleteStatus"); n != 1 {
		t.Errorf("%d deleteStatus calls, want 1", n)
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
