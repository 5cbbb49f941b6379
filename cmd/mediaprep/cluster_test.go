package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/queue/queuetest"
)

// TestServeClusterNodeLoss: two serve and two worker processes on a 3-node
// NATS cluster (in the test process) and S3; the node leading the jobs
// stream is stopped while files are being dropped and posted. Every file
// is posted exactly once, none fails, and the inbox ends empty; the queue
// was made with 3 copies without being told.
func TestServeClusterNodeLoss(t *testing.T) {
	cl := queuetest.StartCluster(t, nil)
	c := newCluster(t, clusterOpts{s3: true, green: true})
	env := []string{"MEDIAPREP_NATS_URL=" + cl.URLs()}
	c.serve("serve1", env, "--workers", "0")
	c.serve("serve2", env, "--workers", "0")
	c.start("worker1", env, "worker", "-j", "2")
	c.start("worker2", env, "worker", "-j", "2")

	samples := []string{"sample.jpg", "alpha.png", "cmyk.jpg", "gray.jpg", "sample.webp", "sample-id3.mp3"}
	drop := func(from, to int) {
		for i := from; i < to; i++ {
			name := samples[i%len(samples)]
			c.drop(fmt.Sprintf("inbox/%02d-%s", i, name), sample(name), nil)
		}
	}
	const n = 18
	drop(0, n/2)
	testutil.WaitFor(t, 2*time.Minute, "a first file to be processed", func() bool { return len(c.keys("processed/")) > 0 })

	nc, err := nats.Connect(cl.URLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(t.Context(), "MEDIAPREP_JOBS")
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Config.Replicas != 3 || info.Cluster == nil {
		t.Fatalf("jobs stream: %d replicas, cluster %+v; want 3", info.Config.Replicas, info.Cluster)
	}
	nc.Close()
	cl.Stop(info.Cluster.Leader)
	t.Logf("stopped %s, the jobs stream's leader, with %d files processed", info.Cluster.Leader, len(c.keys("processed/")))
	drop(n/2, n)

	testutil.WaitFor(t, 3*time.Minute, "every file to be processed", func() bool {
		return len(c.keys("processed/"))+len(c.keys("failed/")) >= n && len(c.keys("inbox/")) == 0
	})
	c.wantPostedOnce(n)
	for _, p := range c.procs {
		if strings.Contains(p.out.String(), "outcome_unknown") {
			t.Errorf("%s reported outcome_unknown", p.name)
		}
	}
}
