package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
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
	j := newJobsBench(b)
	env := append(os.Environ(), j.env...)

	// The reference: each file prepared alone.
	var work time.Duration
	for _, f := range j.files {
		cmd := exec.Command(j.bin, "prepare", "--out", b.TempDir(), f)
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
		// A fresh prefix each time, so that nothing is found already stored.
		w, c := j.runBatch(b, append(slices.Clone(env), fmt.Sprintf("MEDIAPREP_S3_PREFIX=bench-%d", run)))
		wall, cpu = wall+w, cpu+c
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(wall.Seconds()/n, "batch-wall-s")
	b.ReportMetric(cpu.Seconds()/n, "batch-cpu-s")
	b.ReportMetric(work.Seconds(), "per-file-work-s")
	b.ReportMetric(cpu.Seconds()/(cores*wall.Seconds()), "cpu-busy")
	b.ReportMetric((wall.Seconds()/n)/(work.Seconds()/cores), "wall-vs-work/2")
}
