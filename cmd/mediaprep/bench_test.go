package main

// Whole-process benchmarks: the mediaprep binary against the reference
// command doing the same work, alternated in one run so that both see the
// same machine. Run with `make bench`; figures go into README's Performance
// section. Nothing here asserts a time.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// genDir holds large generated inputs, kept between runs (git-ignored).
var genDir = filepath.Join("..", "..", "testdata", "gen")

// buildBinary builds mediaprep into a temporary folder, for tests and
// benchmarks that run it as a real process.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "mediaprep")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// generate makes path with ffmpeg args unless it exists already.
func generate(b testing.TB, path string, args ...string) string {
	b.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := path + ".tmp" + filepath.Ext(path)
	args = append([]string{"-nostdin", "-loglevel", "error", "-y"}, append(args, tmp)...)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// measure runs cmd and returns its wall time and peak RSS in bytes.
func measure(b *testing.B, cmd *exec.Cmd) (time.Duration, int64) {
	b.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, out.String())
	}
	wall := time.Since(start)
	return wall, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// pair accumulates alternated measurements of mediaprep and a reference.
type pair struct {
	mine, ref       time.Duration
	mineRSS, refRSS int64
}

func (p *pair) report(b *testing.B, refName string) {
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(p.mine.Seconds()*1e3/n, "mediaprep-ms/op")
	b.ReportMetric(p.ref.Seconds()*1e3/n, refName+"-ms/op")
	b.ReportMetric(p.mine.Seconds()/p.ref.Seconds(), "ratio")
	b.ReportMetric(float64(p.mineRSS)/(1<<20), "mediaprep-peak-MB")
	b.ReportMetric(float64(p.refRSS)/(1<<20), refName+"-peak-MB")
}

// BenchmarkImageProcess: a 12 MP JPEG to a 1080×1920 center crop, the
// mediaprep process against vipsthumbnail (libvips) making the same crop.
// Target: ratio ≤ 1.0, mediaprep peak ≤ 100 MB.
func BenchmarkImageProcess(b *testing.B) {
	if _, err := exec.LookPath("vipsthumbnail"); err != nil {
		b.Skip("vipsthumbnail not installed (make bench installs libvips-tools)")
	}
	bin := buildBinary(b)
	for _, c := range []struct{ name, size string }{{"landscape", "4032x3024"}, {"portrait", "3024x4032"}} {
		src := generate(b, filepath.Join(genDir, "photo-"+c.size+".jpg"),
			"-f", "lavfi", "-i", "mandelbrot=s="+c.size+",noise=alls=25:allf=u", "-frames:v", "1", "-pix_fmt", "yuvj420p", "-q:v", "2")
		b.Run(c.name, func(b *testing.B) {
			out := b.TempDir()
			var p pair
			for b.Loop() {
				d, rss := measure(b, exec.Command(bin, "prepare", "--out", out, src))
				p.mine += d
				p.mineRSS = max(p.mineRSS, rss)
				d, rss = measure(b, exec.Command("vipsthumbnail", src, "-s", "1080x1920", "-c", "-o", filepath.Join(out, "vips.jpg[Q=85]")))
				p.ref += d
				p.refRSS = max(p.refRSS, rss)
			}
			p.report(b, "vips")
		})
	}
}

// BenchmarkOverheadProcess: `mediaprep prepare` on a transcode against the
// bare ffmpeg command it runs (read from its own debug log). Target: ratio
// ≤ 1.05.
func BenchmarkOverheadProcess(b *testing.B) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skip("ffmpeg not installed")
	}
	bin := buildBinary(b)
	src := generate(b, filepath.Join(genDir, "clip-720p-20s.mp4"),
		"-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=20", "-f", "lavfi", "-i", "sine=d=20",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
	out := b.TempDir()
	ffArgs := ffmpegArgsOf(b, bin, src, out)
	var p pair
	for b.Loop() {
		d, rss := measure(b, exec.Command(bin, "prepare", "--force-transcode", "--out", out, src))
		p.mine += d
		p.mineRSS = max(p.mineRSS, rss)
		d, rss = measure(b, exec.Command("ffmpeg", ffArgs...))
		p.ref += d
		p.refRSS = max(p.refRSS, rss)
	}
	p.report(b, "ffmpeg")
}

// ffmpegArgsOf runs mediaprep once with debug logging and returns the
// arguments of the ffmpeg run it logged, writing to a fresh path.
func ffmpegArgsOf(b *testing.B, bin, src, out string) []string {
	b.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-v", "--log-json", "prepare", "--force-transcode", "--out", out, src)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("mediaprep: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		var line struct {
			Msg     string   `json:"msg"`
			Program string   `json:"program"`
			Args    []string `json:"args"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "exec" || filepath.Base(line.Program) != "ffmpeg" {
			continue
		}
		args := slices.Clone(line.Args)
		// The last argument is the temporary output, gone by now.
		args[len(args)-1] = filepath.Join(b.TempDir(), "bare.mp4")
		return args
	}
	b.Fatalf("no ffmpeg command in the debug log:\n%s", stderr.String())
	return nil
}
