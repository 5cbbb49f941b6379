package greenapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/greenapi/greenapitest"
)

// benchChildEnv makes the test binary a child process that only uploads:
// "mediaURL|file|n" uploads file n times and exits, so that its wall time
// and peak RSS are the client's alone (the stand-in stays in the parent).
const benchChildEnv = "GREENAPI_BENCH_UPLOAD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchChildEnv); spec != "" {
		os.Exit(uploadChild(spec))
	}
	os.Exit(m.Run())
}

func uploadChild(spec string) int {
	var media, file string
	var n int
	if _, err := fmt.Sscanf(spec, "%s %s %d", &media, &file, &n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := greenapi.New(greenapi.Config{APIURL: media, MediaURL: media, IDInstance: testID, Token: testToken})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for range n {
		up, err := greenapi.UploadPath(file, "video/mp4", "clip.mp4")
		if err == nil {
			_, err = c.UploadFile(context.Background(), up)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println(hwm(os.Getpid()))
	return 0
}

// hwm returns the peak RSS of process pid in bytes (VmHWM: of its own
// memory since exec, unlike rusage's maxrss, which counts the forking
// parent's too), or 0.
func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkUploadFile16MiB uploads a 16 MiB file to the stand-in on
// loopback, 8 times per process, from a child process running the client
// and from curl --data-binary, and reports each one's throughput and peak
// RSS, and the client's throughput as a fraction of curl's.
func BenchmarkUploadFile16MiB(b *testing.B) {
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("no curl")
	}
	srv := greenapitest.NewServer(b, testID, testToken)
	file := filepath.Join(b.TempDir(), "clip.mp4")
	const size, per = 16 << 20, 8
	if err := os.WriteFile(file, make([]byte, size), 0o600); err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	endpoint := srv.MediaURL() + "/waInstance" + testID + "/uploadFile/" + testToken
	// measure runs cmd and returns its wall time and peak RSS: the one it
	// prints (the client child), else VmHWM read every 2 ms while it runs.
	measure := func(cmd *exec.Cmd) (time.Duration, int64) {
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- cmd.Wait() }()
		var peak int64
		for {
			select {
			case err := <-done:
				d := time.Since(start)
				if err != nil {
					b.Fatalf("%v: %s", err, out.String())
				}
				if n, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64); err == nil {
					peak = n
				}
				return d, peak
			case <-time.After(2 * time.Millisecond):
				peak = max(peak, hwm(cmd.Process.Pid))
			}
		}
	}
	var goTime, curlTime time.Duration
	var goRSS, curlRSS int64
	for b.Loop() {
		child := exec.Command(self, "-test.run=^$")
		child.Env = append(os.Environ(), benchChildEnv+"="+srv.MediaURL()+" "+file+" "+strconv.Itoa(per))
		d, rss := measure(child)
		goTime, goRSS = goTime+d, max(goRSS, rss)

		args := []string{"-sS", "-o", "/dev/null", "-H", "Content-Type: video/mp4", "-H", "GA-Filename: clip.mp4", "--data-binary", "@" + file}
		for range per {
			args = append(args, endpoint)
		}
		d, rss = measure(exec.Command("curl", args...))
		curlTime, curlRSS = curlTime+d, max(curlRSS, rss)
	}
	bytes := float64(size) * per * float64(b.N)
	b.ReportMetric(bytes/goTime.Seconds()/(1<<20), "client-MiB/s")
	b.ReportMetric(bytes/curlTime.Seconds()/(1<<20), "curl-MiB/s")
	b.ReportMetric(curlTime.Seconds()/goTime.Seconds(), "ratio")
	b.ReportMetric(float64(goRSS)/(1<<20), "client-peak-RSS-MB")
	b.ReportMetric(float64(curlRSS)/(1<<20), "curl-peak-RSS-MB")
	if n := len(srv.Uploads()); n != 2*per*b.N {
		b.Fatalf("%d uploads, want %d", n, 2*per*b.N)
	}
}
