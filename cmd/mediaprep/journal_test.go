package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/queue"
)

// TestServeKilledBetweenSendAndRecord: NATS goes down while Green API is
// answering a send, so the answer cannot be recorded in the job; serve is
// then killed (-9) while it retries. A new serve on the same data dir, once
// NATS is back, records the answer from the journal: the job ends posted
// with the idMessage Green API gave, sent once, not outcome_unknown.
func TestServeKilledBetweenSendAndRecord(t *testing.T) {
	c := newCluster(t, clusterOpts{s3: true, green: true})
	store := filepath.Join(t.TempDir(), "nats")
	nats1, err := queue.StartEmbedded(store, "127.0.0.1:0", nil, queue.WithToken(testNATSToken))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			nats1.Shutdown()
		}
	})
	// Green API takes 3 s to answer the send: time to take NATS down.
	c.green.Inject("sendMediaStatus", greenapitest.Fault{Delay: 3 * time.Second})
	p1, base := c.serve("serve1", []string{"MEDIAPREP_NATS_URL=" + nats1.ClientURL(), "MEDIAPREP_NATS_TOKEN=" + testNATSToken}, "--workers", "1")
	code, body, _ := upload(t, base, "", sample("sample.jpg"), nil)
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := body["id"].(string)
	testutil.WaitFor(t, time.Minute, "the send to reach Green API", func() bool { return c.green.Count("sendMediaStatus") > 0 })
	nats1.Shutdown()
	stopped = true
	testutil.WaitFor(t, time.Minute, "serve1 to retry recording the answer", func() bool {
		return strings.Contains(p1.out.String(), "recording idMessage failed; trying again")
	})
	posted := c.green.Posted()
	if len(posted) != 1 {
		t.Fatalf("Green API accepted %d statuses, want 1", len(posted))
	}
	journals, _ := filepath.Glob(filepath.Join(c.data, "journal", "journal-*.jsonl"))
	var journal []byte
	for _, f := range journals {
		b, _ := os.ReadFile(f)
		journal = append(journal, b...)
	}
	if !strings.Contains(string(journal), posted[0].IDMessage) {
		t.Fatalf("the journal does not hold idMessage %s: %q", posted[0].IDMessage, journal)
	}
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done

	nats2, err := queue.StartEmbedded(store, "127.0.0.1:0", nil, queue.WithToken(testNATSToken))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats2.Shutdown)
	_, base2 := c.serve("serve2", []string{"MEDIAPREP_NATS_URL=" + nats2.ClientURL(), "MEDIAPREP_NATS_TOKEN=" + testNATSToken}, "--workers", "1")
	j := waitFinal(t, base2, "", id, 2*time.Minute)
	if j["state"] != "posted" || j["idMessage"] != posted[0].IDMessage || j["outcomeUnknown"] == true {
		t.Errorf("job after the restart: %v; want posted as %s", j, posted[0].IDMessage)
	}
	if n := c.green.Count("sendMediaStatus"); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
}
