package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// A status still pending when serve stops is followed by the next serve:
// it shows after the restart and the job ends delivered.
func TestServeResumesPendingDelivery(t *testing.T) {
	c := newCluster(t, clusterOpts{green: true})
	p, base := c.serve("serve", nil)

	c.green.HoldStatuses(true)
	code, body, _ := upload(t, base, "", sample("sample.jpg"), map[string]string{"caption": "across a restart"})
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, body)
	}
	id := body["id"].(string)
	j := waitFinal(t, base, "", id, 60*time.Second)
	if j["state"] != "posted" || j["delivery"] != "pending" {
		t.Fatalf("job before the restart: %v", j)
	}
	p.stop(t)

	c.green.SetStatusMessage(j["idMessage"].(string), "delivered")
	p, base = c.serve("serve-again", nil)
	testutil.WaitFor(t, 60*time.Second, "the resumed delivery to be confirmed", func() bool {
		j = job(t, base, "", id)
		return j["delivery"] == "delivered"
	})
	if len(c.green.Posted()) != 1 || j["state"] != "posted" {
		t.Errorf("job %v, %d statuses sent; want posted once", j, len(c.green.Posted()))
	}
	if out := p.out.String(); !strings.Contains(out, "following again the deliveries left pending") {
		t.Errorf("serve did not say it took up the pending delivery:\n%s", lastLines(out, 20))
	}
}
