package main

// Benchmarks of `mediaprep serve` as a real process: memory while it takes
// large uploads, the latency of an upload until it is queued, and jobs per
// minute against `mediaprep batch` doing the same work. Figures go into
// README's Performance section; nothing here asserts a time.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// skipWithoutFFmpeg skips b unless ffmpeg and ffprobe are installed.
func skipWithoutFFmpeg(b *testing.B) {
	b.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			b.Skipf("%s not installed", p)
		}
	}
}

// benchEnv is the environment of a serve process of the benchmarks: a data
// dir of its own and nothing else configured unless extra says so.
func benchEnv(data string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"MEDIAPREP_DATA_DIR=" + data, "AWS_EC2_METADATA_DISABLED=true",
	}, extra...)
}

// startServe runs `mediaprep serve` on a free loopback port and returns it
// with its base URL once /healthz answers. It is stopped at cleanup if the
// benchmark has not stopped it already.
func startServe(tb testing.TB, bin string, env []string, args ...string) (*proc, string) {
	tb.Helper()
	cmd := exec.Command(bin, append([]string{"--log-json", "serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	p := &proc{name: "serve", cmd: cmd, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() { stopServe(tb, p) })

	deadline := time.Now().Add(60 * time.Second)
	var addr string
	for addr == "" {
		select {
		case <-p.done:
			tb.Fatalf("serve exited: %v\n%s", p.err, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve did not listen within 60 s:\n%s", p.out.String())
		}
		addr = logField(p.out.String(), "serving", "addr")
	}
	base := "http://" + addr
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, base
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve /healthz did not answer: %v\n%s", err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopServe sends SIGTERM and waits, SIGKILL after 30 s; it fails tb if
// the process printed a panic.
func stopServe(tb testing.TB, p *proc) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			tb.Errorf("serve did not stop within 30 s of SIGTERM")
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if out := p.out.String(); strings.Contains(out, "panic:") || strings.Contains(out, "DATA RACE") {
		tb.Errorf("serve:\n%s", lastLines(out, 60))
	}
}

// procStatusKB reads a "VmXXX: n kB" line of /proc/pid/status.
func procStatusKB(tb testing.TB, pid int, field string) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatalf("/proc/%d/status %s: %v", pid, field, err)
			}
			return n
		}
	}
	tb.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// postFile uploads file to base/v1/statuses as a streamed multipart body
// and returns the status code and the decoded answer. Safe to call from
// several goroutines.
func postFile(hc *http.Client, base, file string, fields map[string]string) (int, map[string]any, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for k, v := range fields {
				if err := mw.WriteField(k, v); err != nil {
					return err
				}
			}
			fw, err := mw.CreateFormFile("file", filepath.Base(file))
			if err != nil {
				return err
			}
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(fw, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/statuses", pr)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return doJSON(hc, req)
}

// doJSON runs req and decodes the JSON answer, if any.
func doJSON(hc *http.Client, req *http.Request) (int, map[string]any, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, nil
}

// paddedMP4 makes (once; testdata/gen is kept) a file of size bytes: the
// sample MP4, so that it passes the upload's sniff, followed by random
// bytes.
func paddedMP4(b *testing.B, size int64) string {
	b.Helper()
	path := filepath.Join(genDir, fmt.Sprintf("upload-%dMB.mp4", size>>20))
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		return path
	}
	head, err := os.ReadFile(sample("sample.mp4"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(genDir, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 1<<20)
	_, _ = w.Write(head)
	_, err = io.CopyN(w, rand.NewChaCha8([32]byte{'m', 'e', 'd', 'i', 'a'}), size-int64(len(head)))
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkServeUploadMemory: 20 uploads of 50 MB at once into serve with
// local defaults and no workers, all answered 202. The reference is the
// same process idle, just started. Target: serve peak RSS (VmHWM) ≤ 150 MB.
func BenchmarkServeUploadMemory(b *testing.B) {
	skipWithoutFFmpeg(b)
	const uploads, size = 20, 50 << 20
	bin := buildBinary(b)
	src := paddedMP4(b, size)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: uploads}}
	defer hc.CloseIdleConnections()
	var idle, peak int64 // kB
	var wall time.Duration
	for b.Loop() {
		data := b.TempDir()
		p, base := startServe(b, bin, benchEnv(data, "MEDIAPREP_MAX_UPLOAD=100MB", "MEDIAPREP_MAX_UPLOADS=32"), "--workers", "0")
		idle = max(idle, procStatusKB(b, p.cmd.Process.Pid, "VmRSS"))
		codes := make([]int, uploads)
		errs := make([]error, uploads)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range uploads {
			wg.Go(func() {
				codes[i], _, errs[i] = postFile(hc, base, src, map[string]string{"caption": fmt.Sprint("upload ", i)})
			})
		}
		wg.Wait()
		wall += time.Since(start)
		peak = max(peak, procStatusKB(b, p.cmd.Process.Pid, "VmHWM"))
		stopServe(b, p)
		for i := range uploads {
			if errs[i] != nil || codes[i] != http.StatusAccepted {
				b.Fatalf("upload %d: %d %v\n%s", i, codes[i], errs[i], lastLines(p.out.String(), 20))
			}
		}
		os.RemoveAll(data) // 2 GB: the spool and the stored copies
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(peak)/1024, "serve-peak-MB")
	b.ReportMetric(float64(idle)/1024, "serve-idle-MB")
	b.ReportMetric(float64(peak-idle)/1024/uploads, "MB/upload")
	b.ReportMetric(float64(uploads*size)/(1<<20)/(wall.Seconds()/float64(b.N)), "upload-MB/s")
}

// BenchmarkServeEnqueueLatency: an open-loop client sends a small JPEG at
// 50 uploads a second for 10 s to serve with no workers; a request's
// latency runs from the moment it was due to be sent (so that a stall
// counts for every request it delays) to its answer. Target: every answer
// 202.
func BenchmarkServeEnqueueLatency(b *testing.B) {
	skipWithoutFFmpeg(b)
	const rate, requests = 50, 500
	bin := buildBinary(b)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("caption", "latency")
	fw, _ := mw.CreateFormFile("file", "sample.jpg")
	jpg, err := os.ReadFile(sample("sample.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = fw.Write(jpg)
	_ = mw.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	defer hc.CloseIdleConnections()

	var lat []time.Duration
	failures := map[string]int{}
	var wall time.Duration
	for b.Loop() {
		p, base := startServe(b, bin, benchEnv(b.TempDir()), "--workers", "0")
		got := make([]time.Duration, requests)
		codes := make([]int, requests)
		errs := make([]error, requests)
		var wg sync.WaitGroup
		interval := time.Second / rate
		start := time.Now().Add(interval)
		for i := range requests {
			due := start.Add(time.Duration(i) * interval)
			time.Sleep(time.Until(due))
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, base+"/v1/statuses", bytes.NewReader(body.Bytes()))
				req.Header.Set("Content-Type", mw.FormDataContentType())
				codes[i], _, errs[i] = doJSON(hc, req)
				got[i] = time.Since(due)
			})
		}
		wg.Wait()
		wall += time.Since(start)
		stopServe(b, p)
		lat = append(lat, got...)
		for i := range requests {
			switch {
			case errs[i] != nil:
				failures[errs[i].Error()]++
			case codes[i] != http.StatusAccepted:
				failures[strconv.Itoa(codes[i])]++
			}
		}
	}
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	n := 0
	for what, k := range failures {
		b.Logf("%d answers: %s", k, what)
		n += k
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(n), "non-202")
	b.ReportMetric(float64(len(lat))/wall.Seconds(), "req/s")
}

// BenchmarkServeJobsPerMinute: the 20 mixed files of BenchmarkBatch through
// `mediaprep serve --workers 2`, uploaded one after another over HTTP, from
// the first upload until the last job is posted; against `mediaprep batch
// -j 2` on the same files. Both store into the same versitygw and post to
// the Green API stand-in, each run under a fresh prefix so that nothing is
// found already stored. Target: serve jobs/min ≥ 0.95 × batch's.
func BenchmarkServeJobsPerMinute(b *testing.B) {
	j := newJobsBench(b)

	var batchWall, serveWall, uploadWall, batchCPU, serveCPU time.Duration
	run := 0
	for b.Loop() {
		run++
		posted := len(j.green.Posted())

		// The reference.
		w, c := j.runBatch(b, append(benchEnv(b.TempDir(), j.env...), fmt.Sprintf("MEDIAPREP_S3_PREFIX=batch-%d", run)))
		batchWall, batchCPU = batchWall+w, batchCPU+c

		// The service.
		p, base := startServe(b, j.bin, append(benchEnv(b.TempDir(), j.env...), fmt.Sprintf("MEDIAPREP_S3_PREFIX=serve-%d", run)), "--workers", "2")
		upload, wall := j.postAll(b, p, base)
		uploadWall += upload
		serveWall += wall
		serveCPU += cpuOf(p.cmd)
		if n := len(j.green.Posted()) - posted; n != 40 {
			b.Fatalf("%d statuses posted in run %d, want 20 by batch and 20 by serve", n, run)
		}
	}
	j.checkGreen(b)
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(j.perMinute(batchWall, b.N), "batch-jobs/min")
	b.ReportMetric(j.perMinute(serveWall, b.N), "serve-jobs/min")
	b.ReportMetric(batchWall.Seconds()/serveWall.Seconds(), "ratio")
	b.ReportMetric(uploadWall.Seconds()/n, "serve-upload-s")
	b.ReportMetric(batchCPU.Seconds()/n, "batch-cpu-s")
	b.ReportMetric(serveCPU.Seconds()/n, "serve-cpu-s")
}

// waitAllFinal polls the jobs until each is posted or failed, and returns
// when the last one was seen final and the final states, in order.
func waitAllFinal(hc *http.Client, base string, ids []string, limit time.Duration) (time.Time, []string, error) {
	states := make([]string, len(ids))
	var last time.Time
	deadline := time.Now().Add(limit)
	for left := len(ids); left > 0; {
		if time.Now().After(deadline) {
			return last, states, fmt.Errorf("%d of %d jobs not final after %s: %v", left, len(ids), limit, states)
		}
		time.Sleep(100 * time.Millisecond)
		for i, id := range ids {
			if states[i] == "posted" || states[i] == "failed" {
				continue
			}
			req, _ := http.NewRequest(http.MethodGet, base+"/v1/statuses/"+id, nil)
			code, j, err := doJSON(hc, req)
			if err != nil || code != http.StatusOK {
				return last, states, fmt.Errorf("GET job %s: %d %w", id, code, err)
			}
			states[i], _ = j["state"].(string)
			if states[i] == "posted" || states[i] == "failed" {
				last = time.Now()
				left--
			}
		}
	}
	return last, states, nil
}
