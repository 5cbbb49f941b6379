package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

// batchInputs makes (once; testdata/gen is kept) the 20 mixed files of
// BenchmarkBatch: 12 MP photos, PNG screenshots, videos that must be
// re-encoded and long audio to cut.
func batchInputs(b *testing.B) string {
	dir := filepath.Join(genDir, "batch20")
	for i := range 5 {
		generate(b, filepath.Join(dir, fmt.Sprintf("photo-%d.jpg", i)),
			"-f", "lavfi", "-i", fmt.Sprintf("mandelbrot=s=4032x3024:start_scale=%d,noise=alls=20:allf=u", 2+i), "-frames:v", "1", "-pix_fmt", "yuvj420p", "-q:v", "2")
	}
	for i := range 3 {
		generate(b, filepath.Join(dir, fmt.Sprintf("screen-%d.png", i)),
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=1170x2532:r=1:d=1,hue=h=%d", 40*i), "-frames:v", "1")
	}
	for i := range 8 {
		// MPEG-4 Part 2 in QuickTime: H.264 is needed, so every one is
		// re-encoded (no stream-copy fast path).
		generate(b, filepath.Join(dir, fmt.Sprintf("clip-%d.mov", i)),
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=1280x720:r=30:d=%d", 8+2*i), "-f", "lavfi", "-i", fmt.Sprintf("sine=f=%d:d=%d", 300+50*i, 8+2*i),
			"-c:v", "mpeg4", "-q:v", "4", "-c:a", "pcm_s16le", "-shortest")
	}
	for i := range 4 {
		generate(b, filepath.Join(dir, fmt.Sprintf("voice-%d.wav", i)),
			"-f", "lavfi", "-i", fmt.Sprintf("sine=f=%d:d=90", 220+110*i), "-ac", "2", "-ar", "48000")
	}
	return dir
}

// cpuOf returns the user+system CPU time of a finished command, its own
// and that of the children it waited for (ffmpeg).
func cpuOf(cmd *exec.Cmd) time.Duration {
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBatch: `mediaprep batch -j 2` over 20 mixed files, posting to the
// Green API stand-in through a real versitygw, against the sum of the CPU
// time each file takes when prepared alone. Targets on 2 cores: CPU busy
// (batch CPU / (2 × wall)) ≥ 0.85, and wall ≤ 1.15 × (sum of per-file
// work) / 2.
func BenchmarkBatch(b *testing.B) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skip("ffmpeg not installed")
	}
	bin := buildBinary(b)
	dir := batchInputs(b)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 20 {
		b.Fatalf("%d inputs, want 20", len(files))
	}
	srv := s3test.Start(b)
	green := greenapitest.NewServer(b, testInstance, testToken)
	env := append(os.Environ(), srv.Env()...)
	env = append(env, "MEDIAPREP_GREENAPI_URL="+green.URL(), "MEDIAPREP_GREENAPI_INSTANCE="+testInstance, "MEDIAPREP_GREENAPI_TOKEN="+testToken)

	// The reference: each file prepared alone.
	var work time.Duration
	for _, f := range files {
		cmd := exec.Command(bin, "prepare", "--out", b.TempDir(), f)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("prepare %s: %v\n%s", f, err, out)
		}
		work += cpuOf(cmd)
	}
	const cores = 2
	var wall, cpu time.Duration
	run := 0
	for b.Loop() {
		run++
		cmd := exec.Command(bin, "batch", "-j", "2", "--out", b.TempDir(), dir)
		// A fresh prefix each time, so that nothing is found already stored.
		cmd.Env = append(slices.Clone(env), fmt.Sprintf("MEDIAPREP_S3_PREFIX=bench-%d", run))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("batch: %v\n%s", err, out.String())
		}
		wall += time.Since(start)
		cpu += cpuOf(cmd)
		if !strings.Contains(out.String(), "20 posted") {
			b.Fatalf("batch did not post 20 files:\n%s", out.String())
		}
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(wall.Seconds()/n, "batch-wall-s")
	b.ReportMetric(cpu.Seconds()/n, "batch-cpu-s")
	b.ReportMetric(work.Seconds(), "per-file-work-s")
	b.ReportMetric(cpu.Seconds()/(cores*wall.Seconds()), "cpu-busy")
	b.ReportMetric((wall.Seconds()/n)/(work.Seconds()/cores), "wall-vs-work/2")
}
