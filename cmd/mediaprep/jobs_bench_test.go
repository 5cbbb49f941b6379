package main

import (
	"bytes"
	"cmp"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

// jobsBench is what BenchmarkBatch and the jobs-per-minute benchmarks
// share: the built binary, the 20 mixed files of batchInputs biggest first
// (the order batch runs them in: a queue runs jobs in the order they come,
// so both get the same schedule), a versitygw and a Green API stand-in
// with the environment that points a process at them, and an HTTP client.
type jobsBench struct {
	bin   string
	dir   string   // the inputs
	files []string // the inputs, biggest first
	green *greenapitest.Server
	env   []string
	hc    *http.Client
}

// newJobsBench skips b without ffmpeg and sets up a jobsBench; its servers
// and client are closed at cleanup.
func newJobsBench(b *testing.B) *jobsBench {
	b.Helper()
	skipWithoutFFmpeg(b)
	j := &jobsBench{bin: buildBinary(b), dir: batchInputs(b)}
	j.files, _ = filepath.Glob(filepath.Join(j.dir, "*"))
	if len(j.files) != 20 {
		b.Fatalf("%d inputs, want 20", len(j.files))
	}
	size := func(f string) int64 {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		return st.Size()
	}
	slices.SortStableFunc(j.files, func(x, y string) int { return cmp.Compare(size(y), size(x)) })
	srv := s3test.Start(b)
	j.green = greenapitest.NewServer(b, testInstance, testToken)
	j.env = append(srv.Env(), "MEDIAPREP_GREENAPI_URL="+j.green.URL(),
		"MEDIAPREP_GREENAPI_INSTANCE="+testInstance, "MEDIAPREP_GREENAPI_TOKEN="+testToken)
	j.hc = &http.Client{Timeout: time.Minute}
	b.Cleanup(j.hc.CloseIdleConnections)
	return j
}

// runBatch runs `mediaprep batch -j 2` on the inputs with env and fails b
// unless it posts all 20; it returns its wall and CPU time.
func (j *jobsBench) runBatch(b *testing.B, env []string) (wall, cpu time.Duration) {
	b.Helper()
	cmd := exec.Command(j.bin, "batch", "-j", "2", "--out", b.TempDir(), j.dir)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("batch: %v\n%s", err, out.String())
	}
	wall = time.Since(start)
	if !strings.Contains(out.String(), "20 posted") {
		b.Fatalf("batch did not post 20 files:\n%s", out.String())
	}
	return wall, cpuOf(cmd)
}

// postAll uploads the files one after another to the serve p at base, waits
// until every job is final, stops p and fails b unless every job was
// posted. It returns how long the uploads took and how long from the first
// upload until the last job was final.
func (j *jobsBench) postAll(b *testing.B, p *proc, base string) (upload, wall time.Duration) {
	b.Helper()
	start := time.Now()
	ids := make([]string, len(j.files))
	for i, f := range j.files {
		code, body, err := postFile(j.hc, base, f, nil)
		if err != nil || code != http.StatusAccepted {
			b.Fatalf("upload %s: %d %v %v", f, code, body, err)
		}
		ids[i] = body["id"].(string)
	}
	upload = time.Since(start)
	last, states, err := waitAllFinal(j.hc, base, ids, 10*time.Minute)
	if err != nil {
		b.Fatalf("%v\n%s", err, lastLines(p.out.String(), 40))
	}
	stopServe(b, p)
	for i, s := range states {
		if s != "posted" {
			b.Fatalf("%s: %s\n%s", j.files[i], s, lastLines(p.out.String(), 40))
		}
	}
	return upload, last.Sub(start)
}

// perMinute is the jobs per minute of n runs of the files that took wall
// in all.
func (j *jobsBench) perMinute(wall time.Duration, n int) float64 {
	return float64(len(j.files)) * 60 / (wall.Seconds() / float64(n))
}

// checkGreen fails b if the Green API stand-in refused any request.
func (j *jobsBench) checkGreen(b *testing.B) {
	b.Helper()
	if errs := j.green.Errors(); len(errs) > 0 {
		b.Fatalf("Green API stand-in refused requests: %v", errs)
	}
}
