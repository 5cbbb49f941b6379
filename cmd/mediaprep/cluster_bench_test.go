package main

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/queue/queuetest"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

// BenchmarkServeJobsPerMinuteCluster: the 20 mixed files of BenchmarkBatch
// through `mediaprep serve --workers 2`, uploaded biggest first, from the
// first upload until the last job is posted: on a 3-node NATS cluster (in
// the benchmark process, on this machine; the queue gets 3 copies) against
// the embedded single server, alternately in the same run. Target: cluster
// ≥ 0.9 × embedded.
func BenchmarkServeJobsPerMinuteCluster(b *testing.B) {
	skipWithoutFFmpeg(b)
	bin := buildBinary(b)
	dir := batchInputs(b)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 20 {
		b.Fatalf("%d inputs, want 20", len(files))
	}
	size := func(f string) int64 {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		return st.Size()
	}
	slices.SortStableFunc(files, func(x, y string) int { return cmp.Compare(size(y), size(x)) })
	srv := s3test.Start(b)
	green := greenapitest.NewServer(b, testInstance, testToken)
	env := append(srv.Env(), "MEDIAPREP_GREENAPI_URL="+green.URL(),
		"MEDIAPREP_GREENAPI_INSTANCE="+testInstance, "MEDIAPREP_GREENAPI_TOKEN="+testToken)
	cl := queuetest.StartCluster(b, nil)
	hc := &http.Client{Timeout: time.Minute}
	defer hc.CloseIdleConnections()

	// one runs the files through a fresh serve and returns its wall and
	// CPU time.
	one := func(prefix string, extra ...string) (time.Duration, time.Duration, time.Duration) {
		self := selfCPU()
		p, base := startServe(b, bin, append(benchEnv(b.TempDir(), env...), append(extra, "MEDIAPREP_S3_PREFIX="+prefix)...), "--workers", "2")
		posted := len(green.Posted())
		start := time.Now()
		ids := make([]string, len(files))
		for i, f := range files {
			code, body, err := postFile(hc, base, f, nil)
			if err != nil || code != http.StatusAccepted {
				b.Fatalf("upload %s: %d %v %v", f, code, body, err)
			}
			ids[i] = body["id"].(string)
		}
		last, states, err := waitAllFinal(hc, base, ids, 10*time.Minute)
		if err != nil {
			b.Fatalf("%v\n%s", err, lastLines(p.out.String(), 40))
		}
		stopServe(b, p)
		for i, s := range states {
			if s != "posted" {
				b.Fatalf("%s: %s\n%s", files[i], s, lastLines(p.out.String(), 40))
			}
		}
		if n := len(green.Posted()) - posted; n != len(files) {
			b.Fatalf("%d statuses posted, want %d", n, len(files))
		}
		return last.Sub(start), cpuOf(p.cmd), selfCPU() - self
	}

	var embWall, cluWall, embCPU, cluCPU, embSelf, cluSelf time.Duration
	run := 0
	for b.Loop() {
		run++
		w, c, s := one(fmt.Sprintf("emb-%d", run))
		embWall, embCPU, embSelf = embWall+w, embCPU+c, embSelf+s
		w, c, s = one(fmt.Sprintf("clu-%d", run), "MEDIAPREP_NATS_URL="+cl.URLs())
		cluWall, cluCPU, cluSelf = cluWall+w, cluCPU+c, cluSelf+s
	}
	if errs := green.Errors(); len(errs) > 0 {
		b.Fatalf("Green API stand-in refused requests: %v", errs)
	}
	n := float64(b.N)
	perMin := func(wall time.Duration) float64 { return float64(len(files)) * 60 / (wall.Seconds() / n) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(perMin(embWall), "embedded-jobs/min")
	b.ReportMetric(perMin(cluWall), "cluster-jobs/min")
	b.ReportMetric(embWall.Seconds()/cluWall.Seconds(), "ratio")
	b.ReportMetric(embCPU.Seconds()/n, "embedded-cpu-s")
	b.ReportMetric(cluCPU.Seconds()/n, "cluster-cpu-s")
	// The benchmark process hosts the 3 nodes: its own CPU time during
	// the cluster runs, less that during the embedded ones (uploads,
	// polling), is the cluster's.
	b.ReportMetric((cluSelf-embSelf).Seconds()/n, "nats-nodes-cpu-s")
}

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
