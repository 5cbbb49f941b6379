package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/queue/queuetest"
)

// BenchmarkServeJobsPerMinuteCluster: the 20 mixed files of BenchmarkBatch
// through `mediaprep serve --workers 2`, uploaded biggest first, from the
// first upload until the last job is posted: on a 3-node NATS cluster (in
// the benchmark process, on this machine; the queue gets 3 copies) against
// the embedded single server, alternately in the same run. Target: cluster
// ≥ 0.9 × embedded.
func BenchmarkServeJobsPerMinuteCluster(b *testing.B) {
	j := newJobsBench(b)
	cl := queuetest.StartCluster(b, nil)

	// one runs the files through a fresh serve and returns its wall and
	// CPU time.
	one := func(prefix string, extra ...string) (time.Duration, time.Duration, time.Duration) {
		self := selfCPU()
		p, base := startServe(b, j.bin, append(benchEnv(b.TempDir(), j.env...), append(extra, "MEDIAPREP_S3_PREFIX="+prefix)...), "--workers", "2")
		posted := len(j.green.Posted())
		_, wall := j.postAll(b, p, base)
		if n := len(j.green.Posted()) - posted; n != len(j.files) {
			b.Fatalf("%d statuses posted, want %d", n, len(j.files))
		}
		return wall, cpuOf(p.cmd), selfCPU() - self
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
	j.checkGreen(b)
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(j.perMinute(embWall, b.N), "embedded-jobs/min")
	b.ReportMetric(j.perMinute(cluWall, b.N), "cluster-jobs/min")
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
