package transcode

// The picture hot path against vipsthumbnail (libvips), the reference the
// issue sets: a camera-sized JPEG to a 1080×1920 center crop. Run with
//
//	go test -run '^$' -bench Image12MP -benchtime 10x ./transcode
//
// Sub-benchmarks per input: "mediaprep" is Prepare in this process (ns/op);
// "mediaprep-process" runs Prepare in a fresh process (this test binary
// re-executed) and "vipsthumbnail" the reference command, both reporting
// wall time (ms/op) and peak RSS (peak-MB). The whole mediaprep binary is measured the same
// way by BenchmarkImageProcess in cmd/mediaprep. Nothing asserts a time.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// photo12MP returns the generated 4032×3024 noisy photo-like JPEG (4:2:0,
// about 3 MB), a 3024×4032 one, or the first stored sideways with EXIF
// orientation 6, generating it into testdata/gen (git-ignored) once.
func photo12MP(b *testing.B, name string) string {
	b.Helper()
	gen := func(size string) string {
		return genInput(b, "photo-"+size+".jpg",
			"-f", "lavfi", "-i", "mandelbrot=s="+size+",noise=alls=25:allf=u", "-frames:v", "1", "-pix_fmt", "yuvj420p", "-q:v", "2")
	}
	switch name {
	case "landscape":
		return gen("4032x3024")
	case "portrait":
		return gen("3024x4032")
	}
	path := filepath.Join("..", "testdata", "gen", "photo-4032x3024-exif6.jpg")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	data, err := os.ReadFile(gen("4032x3024"))
	if err != nil {
		b.Fatal(err)
	}
	// APP1 Exif, big-endian, IFD0 with Orientation = 6, after SOI.
	seg := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	app1 := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(len(seg)+2))
	out := bytes.Join([][]byte{data[:2], app1, seg, data[2:]}, nil)
	if err := os.WriteFile(path+".tmp", out, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}

// helperEnv selects what TestHelperProcess does when this test binary is
// re-executed by BenchmarkImage12MP.
const helperEnv = "MEDIAPREP_IMAGE_HELPER"

// TestHelperProcess is not a test. With helperEnv=prepare:SRC:DST it runs
// one Prepare; with helperEnv=measure:ARGS (ARGS a JSON list) it runs that
// command and prints its wall time and peak RSS. Measuring from this small
// process, not from the benchmark, matters: a child started by vfork and
// exec inherits its parent's peak RSS into its own (Linux keeps the
// pre-exec high-water mark), so the benchmark's own memory would show up.
func TestHelperProcess(t *testing.T) {
	mode, arg, _ := strings.Cut(os.Getenv(helperEnv), ":")
	switch mode {
	case "prepare":
		src, dst, _ := strings.Cut(arg, ":")
		if _, err := newTestTranscoder(t).Prepare(t.Context(), src, dst, Options{}); err != nil {
			t.Fatal(err)
		}
	case "measure":
		var args []string
		if err := json.Unmarshal([]byte(arg), &args); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, helperEnv+"=measure") })
		if strings.HasPrefix(args[len(args)-1], "prepare:") { // run this binary as a preparer
			cmd.Args, cmd.Env = args[:len(args)-1], append(cmd.Env, helperEnv+"="+args[len(args)-1])
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		wall := time.Since(start)
		fmt.Printf("measured %d %d\n", wall.Nanoseconds(), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
	default:
		t.Skip("only run by BenchmarkImage12MP")
	}
}

// benchProcess runs args b.N times (through TestHelperProcess in measure
// mode) and reports the mean wall time and the peak RSS.
func benchProcess(b *testing.B, self string, args ...string) time.Duration {
	list, err := json.Marshal(args)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var peak int64
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(self, "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v=false")
		cmd.Env = append(os.Environ(), helperEnv+"=measure:"+string(list))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		var wall, rss int64
		i := bytes.Index(out, []byte("measured "))
		if i < 0 {
			b.Fatalf("no measurement in %s", out)
		}
		if _, err := fmt.Sscanf(string(out[i:]), "measured %d %d", &wall, &rss); err != nil {
			b.Fatal(err)
		}
		total += time.Duration(wall)
		peak = max(peak, rss)
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(total/time.Duration(b.N)), "ms/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
	return total / time.Duration(b.N)
}

func BenchmarkImage12MP(b *testing.B) {
	vips, vipsErr := exec.LookPath("vipsthumbnail")
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	tr := newTestTranscoder(b)
	for _, input := range []string{"landscape", "portrait", "exif6"} {
		src := photo12MP(b, input)
		b.Run(input, func(b *testing.B) {
			out := b.TempDir()
			var process time.Duration
			b.Run("mediaprep", func(b *testing.B) {
				dst := filepath.Join(out, "in-process.jpg")
				for b.Loop() {
					res, err := tr.Prepare(b.Context(), src, dst, Options{})
					if err != nil {
						b.Fatal(err)
					}
					if res.Width != 1080 || res.Height != 1920 {
						b.Fatalf("output %d×%d, want 1080×1920", res.Width, res.Height)
					}
				}
			})
			b.Run("mediaprep-process", func(b *testing.B) {
				process = benchProcess(b, self, self, "-test.run=^TestHelperProcess$", "-test.count=1",
					"prepare:"+src+":"+filepath.Join(out, "process.jpg"))
			})
			b.Run("vipsthumbnail", func(b *testing.B) {
				if vipsErr != nil {
					b.Skip("vipsthumbnail not installed (Debian libvips-tools)")
				}
				ref := benchProcess(b, self, vips, src, "-s", "1080x1920", "-c", "-o", filepath.Join(out, "vips.jpg[Q=85]"))
				if process > 0 {
					b.ReportMetric(float64(process)/float64(ref), "ratio")
				}
			})
		})
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }
