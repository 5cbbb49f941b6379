package transcode

// Benchmarks of the video paths against their references, alternated in
// one run so both see the same machine. Run with `make bench`; figures go
// into README's Performance section. Nothing here asserts a time.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// genInput makes a large input under testdata/gen (git-ignored) once.
func genInput(b *testing.B, name string, args ...string) string {
	b.Helper()
	testutil.NeedFFmpeg(b)
	path := filepath.Join("..", "testdata", "gen", name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := path + ".tmp" + filepath.Ext(path)
	full := append([]string{"-nostdin", "-loglevel", "error", "-y"}, append(args, tmp)...)
	if out, err := exec.Command("ffmpeg", full...).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg %v: %v\n%s", full, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// timePrepare runs one Prepare and returns its wall time.
func timePrepare(b *testing.B, tr *Transcoder, src string, opts Options, wantFast bool) time.Duration {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "out.mp4")
	start := time.Now()
	res, err := tr.Prepare(b.Context(), src, dst, opts)
	d := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if res.FastPath != wantFast {
		b.Fatalf("FastPath = %v, want %v", res.FastPath, wantFast)
	}
	return d
}

func reportPair(b *testing.B, nameA string, a time.Duration, nameB string, bb time.Duration) {
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(a.Seconds()*1e3/n, nameA+"-ms/op")
	b.ReportMetric(bb.Seconds()*1e3/n, nameB+"-ms/op")
	b.ReportMetric(a.Seconds()/bb.Seconds(), "ratio")
}

// BenchmarkFastPath: a compliant 30 s 720p H.264/AAC MP4, prepared by
// stream copy against a forced transcode of the same file. Target: the
// transcode takes ≥ 50× the fast path (ratio fast/transcode ≤ 0.02).
func BenchmarkFastPath(b *testing.B) {
	src := genInput(b, "compliant-720p-30s.mp4",
		"-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=30", "-f", "lavfi", "-i", "sine=d=30",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-b:v", "2M",
		"-c:a", "aac", "-shortest", "-movflags", "+faststart")
	tr := newTestTranscoder(b)
	var fast, full time.Duration
	for b.Loop() {
		fast += timePrepare(b, tr, src, Options{}, true)
		full += timePrepare(b, tr, src, Options{ForceTranscode: true}, false)
	}
	reportPair(b, "fastpath", fast, "transcode", full)
}

// BenchmarkTrim: a 10-minute input against its own first 60 s as input,
// both transcoded. Target: ratio ≤ 1.2 (the trim stops reading at 60 s).
func BenchmarkTrim(b *testing.B) {
	long := genInput(b, "long-360p-10min.mp4",
		"-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=600", "-f", "lavfi", "-i", "sine=d=600",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
	cut := genInput(b, "long-360p-first60s.mp4", "-i", long, "-t", "60", "-c", "copy")
	tr := newTestTranscoder(b)
	var l, c time.Duration
	for b.Loop() {
		l += timePrepare(b, tr, long, Options{ForceTranscode: true}, false)
		c += timePrepare(b, tr, cut, Options{ForceTranscode: true}, false)
	}
	reportPair(b, "10min", l, "60s", c)
}
